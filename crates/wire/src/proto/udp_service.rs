//! Infrastructure datagram protocols recognised by parsing, not by port: NTP, DHCP, DHCPv6, SSDP,
//! NetBIOS name/datagram service. They fill `conn.service` so detectors can tell a clock, a lease or
//! a discovery chirp doing its job (periodic by design) from a "port 123" flow whose payload is not
//! NTP - which is then the suspicious one (`service` null on a well-known port).
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
}
