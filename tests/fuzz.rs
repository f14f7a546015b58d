//! A deterministic mutation fuzzer on the stable toolchain (cargo-fuzz needs nightly): real corpus
//! captures and generated ones are mutated - bit flips, byte overwrites, truncations, splices of
//! two captures, length fields that lie, inserted and deleted runs - and driven through the capture
//! readers, decode (link layers, IP, fragments), the flow table with TCP reassembly and the DNS,
//! HTTP and TLS analyzers, plus the DNS message parser directly. Any panic is a failure; the input
//! that caused it is written under `target/fuzz-crashes/` with its seed, so it can be replayed.
//!
//! `cargo test` runs a few seconds of it; `scripts/fuzz.sh` runs it for hours
//! (`WIREHUNT_FUZZ_SECONDS`, `WIREHUNT_FUZZ_SEED`).
use crate::common::*;
use std::sync::Arc;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Seeds: every corpus capture up to 256 KiB (large ones cost time, not coverage), and a few
/// generated ones so the harness has inputs without the corpus.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Some(c) = corpus() {
        let mut stack = vec![c.clone()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.metadata().is_ok_and(|m| m.len() <= 256 * 1024)
                    && !p.extension().is_some_and(|x| x == "tsv" || x == "md")
                    && let Ok(b) = std::fs::read(&p)
                {
                    out.push((p.strip_prefix(&c).unwrap_or(&p).display().to_string(), b));
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let mut frames = Vec::new();
    for i in 0..40u32 {
        let payload = format!("GET /{i} HTTP/1.1\r\nHost: h\r\n\r\n");
        frames.push((
            i as i64 * 1000,
            tcp(
                A,
                40000,
                B,
                80,
                1 + i * 30,
                1,
                ACK | PSH,
                payload.as_bytes(),
            ),
        ));
    }
    out.push(("generated/tcp.pcap".into(), pcap(1, &frames)));
    let q = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1,
    ];
    let udp: Vec<(u32, u64, Vec<u8>)> = (0..10)
        .map(|i| (0u32, i as u64 * 1000, ip_udp(A, 5353, B, 53, &q)))
        .collect();
    out.push(("generated/dns.pcapng".into(), pcapng(&[(101, 6)], &udp)));
    out
}

fn mutate(rng: &mut Rng, data: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    for _ in 0..1 + rng.below(8) {
        if v.is_empty() {
            v.push(0);
        }
        let len = v.len();
        match rng.below(9) {
            0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len);
                v[i] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)];
            }
            2 => v.truncate(rng.below(len + 1)),
            3 => {
                // splice: a prefix of this one, a suffix of another
                let a = rng.below(len + 1);
                let b = rng.below(other.len() + 1);
                v.truncate(a);
                v.extend_from_slice(&other[b..]);
            }
            4 => {
                // a length field that lies: 16 or 32 bits of a big or small value, both byte orders
                let i = rng.below(len);
                let val: u32 = [
                    0xffff_ffff,
                    0x7fff_ffff,
                    0x0001_0000,
                    0xffff,
                    0,
                    1,
                    65535 + 1,
                    0x0100_0000,
                ][rng.below(8)];
                let bytes = if rng.below(2) == 0 {
                    val.to_le_bytes()
                } else {
                    val.to_be_bytes()
                };
                let w = if rng.below(2) == 0 { 2 } else { 4 };
                for k in 0..w {
                    if let Some(b) = v.get_mut(i + k) {
                        *b = bytes[k + (4 - w) * usize::from(rng.below(2) == 0)];
                    }
                }
            }
            5 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(64);
                let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, ins);
            }
            6 => {
                let i = rng.below(len);
                let n = (1 + rng.below(64)).min(len - i);
                v.drain(i..i + n);
            }
            7 => {
                // duplicate a run (repeated records, overlapping segments)
                let i = rng.below(len);
                let n = (1 + rng.below(256)).min(len - i);
                let run = v[i..i + n].to_vec();
                let j = rng.below(v.len() + 1);
                v.splice(j..j, run);
            }
            _ => {
                let i = rng.below(len);
                v[i] = v[i].wrapping_add(rng.below(5) as u8).wrapping_sub(2);
            }
        }
    }
    v
}

/// One input through every stage, in memory (tables are built and discarded).
fn drive(input: &[u8]) {
    let mut tables = wirehunt_store::table::writer::Tables::new(None);
    let mut flows = wirehunt_wire::flow::FlowTable::new(wirehunt_wire::flow::FlowConfig {
        max_flows: 512,
        ..Default::default()
    });
    let mut decoder = wirehunt_wire::decode::Decoder::default();
    let source: Arc<str> = Arc::from("fuzz");
    let _ = wirehunt_wire::capture::read_capture(std::io::Cursor::new(input.to_vec()), |frame| {
        let _ = decoder.decode(frame, |pkt| flows.packet(pkt, &source, &mut tables));
        decoder.events.clear();
    });
    flows.finish(&mut tables);
    // the DNS message parser on the raw bytes, at a few offsets (UDP payload positions)
    for off in [0usize, 42, 46, 62] {
        if let Some(b) = input.get(off..) {
            let _ = wirehunt_wire::proto::dns::parse_msg(b, true);
        }
    }
}

/// Run for `seconds` from `seed`; returns (cases, panics) and writes each crashing input.
fn fuzz(seconds: f64, seed: u64) -> (u64, Vec<String>) {
    let inputs = seeds();
    assert!(!inputs.is_empty());
    let mut rng = Rng(seed | 1);
    let t0 = std::time::Instant::now();
    let mut cases = 0u64;
    let mut crashes = Vec::new();
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    while t0.elapsed().as_secs_f64() < seconds {
        let (name, data) = &inputs[rng.below(inputs.len())];
        let other = &inputs[rng.below(inputs.len())].1;
        let case_seed = rng.next();
        let mut r2 = Rng(case_seed | 1);
        let m = mutate(&mut r2, data, other);
        cases += 1;
        if std::env::var_os("WIREHUNT_FUZZ_TRACE").is_some() {
            eprintln!("case {case_seed:#x} from {name}");
            let _ = std::fs::write(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-last.pcap"),
                &m,
            );
        }
        if std::panic::catch_unwind(|| drive(&m)).is_err() {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
            let _ = std::fs::create_dir_all(&dir);
            let f = dir.join(format!("{case_seed:016x}.pcap"));
            let _ = std::fs::write(&f, &m);
            crashes.push(format!(
                "{name} mutated with case seed {case_seed:#x}: {}",
                f.display()
            ));
        }
    }
    std::panic::set_hook(prev);
    (cases, crashes)
}

/// Replay one input without catching its panic: `WIREHUNT_FUZZ_REPLAY=FILE cargo test fuzz_replay`.
#[test]
fn fuzz_replay() {
    if let Some(f) = std::env::var_os("WIREHUNT_FUZZ_REPLAY") {
        drive(&std::fs::read(f).unwrap());
    }
}

#[test]
fn mutation_fuzzing_finds_no_panic() {
    let seed = std::env::var("WIREHUNT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let (cases, crashes) = fuzz(6.0, seed);
    eprintln!("fuzz: {cases} cases in 6 s, {} panics", crashes.len());
    assert!(cases > 50, "only {cases} cases ran");
    assert!(crashes.is_empty(), "{}", crashes.join("\n"));
}

/// `scripts/fuzz.sh`: as long as WIREHUNT_FUZZ_SECONDS says (default an hour).
#[test]
#[ignore]
fn fuzz_for_a_while() {
    let secs: f64 = std::env::var("WIREHUNT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3600.0);
    let seed = std::env::var("WIREHUNT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (cases, crashes) = fuzz(secs, seed);
    println!(
        "fuzz: {cases} cases in {secs} s from seed {seed}, {} panics",
        crashes.len()
    );
    for c in &crashes {
        println!("  {c}");
    }
    assert!(crashes.is_empty());
}
