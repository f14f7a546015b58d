//! Evidence for the DNS crate choice: every DNS message (UDP port 53/5353/5355) in the corpus is
//! parsed by dns-parser 0.8, hickory-proto 0.26, simple-dns 0.13 and wirehunt's own header/question
//! reader; prints acceptance counts, the kinds of failures and the speed.
//! Run: `cargo bench --bench dns_crates` (reads $WIREHUNT_CORPUS or ../shared/pcaps).
use std::collections::BTreeMap;
use std::time::Instant;

fn payloads() -> Vec<Vec<u8>> {
    let corpus = std::env::var("WIREHUNT_CORPUS").unwrap_or_else(|_| "../shared/pcaps".into());
    let files = wirehunt_wire::capture::expand_inputs(&[corpus])
        .map(|e| e.files)
        .unwrap_or_default();
    let mut out = Vec::new();
    for f in files {
        let Ok(src) = wirehunt_wire::capture::open_source(&f) else {
            continue;
        };
        let mut dec = wirehunt_wire::decode::Decoder::default();
        let _ = wirehunt_wire::capture::read_capture(src, |fr| {
            dec.decode(fr, |p| {
                if p.proto == 17
                    && [53u16, 5353, 5355]
                        .iter()
                        .any(|x| *x == p.sport || *x == p.dport)
                    && !p.payload.is_empty()
                {
                    out.push(p.payload.to_vec());
                }
            });
        });
    }
    out
}

fn main() {
    let msgs = payloads();
    println!("{} DNS messages from the corpus\n", msgs.len());
    println!("| parser | accepted | rejected | top rejection reasons | µs per message |");
    println!("|---|---|---|---|---|");
    type P = Box<dyn Fn(&[u8]) -> Result<usize, String>>;
    let parsers: Vec<(&str, P)> = vec![
        (
            "dns-parser 0.8",
            Box::new(|b: &[u8]| {
                dns_parser::Packet::parse(b)
                    .map(|p| p.answers.len())
                    .map_err(|e| format!("{e:?}").split('(').next().unwrap_or("").to_string())
            }),
        ),
        (
            "hickory-proto 0.26",
            Box::new(|b: &[u8]| {
                use hickory_proto::serialize::binary::BinDecodable;
                hickory_proto::op::Message::from_bytes(b)
                    .map(|m| m.answers.len())
                    .map_err(|e| e.to_string().chars().take(40).collect())
            }),
        ),
        (
            "simple-dns 0.13",
            Box::new(|b: &[u8]| {
                simple_dns::Packet::parse(b)
                    .map(|p| p.answers.len())
                    .map_err(|e| e.to_string().chars().take(40).collect())
            }),
        ),
        (
            "wirehunt (simple-dns + own name reader)",
            Box::new(
                |b: &[u8]| match wirehunt_wire::proto::dns::parse_msg(b, true) {
                    Some(m) => match m.weird {
                        None => Ok(m.answers.len()),
                        Some((w, _)) => Err(format!("partial: {w}")),
                    },
                    None => Err("shorter than a header".into()),
                },
            ),
        ),
    ];
    for (name, p) in &parsers {
        let mut ok = 0;
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let t = Instant::now();
        let rounds = 5;
        for _ in 0..rounds {
            for m in &msgs {
                match p(m) {
                    Ok(_) => ok += 1,
                    Err(e) => *reasons.entry(e).or_insert(0) += 1,
                }
            }
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / (msgs.len() * rounds) as f64;
        let mut r: Vec<_> = reasons.into_iter().collect();
        r.sort_by_key(|x| std::cmp::Reverse(x.1));
        let top: Vec<String> = r
            .iter()
            .take(3)
            .map(|(k, v)| format!("{} ({})", k.replace('|', "/"), v / rounds))
            .collect();
        println!(
            "| {name} | {} | {} | {} | {us:.2} |",
            ok / rounds,
            msgs.len() - ok / rounds,
            top.join("; ")
        );
    }
}
