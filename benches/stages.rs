//! Criterion benches, one group per pipeline stage, with byte throughput so results read in MB/s.
//! Input: a simulated mixed capture built in memory (deterministic seed), the same mix the
//! comparison script uses. Run: `cargo bench --bench stages`.
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wirehunt_store::table::writer::Tables;
use wirehunt_wire::capture::read_capture;
use wirehunt_wire::decode::{Decoder, Outcome};
use wirehunt_wire::flow::reassembly::Reassembler;
use wirehunt_wire::flow::{FlowConfig, FlowTable};
use wirehunt_wire::record::{ConnRecord, Record, RecordSink};

fn capture() -> Vec<u8> {
    let cfg = wirehunt_sim::SimConfig {
        seed: 7,
        hours: 0.2,
        hosts: 10,
        attacks: wirehunt_sim::parse_attacks("all").unwrap(),
        size: None,
        background_scale: 0.5,
        compressible: false,
    };
    let (_, bytes) = wirehunt_sim::simulate(&cfg, Vec::new()).unwrap();
    bytes
}

fn frames(bytes: &[u8]) -> Vec<(i64, u32, Vec<u8>)> {
    let mut v = Vec::new();
    let _ = read_capture(std::io::Cursor::new(bytes.to_vec()), |f| {
        v.push((f.ts, f.linktype, f.data.to_vec()))
    });
    v
}

/// A frame borrowing stored bytes.
fn frame(ts: i64, linktype: u32, data: &[u8]) -> wirehunt_wire::capture::Frame<'_> {
    wirehunt_wire::capture::Frame {
        ts,
        linktype,
        data,
        orig_len: data.len() as u32,
        number: 0,
    }
}

fn stages(c: &mut Criterion) {
    let bytes = capture();
    let n = bytes.len() as u64;
    let fr = frames(&bytes);
    let mut g = c.benchmark_group("stage");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(n));
    g.bench_function("read", |b| {
        b.iter(|| {
            read_capture(std::io::Cursor::new(bytes.clone()), |f| {
                black_box(f.data.len());
            })
            .unwrap()
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut d = Decoder::default();
            let mut k = 0usize;
            for (ts, lt, data) in &fr {
                let f = frame(*ts, *lt, data);
                if let Outcome::Decoded = d.decode(&f, |p| k += p.payload.len()) {}
            }
            black_box(k)
        })
    });
    // flow table alone: packets decoded once, then fed to the flow table (and the analyzers it drives)
    let mut owned: Vec<(wirehunt_wire::decode::Packet<'static>, Vec<u8>)> = Vec::new();
    {
        let mut d = Decoder::default();
        for (ts, lt, data) in &fr {
            let f = frame(*ts, *lt, data);
            d.decode(&f, |p| {
                owned.push((
                    wirehunt_wire::decode::Packet { payload: &[], ..*p },
                    p.payload.to_vec(),
                ))
            });
        }
    }
    g.bench_function("flow_table", |b| {
        b.iter(|| {
            let mut flows = FlowTable::new(FlowConfig::default());
            let mut t = Tables::new(None);
            let src: std::sync::Arc<str> = "bench".into();
            for (p, payload) in &owned {
                let pkt = wirehunt_wire::decode::Packet { payload, ..*p };
                flows.packet(&pkt, &src, &mut t);
            }
            flows.finish(&mut t);
            black_box(t.builders.conn.len())
        })
    });
    g.bench_function("decode+flow+analyzers", |b| {
        b.iter(|| {
            let mut d = Decoder::default();
            let mut flows = FlowTable::new(FlowConfig::default());
            let mut t = Tables::new(None);
            let src: std::sync::Arc<str> = "bench".into();
            for (ts, lt, data) in &fr {
                let f = frame(*ts, *lt, data);
                d.decode(&f, |p| flows.packet(p, &src, &mut t));
            }
            flows.finish(&mut t);
            black_box(t.builders.conn.len())
        })
    });
    g.bench_function("ingest_end_to_end", |b| {
        let dir = std::env::temp_dir().join("wirehunt-bench-ingest");
        let file = dir.join("in.pcap");
        let _ = std::fs::create_dir_all(&dir);
        std::fs::write(&file, &bytes).unwrap();
        b.iter(|| {
            wirehunt_store::ingest::ingest(
                &[file.to_string_lossy().into_owned()],
                &dir.join("ds"),
                &Default::default(),
                |_, _| {},
            )
            .unwrap()
        })
    });
    g.finish();

    // reassembly: a 4 MB stream in 1460-byte segments, 10% out of order
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i * 7) as u8).collect();
    let mut segs: Vec<(u32, &[u8])> = data
        .chunks(1460)
        .enumerate()
        .map(|(i, c)| ((1 + i * 1460) as u32, c))
        .collect();
    for i in (0..segs.len() - 1).step_by(10) {
        segs.swap(i, i + 1);
    }
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("in_and_out_of_order", |b| {
        b.iter(|| {
            let mut r = Reassembler::new();
            r.syn(0);
            let mut k = 0usize;
            for (s, d) in &segs {
                r.segment(*s, d, d.len() as u32, 1 << 20, &mut |c| {
                    if let wirehunt_wire::flow::reassembly::Chunk::Data(x) = c {
                        k += x.len()
                    }
                });
            }
            black_box(k)
        })
    });
    g.finish();

    // protocol parsers on real messages taken from the simulated capture
    let mut dns_msgs = Vec::new();
    let mut d = Decoder::default();
    for (ts, lt, data) in &fr {
        let f = frame(*ts, *lt, data);
        d.decode(&f, |p| {
            if p.proto == 17 && (p.sport == 53 || p.dport == 53) {
                dns_msgs.push(p.payload.to_vec())
            }
        });
    }
    let dns_bytes: u64 = dns_msgs.iter().map(|m| m.len() as u64).sum();
    let mut g = c.benchmark_group("parsers");
    g.throughput(Throughput::Bytes(dns_bytes));
    g.bench_function("dns_messages", |b| {
        b.iter(|| {
            dns_msgs
                .iter()
                .map(|m| {
                    wirehunt_wire::proto::dns::parse_msg(m, true).map_or(0, |x| x.answers.len())
                })
                .sum::<usize>()
        })
    });
    let mut rng = wirehunt_sim::net::Rng::new(3);
    let hellos: Vec<Vec<u8>> = (0..200)
        .map(|_| {
            wirehunt_sim::proto::client_hello(
                &mut rng,
                wirehunt_sim::proto::ClientProfile::Chrome,
                Some("www.example.com"),
                &["h2", "http/1.1"],
                true,
            )
        })
        .collect();
    let hb: u64 = hellos.iter().map(|h| h.len() as u64).sum();
    g.throughput(Throughput::Bytes(hb));
    g.bench_function("tls_client_hello_ja3_ja4", |b| {
        b.iter(|| {
            let mut k = 0;
            for h in &hellos {
                if let Ok((
                    _,
                    tls_parser::TlsMessage::Handshake(
                        tls_parser::TlsMessageHandshake::ClientHello(ch),
                    ),
                )) = tls_parser::parse_tls_message_handshake(&h[5..])
                {
                    let info = wirehunt_wire::proto::tls::client_hello_info(&ch);
                    k += wirehunt_wire::proto::tls::ja3(&info).1.len()
                        + wirehunt_wire::proto::tls::ja4(&info).len();
                }
            }
            black_box(k)
        })
    });
    let req = b"GET /index.html?q=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\nAccept-Language: en\r\nCookie: a=b; c=d\r\n\r\n";
    g.throughput(Throughput::Bytes(req.len() as u64 * 1000));
    g.bench_function("http_request_heads", |b| {
        b.iter(|| {
            let mut k = 0;
            for _ in 0..1000 {
                let mut hs = [httparse::EMPTY_HEADER; 64];
                let mut r = httparse::Request::new(&mut hs);
                if let Ok(httparse::Status::Complete(n)) = r.parse(req) {
                    k += n;
                }
            }
            black_box(k)
        })
    });
    g.finish();

    // Arrow + Parquet write of conn rows
    let mut g = c.benchmark_group("table_write");
    g.sample_size(10);
    {
        let rows = 100_000usize;
        g.throughput(Throughput::Elements(rows as u64));
        g.bench_with_input(BenchmarkId::new("conn_rows", rows), &rows, |b, &rows| {
            let dir = std::env::temp_dir().join("wirehunt-bench-write");
            b.iter(|| {
                let w = wirehunt_store::table::writer::DatasetWriter::create(&dir).unwrap();
                let mut t = Tables::new(Some(w));
                for i in 0..rows {
                    t.record(Record::Conn(ConnRecord {
                        ts: 1_700_000_000_000_000 + i as i64 * 1000,
                        uid: "CabcdefghijklmnopQ",
                        orig_h: std::net::Ipv4Addr::new(10, 0, 0, 1).into(),
                        orig_p: (i % 60000) as u16,
                        resp_h: std::net::Ipv4Addr::new(192, 0, 2, 7).into(),
                        resp_p: 443,
                        proto: "tcp",
                        service: Some("ssl"),
                        duration: 1.5,
                        orig_bytes: i as u64,
                        resp_bytes: 2 * i as u64,
                        conn_state: "SF",
                        local_orig: true,
                        local_resp: false,
                        missed_bytes: 0,
                        history: "ShADadFf",
                        orig_pkts: 10,
                        orig_ip_bytes: 1000,
                        resp_pkts: 12,
                        resp_ip_bytes: 9000,
                        vlan: None,
                        end_reason: "closed",
                        orig_bursts: &[],
                        orig_burst_bytes: &[],
                        source: "bench.pcap",
                        orig_seen_bytes: i as u64,
                        resp_seen_bytes: 2 * i as u64,
                        community_id: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
                        first_frame: 2 * i as u64 + 1,
                        last_frame: 2 * i as u64 + 22,
                        last_source: "bench.pcap",
                        orig_profile: None,
                        resp_profile: None,
                    }));
                }
                t.finish().unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
