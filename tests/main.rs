//! wirehunt's integration tests: one binary (autotests = false) with a module per area.
mod common;

mod browser;
mod cli;
mod cluster;
mod corpus;
mod detection;
mod fuzz;
mod geo;
mod hostile;
mod ingest;
mod partition;
mod sql;
mod suricata;
mod tshark;
