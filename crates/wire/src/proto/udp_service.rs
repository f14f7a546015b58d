//! Datagram protocols recognised by parsing, not by port: the infrastructure ones - NTP, DHCP,
//! DHCPv6, SSDP, NetBIOS name/datagram service - fill `conn.service` so detectors can tell a clock, a
//! lease or a discovery chirp doing its job (periodic by design) from a "port 123" flow whose payload
//! is not NTP - which is then the suspicious one (`service` null on a well-known port). STUN (NAT
//! traversal: binding refreshes) and WireGuard (a tunnel's handshakes and keepalives) are named too,
//! so a periodic flow of theirs says what it is; they are not infrastructure to the detectors (a
//! tunnel to an address no DNS named is still worth a glance).
//!
//! A flow gets a service when every one of its first [`CHECKED`] datagrams with payload parses as
//! that protocol; one that does not, among them, leaves the flow unclassified. Each check reads only
//! fixed-size headers through `get`, so no input can panic it.
//!
//! Adding a protocol = one `fn(&[u8]) -> bool` and one line in [`REGISTRY`].

/// Datagrams inspected per flow.
pub const CHECKED: u8 = 8;

/// (service name, ports either side, payload check).
pub type Check = (&'static str, &'static [u16], fn(&[u8]) -> bool);

/// The registry, first match wins.
pub const REGISTRY: &[Check] = &[
    ("ntp", &[123], is_ntp),
    ("dhcp", &[67, 68], is_dhcp),
    ("dhcpv6", &[546, 547], is_dhcpv6),
    ("ssdp", &[1900], is_ssdp),
    ("netbios-ns", &[137], is_netbios_ns),
    ("netbios-dgm", &[138], is_netbios_dgm),
    // RFC 8489's port, and Google's public STUN servers' (stun.l.google.com:19302)
    ("stun", &[3478, 19302], is_stun),
    ("wireguard", &[51820], is_wireguard),
];

/// The service a datagram claims by port, if its payload parses as that protocol.
pub fn classify(orig_p: u16, resp_p: u16, payload: &[u8]) -> Option<&'static str> {
    REGISTRY
        .iter()
        .find(|(_, ports, _)| ports.contains(&orig_p) || ports.contains(&resp_p))
        .and_then(|(name, _, check)| check(payload).then_some(*name))
}

fn byte(p: &[u8], i: usize) -> Option<u8> {
    p.get(i).copied()
}

use crate::bytes::be16;

/// RFC 5905: a 48-byte header (extension fields and a MAC may follow, up to a few hundred bytes),
/// version 1-4, mode 1-5 (symmetric, client, server, broadcast), stratum 0-16 (0 = kiss-o'-death /
/// unsynchronised; above 16 is reserved), poll exponent within the protocol's 0..17 for modes 1-5.
/// Mode 6/7 (control / private: ntpq/ntpdc, the monlist amplification vector) is not "a clock
/// doing its job" and is left unclassified.
pub fn is_ntp(p: &[u8]) -> bool {
    if p.len() < 48 || p.len() > 1024 {
        return false;
    }
    let Some(b0) = byte(p, 0) else { return false };
    let version = (b0 >> 3) & 7;
    let mode = b0 & 7;
    let stratum = byte(p, 1).unwrap_or(255);
    let poll = byte(p, 2).unwrap_or(255) as i8;
    (1..=4).contains(&version)
        && (1..=5).contains(&mode)
        && stratum <= 16
        && (-6..=17).contains(&poll)
        // after the header: nothing, extension fields (multiples of 4) or a MAC (4-byte key id +
        // 16/20-byte digest)
        && (p.len() - 48).is_multiple_of(4)
}

/// RFC 2131 BOOTP/DHCP: op 1/2, hardware length <= 16, the magic cookie at 236.
pub fn is_dhcp(p: &[u8]) -> bool {
    p.len() >= 240
        && matches!(byte(p, 0), Some(1 | 2))
        && byte(p, 2).is_some_and(|h| h <= 16)
        && p.get(236..240) == Some(&[0x63, 0x82, 0x53, 0x63][..])
}

/// RFC 8415: message types 1-13 (SOLICIT .. RELAY-REPL), then options of (code, length) pairs that
/// fit the datagram exactly.
pub fn is_dhcpv6(p: &[u8]) -> bool {
    let Some(t) = byte(p, 0) else { return false };
    if !(1..=13).contains(&t) {
        return false;
    }
    // relay messages carry 34 bytes of addresses before the options
    let mut i = if t == 12 || t == 13 { 34 } else { 4 };
    while i < p.len() {
        let Some(len) = be16(p, i + 2).map(usize::from) else {
            return false;
        };
        i += 4 + len;
    }
    i == p.len()
}

/// UPnP discovery: an HTTP-over-UDP start line.
pub fn is_ssdp(p: &[u8]) -> bool {
    [
        &b"M-SEARCH * HTTP/1."[..],
        b"NOTIFY * HTTP/1.",
        b"HTTP/1.1 200",
    ]
    .iter()
    .any(|m| p.starts_with(m))
}

/// RFC 1002 name service: a DNS-shaped header with a known opcode and small section counts.
pub fn is_netbios_ns(p: &[u8]) -> bool {
    if p.len() < 12 {
        return false;
    }
    let opcode = (byte(p, 2).unwrap_or(0) >> 3) & 0x0f;
    let count = |i: usize| be16(p, i).unwrap_or(u16::MAX);
    matches!(opcode, 0 | 5 | 6 | 7 | 8) && (4..12).step_by(2).all(|i| count(i) <= 16)
}

/// RFC 1002 datagram service: message types 0x10-0x16.
pub fn is_netbios_dgm(p: &[u8]) -> bool {
    p.len() >= 10 && byte(p, 0).is_some_and(|t| (0x10..=0x16).contains(&t))
}

/// RFC 8489 (STUN, with RFC 5389's magic cookie): the two top bits zero, a message length that is a
/// multiple of 4 and accounts for the rest of the datagram exactly, the magic cookie 0x2112A442.
pub fn is_stun(p: &[u8]) -> bool {
    p.len() >= 20
        && byte(p, 0).is_some_and(|b| b & 0xc0 == 0)
        && be16(p, 2).is_some_and(|n| n % 4 == 0 && usize::from(n) + 20 == p.len())
        && p.get(4..8) == Some(&[0x21, 0x12, 0xa4, 0x42][..])
}

/// WireGuard: a message type 1-4 and three zero bytes, then the type's fixed size - handshake
/// initiation 148, response 92, cookie reply 64 - or, for transport data (keepalives included), a
/// 16-byte header, a padded payload (multiple of 16) and a 16-byte tag.
pub fn is_wireguard(p: &[u8]) -> bool {
    if p.get(1..4) != Some(&[0, 0, 0][..]) {
        return false;
    }
    match byte(p, 0) {
        Some(1) => p.len() == 148,
        Some(2) => p.len() == 92,
        Some(3) => p.len() == 64,
        Some(4) => p.len() >= 32 && (p.len() - 32).is_multiple_of(16),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ntp(b0: u8, stratum: u8, poll: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        v[0] = b0;
        v[1] = stratum;
        v[2] = poll;
        v
    }

    #[test]
    fn ntp_client_and_server_packets_parse_and_others_do_not() {
        // LI 0, VN 4, mode 3 (client); server reply mode 4 stratum 2, poll 6
        assert!(is_ntp(&ntp(0x23, 0, 6, 48)));
        assert!(is_ntp(&ntp(0x24, 2, 6, 48)));
        // SNTP v1 and a reply with a 20-byte MAC (key id + SHA-1)
        assert!(is_ntp(&ntp(0x0b, 0, 0, 48)));
        assert!(is_ntp(&ntp(0x24, 3, 10, 72)));
        // mode 7 monlist request, reserved stratum, short, random payload on port 123
        assert!(!is_ntp(&ntp(0x17, 0, 0, 48)));
        assert!(!is_ntp(&ntp(0x24, 200, 6, 48)));
        assert!(!is_ntp(&ntp(0x23, 0, 6, 40)));
        assert!(!is_ntp(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789012345678901"
        ));
        assert_eq!(classify(50000, 123, &ntp(0x23, 0, 6, 48)), Some("ntp"));
        assert_eq!(classify(50000, 123, &[0xde; 300]), None);
    }

    #[test]
    fn dhcp_ssdp_netbios() {
        let mut d = vec![0u8; 300];
        d[0] = 1;
        d[1] = 1;
        d[2] = 6;
        d[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
        assert_eq!(classify(68, 67, &d), Some("dhcp"));
        d[237] = 0;
        assert_eq!(classify(68, 67, &d), None);
        // DHCPv6 SOLICIT: type 1, xid, one option (client id, 4 bytes)
        assert!(is_dhcpv6(&[1, 0, 0, 1, 0, 1, 0, 4, 9, 9, 9, 9]));
        assert!(!is_dhcpv6(&[1, 0, 0, 1, 0, 1, 0, 40, 9]));
        assert!(is_ssdp(
            b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
        ));
        assert!(!is_ssdp(b"\x00\x01binary"));
        assert!(is_netbios_dgm(&[0x11, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        let mut ns = vec![0u8; 50];
        ns[5] = 1;
        assert!(is_netbios_ns(&ns));
    }

    #[test]
    fn stun_and_wireguard() {
        // RFC 5769 2.1: a Binding request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
        // MESSAGE-INTEGRITY, FINGERPRINT), 108 bytes
        let unhex = |parts: &[&str]| -> Vec<u8> {
            parts
                .concat()
                .as_bytes()
                .chunks(2)
                .map(|h| u8::from_str_radix(std::str::from_utf8(h).unwrap(), 16).unwrap())
                .collect()
        };
        let rfc5769 = unhex(&[
            "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74",
            "002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020",
            "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf",
        ]);
        assert_eq!(rfc5769.len(), 108);
        assert!(is_stun(&rfc5769));
        assert_eq!(classify(50000, 3478, &rfc5769), Some("stun"));
        // RFC 5769 2.2: the IPv4 Binding success response (XOR-MAPPED-ADDRESS 192.0.2.1:32853)
        let resp = unhex(&[
            "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220",
            "002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7",
            "80280004c07d4c96",
        ]);
        assert_eq!(resp.len(), 80);
        assert_eq!(classify(3478, 50000, &resp), Some("stun"));
        // a header alone (Binding request without attributes), and broken ones
        let mut h = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        h.extend_from_slice(&[7; 12]);
        assert!(is_stun(&h));
        assert!(!is_stun(&rfc5769[..100]), "length field must match");
        let mut bad = h.clone();
        bad[7] = 0x43;
        assert!(!is_stun(&bad), "magic cookie");
        bad = h.clone();
        bad[0] = 0x80;
        assert!(!is_stun(&bad), "RTP/DTLS first byte");
        assert_eq!(classify(50000, 3478, &[0x16; 40]), None);
        // WireGuard: initiation, response, cookie, a keepalive (empty data) and data
        let wg = |t: u8, n: usize| {
            let mut v = vec![0u8; n];
            v[0] = t;
            v
        };
        for (t, n) in [(1, 148), (2, 92), (3, 64), (4, 32), (4, 32 + 16 * 80)] {
            assert_eq!(
                classify(51820, 51820, &wg(t, n)),
                Some("wireguard"),
                "{t} {n}"
            );
        }
        for (t, n) in [(1, 150), (2, 148), (4, 40), (5, 32), (4, 31)] {
            assert!(!is_wireguard(&wg(t, n)), "{t} {n}");
        }
        let mut w = wg(4, 32);
        w[2] = 1;
        assert!(!is_wireguard(&w), "reserved bytes are zero");
    }
}
