//! wirehunt: an offline pcap forensic analyzer with an embedded columnar store.
//!
//! The pipeline runs one way: a capture file ([`capture`]) yields frames; [`decode`] turns them into
//! IP packets (link layers, fragments); [`flow`] keys them into bidirectional flows with Zeek's
//! conn_state/history and reassembles TCP streams; [`proto`] analyzers (DNS, HTTP, TLS) turn
//! streams and datagrams into transaction rows; [`table`] builds Arrow batches and writes a Parquet
//! dataset with a manifest. [`query`] registers the dataset in DataFusion with security UDFs;
//! [`detect`] runs the SQL detectors in `queries/`; [`report`] renders findings and query results
//! (terminal, JSON lines, CSV, Parquet, HTML). [`simulate`] writes labelled scenario captures.
#![forbid(unsafe_code)]

pub mod bytes;
pub mod capture;
pub mod decode;
pub mod detect;
pub mod extract;
pub mod flow;
pub mod ingest;
pub mod proto;
pub mod query;
pub mod record;
pub mod report;
pub mod simulate;
pub mod table;
