//! The binary: parse flags, run, and be the only error boundary (print the chain, map exit codes,
//! treat a closed pipe as success).
use clap::Parser;

mod cli;
mod commands;
mod shell;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli::run(cli) {
        Ok(c) => c,
        Err(e) => {
            if e.code != 0 {
                eprintln!(
                    "wirehunt: {}",
                    wirehunt_store::report::sanitize_terminal(&describe(&e.err))
                );
            }
            e.code
        }
    };
    std::process::exit(code);
}

/// The error and its causes, each said once: many error types repeat their cause in their own
/// message (`{path}: {source}`), so anyhow's `{:#}` printed the same words two or three times.
fn describe(err: &anyhow::Error) -> String {
    // DataFusion's word for an error of ours that crossed it adds nothing
    let mut msg = err
        .to_string()
        .trim_start_matches("External error: ")
        .to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

/// jemalloc instead of the system allocator: see the `tikv-jemallocator` entry in Cargo.toml and
/// benches/README.md for what it was measured against. The library crates do not choose an allocator.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
