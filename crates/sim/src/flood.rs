//! Hostile captures for memory checks (`wirehunt simulate --flood KIND --packets N`, used by
//! `benches/memcheck.sh`): each one aims at a structure that used to grow without bound.
//! - `syn`: N SYNs from distinct spoofed sources to one server (flow table, query-time groups);
//! - `pipeline`: one connection carrying N pipelined GETs that are never answered;
//! - `fragment`: N copies of one IPv4 fragment, N incomplete datagrams with distinct ids, then a
//!   legitimate fragmented DNS query that must still be reassembled;
//! - `hole`: one connection with a hole, then N tiny segments after it (ranges after a hole);
//! - `seqjump`: N connections each uploading 100 bytes and then "jumping" 2 GB ahead.

use super::net::{Ep, Flags, PcapOut, Rng, mac_for, tcp_frame, udp_frame};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

pub const KINDS: &[&str] = &["syn", "pipeline", "fragment", "hole", "seqjump"];

const T0: i64 = 1_796_115_600_000_000;

fn ep(ip: [u8; 4], port: u16) -> Ep {
    let ip = IpAddr::V4(Ipv4Addr::from(ip));
    Ep {
        ip,
        port,
        mac: mac_for(&ip),
    }
}

const PA: Flags = Flags {
    syn: false,
    ack: true,
    fin: false,
    psh: true,
    rst: false,
};
const S: Flags = Flags {
    syn: true,
    ack: false,
    fin: false,
    psh: false,
    rst: false,
};
const SA: Flags = Flags {
    syn: true,
    ack: true,
    fin: false,
    psh: false,
    rst: false,
};

/// An Ethernet + IPv4 fragment (UDP inside), by hand: id, offset in 8-byte units, more fragments.
fn ipv4_fragment(
    src: [u8; 4],
    dst: [u8; 4],
    id: u16,
    offset8: u16,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(34 + data.len());
    v.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let total = (20 + data.len()) as u16;
    let flags_off = (u16::from(more) << 13) | (offset8 & 0x1fff);
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&flags_off.to_be_bytes());
    h[8] = 64;
    h[9] = 17;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let mut sum = 0u32;
    for c in h.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    v.extend_from_slice(&h);
    v.extend_from_slice(data);
    v
}

/// Write the flood `kind` with about `n` packets.
pub fn flood<W: Write>(kind: &str, n: u64, w: W) -> Result<W, crate::SimError> {
    let mut out = PcapOut::new(w)?;
    let mut rng = Rng::new(0xf100d);
    let server = [192, 0, 2, 80];
    match kind {
        "syn" => {
            for i in 0..n {
                let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
                let c = ep(src, 1024 + (rng.u64() % 60000) as u16);
                out.push(
                    T0 + i as i64 * 5,
                    tcp_frame(&c, &ep(server, 80), rng.u64() as u32, 0, S, 1024, &[]),
                );
                if i % 4096 == 0 {
                    out.flush_until(T0 + i as i64 * 5)?;
                }
            }
        }
        "pipeline" | "hole" | "seqjump" => {
            let conns = if kind == "seqjump" { n.max(1) } else { 1 };
            let mut t = T0;
            for k in 0..conns {
                let c = ep([10, 1, (k >> 8) as u8, k as u8], 40000 + (k % 20000) as u16);
                let s = ep(server, 80);
                let isn = 1000u32;
                out.push(t, tcp_frame(&c, &s, isn, 0, S, 1024, &[]));
                out.push(t + 10, tcp_frame(&s, &c, 5000, isn + 1, SA, 1024, &[]));
                let mut seq = isn + 1;
                t += 20;
                match kind {
                    "pipeline" => {
                        let mut buf = Vec::new();
                        for i in 0..n {
                            buf.extend_from_slice(
                                format!("GET /{i} HTTP/1.1\r\nHost: v\r\n\r\n").as_bytes(),
                            );
                            if buf.len() >= 1400 || i + 1 == n {
                                out.push(t, tcp_frame(&c, &s, seq, 5001, PA, 1024, &buf));
                                seq = seq.wrapping_add(buf.len() as u32);
                                buf.clear();
                                t += 2;
                                out.flush_until(t)?;
                            }
                        }
                    }
                    "hole" => {
                        out.push(
                            t,
                            tcp_frame(&c, &s, seq, 5001, PA, 1024, b"GET / HTTP/1.1\r\n"),
                        );
                        // 100 bytes never sent, then n tiny segments after the hole
                        let mut s2 = seq.wrapping_add(16 + 100);
                        for _ in 0..n {
                            t += 2;
                            out.push(t, tcp_frame(&c, &s, s2, 5001, PA, 1024, b"x"));
                            s2 = s2.wrapping_add(1);
                            out.flush_until(t)?;
                        }
                    }
                    _ => {
                        out.push(t, tcp_frame(&c, &s, seq, 5001, PA, 1024, &[b'u'; 100]));
                        let far = seq.wrapping_add(100).wrapping_add(2_000_000_000);
                        out.push(t + 5, tcp_frame(&c, &s, far, 5001, PA, 1024, &[b'v'; 100]));
                        t += 50;
                        if k % 1024 == 0 {
                            out.flush_until(t)?;
                        }
                    }
                }
            }
        }
        "fragment" => {
            let a = [10, 9, 9, 9];
            let copy = ipv4_fragment(a, server, 7, 0, true, &[0x55; 64]);
            let half = n / 2;
            for i in 0..half {
                out.push(T0 + i as i64, copy.clone());
            }
            for i in 0..half {
                let f = ipv4_fragment(
                    a,
                    server,
                    (1000 + i) as u16,
                    (i % 4000) as u16,
                    true,
                    &[0x66; 64],
                );
                out.push(T0 + (half + i) as i64, f);
                if i % 4096 == 0 {
                    out.flush_until(T0 + (half + i) as i64)?;
                }
            }
            // a legitimate DNS query split in two fragments at the end
            let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1];
            q.extend_from_slice(&[
                7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
            ]);
            q.extend_from_slice(&[0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 40]);
            q.extend_from_slice(&[0u8; 40]);
            let c = ep(a, 53000);
            let whole = udp_frame(&c, &ep([192, 0, 2, 53], 53), &q);
            let udp = &whole[34..];
            let t = T0 + n as i64 + 1000;
            out.push(
                t,
                ipv4_fragment(a, [192, 0, 2, 53], 4242, 0, true, &udp[..48]),
            );
            out.push(
                t + 1,
                ipv4_fragment(a, [192, 0, 2, 53], 4242, 6, false, &udp[48..]),
            );
        }
        other => {
            return Err(crate::SimError::Unknown(format!(
                "unknown flood {other:?} (one of {})",
                KINDS.join(", ")
            )));
        }
    }
    Ok(out.finish()?)
}
