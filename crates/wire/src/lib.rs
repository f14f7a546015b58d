//! wirehunt's wire layers: everything between a capture file and a row.
//!
//! The pipeline runs one way: [`capture`] reads pcap/pcapng (compressed or not) into frames;
//! [`decode`] turns frames into IP packets (link layers, VLANs, tunnels, fragment reassembly);
//! [`flow`] keys packets into bidirectional connections with Zeek's conn_state and history and
//! reassembles TCP streams; [`proto`] analyzers (DNS, HTTP with its bodies, TLS, and the UDP services
//! recognised by parsing) turn streams and datagrams into transactions. What they find leaves as
//! [`record`]s through a [`record::RecordSink`]: this crate knows nothing of Arrow, Parquet or
//! DataFusion (the store implements the sink).
//!
//! Every byte here is attacker-controlled: the layers deny `unwrap`, `expect` and indexing outside
//! tests (clippy), read packet bytes through [`bytes`] (bounds-checked, `Option`-returning), and
//! keep per-direction state in [`proto::PerDir`] indexed by [`proto::Dir`].
// the crate denies unwrap_used, expect_used and indexing_slicing (Cargo.toml [lints.clippy]); tests
// may unwrap and index what they built themselves
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod bytes;
pub mod capture;
pub mod decode;
pub mod flow;
pub mod proto;
pub mod record;
