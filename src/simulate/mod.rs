//! Labelled scenario simulator (placeholder until the generator lands).
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub hours: f64,
    pub hosts: usize,
    pub attacks: Vec<String>,
    pub size: Option<u64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Truth {
    pub packets: u64,
    pub bytes: u64,
}

pub fn parse_attacks(s: &str) -> anyhow::Result<Vec<String>> {
    Ok(s.split(',').map(String::from).collect())
}

pub fn truth_path(p: &Path) -> PathBuf {
    p.with_extension("truth.json")
}

pub fn simulate_to_file(_cfg: &SimConfig, _out: &Path) -> anyhow::Result<Truth> {
    anyhow::bail!("not yet")
}
