//! Community ID v1 (Corelight's spec, <https://github.com/corelight/community-id-spec>): a
//! direction-independent hash of a flow's 5-tuple, so wirehunt rows join with Zeek's and Suricata's
//! records of the same connection. `1:` + base64(sha1(seed . saddr . daddr . proto . 0 . sport . dport))
//! with the endpoints ordered (lower address, then lower port, first) and ICMP type/code mapped to
//! port equivalents as Zeek does (a request and its reply share one id; one-way types keep their
//! direction). Checked against the spec's baseline vectors in the tests below.

use crate::decode::ipproto;
use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// The counterpart of an ICMPv4 type that has one (echo <-> echo reply, ...).
fn icmp4_counterpart(t: u16) -> Option<u16> {
    Some(match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

/// The same for ICMPv6 (echo, router and neighbor discovery, MLD, node information, home agent).
fn icmp6_counterpart(t: u16) -> Option<u16> {
    Some(match t {
        128 => 129,
        129 => 128,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        130 => 131,
        131 => 130,
        139 => 140,
        140 => 139,
        144 => 145,
        145 => 144,
        _ => return None,
    })
}

/// An address's bytes in a fixed buffer (no allocation per connection) and their length.
fn octets(a: &IpAddr) -> ([u8; 16], usize) {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v) => {
            let [x, y, z, w] = v.octets();
            b[0] = x;
            b[1] = y;
            b[2] = z;
            b[3] = w;
            (b, 4)
        }
        IpAddr::V6(v) => (v.octets(), 16),
    }
}

/// Does the spec hash ports (or ICMP type/code) for this IP protocol? TCP, UDP, SCTP, ICMP and
/// ICMPv6; every other protocol is hashed with zero ports.
pub fn has_ports(proto: u8) -> bool {
    matches!(
        proto,
        ipproto::ICMP | ipproto::TCP | ipproto::UDP | ipproto::ICMPV6 | ipproto::SCTP
    )
}

/// Community ID v1 with the given seed. For ICMP (1) and ICMPv6 (58) `sport` is the type and
/// `dport` the code; for protocols without ports pass `None`.
pub fn community_id(
    seed: u16,
    saddr: IpAddr,
    daddr: IpAddr,
    proto: u8,
    ports: Option<(u16, u16)>,
) -> String {
    let ((sb, sl), (db, dl)) = (octets(&saddr), octets(&daddr));
    let (mut s, mut d, mut ports) = (
        sb.get(..sl).unwrap_or_default(),
        db.get(..dl).unwrap_or_default(),
        ports,
    );
    let one_way = match (proto, ports) {
        (ipproto::ICMP | ipproto::ICMPV6, Some((t, code))) => {
            let other = if proto == ipproto::ICMP {
                icmp4_counterpart(t)
            } else {
                icmp6_counterpart(t)
            };
            match other {
                Some(o) => {
                    ports = Some((t, o));
                    false
                }
                None => {
                    ports = Some((t, code));
                    true
                }
            }
        }
        _ => false,
    };
    let (p1, p2) = ports.unwrap_or((0, 0));
    let lt = s < d || (s == d && p1 < p2);
    if !one_way && !lt {
        std::mem::swap(&mut s, &mut d);
        ports = ports.map(|(a, b)| (b, a));
    }
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(s);
    h.update(d);
    h.update([proto, 0]);
    if let Some((a, b)) = ports {
        h.update(a.to_be_bytes());
        h.update(b.to_be_bytes());
    }
    // "1:" + 28 base64 characters, in one allocation
    let mut id = String::with_capacity(30);
    id.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(h.finalize(), &mut id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's baseline (baseline/baseline_deflt.json, seed 0): every entry of the file.
    #[test]
    fn spec_baseline_vectors() {
        type Vector<'a> = (u8, &'a str, &'a str, Option<(u16, u16)>, &'a str);
        let v: &[Vector] = &[
            (
                58,
                "fe80::200:86ff:fe05:80da",
                "fe80::260:97ff:fe07:69ea",
                Some((135, 136)),
                "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            ),
            (
                58,
                "fe80::260:97ff:fe07:69ea",
                "fe80::200:86ff:fe05:80da",
                Some((136, 135)),
                "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            ),
            (
                58,
                "fe80::260:97ff:fe07:69ea",
                "fe80::200:86ff:fe05:80da",
                Some((135, 136)),
                "1:zavyT/cezQr1fmImYCwYnMXbgck=",
            ),
            (
                58,
                "fe80::200:86ff:fe05:80da",
                "fe80::260:97ff:fe07:69ea",
                Some((136, 135)),
                "1:zavyT/cezQr1fmImYCwYnMXbgck=",
            ),
            (
                58,
                "3ffe:501:1800:2345::2",
                "3ffe:507:0:1:200:86ff:fe05:80da",
                Some((3, 0)),
                "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=",
            ),
            (
                58,
                "3ffe:501:410:0:2c0:dfff:fe47:33e",
                "3ffe:507:0:1:200:86ff:fe05:80da",
                Some((1, 4)),
                "1:hLZd0XGWojozrvxqE0dWB1iM6R0=",
            ),
            (
                58,
                "3ffe:507:0:1:200:86ff:fe05:80da",
                "3ffe:501:0:1001::2",
                Some((128, 129)),
                "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
            ),
            (
                58,
                "3ffe:501:0:1001::2",
                "3ffe:507:0:1:200:86ff:fe05:80da",
                Some((129, 128)),
                "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
            ),
            (
                58,
                "fe80::200:86ff:fe05:80da",
                "ff02::2",
                Some((133, 134)),
                "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=",
            ),
            (
                58,
                "fe80::260:97ff:fe07:69ea",
                "ff02::1",
                Some((134, 133)),
                "1:pkvHqCL88/tg1k4cPigmZXUtL00=",
            ),
            (
                1,
                "192.168.0.89",
                "192.168.0.1",
                Some((8, 0)),
                "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            ),
            (
                1,
                "192.168.0.1",
                "192.168.0.89",
                Some((0, 8)),
                "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            ),
            (
                1,
                "10.0.0.1",
                "10.0.0.2",
                Some((11, 0)),
                "1:YHxtAirCG//0OzkcVAukqKQN9xM=",
            ),
            (
                6,
                "2001:470:e5bf:dead:4957:2174:e82c:4887",
                "2607:f8b0:400c:c03::1a",
                Some((63943, 25)),
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (
                6,
                "2607:f8b0:400c:c03::1a",
                "2001:470:e5bf:dead:4957:2174:e82c:4887",
                Some((25, 63943)),
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (
                132,
                "192.168.170.8",
                "192.168.170.56",
                Some((7, 7)),
                "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
            ),
            (
                132,
                "192.168.170.56",
                "192.168.170.8",
                Some((7, 7)),
                "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
            ),
            (
                6,
                "128.232.110.120",
                "66.35.250.204",
                Some((34855, 80)),
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                6,
                "66.35.250.204",
                "128.232.110.120",
                Some((80, 34855)),
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                17,
                "192.168.1.52",
                "8.8.8.8",
                Some((54585, 53)),
                "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            ),
            (
                17,
                "8.8.8.8",
                "192.168.1.52",
                Some((53, 54585)),
                "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            ),
            (
                46,
                "10.1.12.1",
                "10.1.12.2",
                None,
                "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
            ),
            (
                46,
                "10.1.12.2",
                "10.1.12.1",
                None,
                "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
            ),
        ];
        for (proto, s, d, ports, want) in v {
            let got = community_id(0, s.parse().unwrap(), d.parse().unwrap(), *proto, *ports);
            assert_eq!(&got, want, "{proto} {s} {d} {ports:?}");
        }
    }
}
