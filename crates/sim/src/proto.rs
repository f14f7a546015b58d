//! Protocol payloads for the simulator: DNS messages, TLS handshakes (client profiles with distinct
//! JA3/JA4, TLS 1.2 with a certificate chain, TLS 1.3), HTTP/1.1 heads, and the encodings DNS tunnels use.

use super::net::Rng;

pub const LEAF_DER: &[u8] = include_bytes!("leaf.der");
pub const CA_DER: &[u8] = include_bytes!("ca.der");
pub const SELF_SIGNED_DER: &[u8] = include_bytes!("selfsigned.der");

fn u16be(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}
fn u24be(v: &mut Vec<u8>, x: usize) {
    v.extend_from_slice(&[(x >> 16) as u8, (x >> 8) as u8, x as u8]);
}

/// Wire encoding of a name (labels must already be <= 63 bytes).
pub fn encode_name(name: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(name.len() + 2);
    for l in name.trim_end_matches('.').split('.') {
        if l.is_empty() {
            continue;
        }
        let b = l.as_bytes();
        v.push(b.len().min(63) as u8);
        v.extend_from_slice(&b[..b.len().min(63)]);
    }
    v.push(0);
    v
}

/// Wire name from raw label bytes (for iodine-like binary labels).
pub fn encode_raw_labels(labels: &[Vec<u8>], domain: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in labels {
        v.push(l.len().min(63) as u8);
        v.extend_from_slice(&l[..l.len().min(63)]);
    }
    let d = encode_name(domain);
    v.extend_from_slice(&d);
    v
}

pub fn dns_query(id: u16, qname_wire: &[u8], qtype: u16, edns: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(32 + qname_wire.len());
    u16be(&mut v, id);
    u16be(&mut v, 0x0100);
    u16be(&mut v, 1);
    u16be(&mut v, 0);
    u16be(&mut v, 0);
    u16be(&mut v, if edns { 1 } else { 0 });
    v.extend_from_slice(qname_wire);
    u16be(&mut v, qtype);
    u16be(&mut v, 1);
    if edns {
        v.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    v
}

/// A resource record for a response: owner None = the question name (compressed pointer).
pub struct Rr {
    pub owner: Option<String>,
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

pub fn dns_response(id: u16, qname_wire: &[u8], qtype: u16, rcode: u8, answers: &[Rr]) -> Vec<u8> {
    let mut v = Vec::with_capacity(64 + qname_wire.len());
    u16be(&mut v, id);
    u16be(&mut v, 0x8180 | rcode as u16);
    u16be(&mut v, 1);
    u16be(&mut v, answers.len() as u16);
    u16be(&mut v, 0);
    u16be(&mut v, 0);
    v.extend_from_slice(qname_wire);
    u16be(&mut v, qtype);
    u16be(&mut v, 1);
    for a in answers {
        match &a.owner {
            None => v.extend_from_slice(&[0xc0, 12]),
            Some(o) => v.extend_from_slice(&encode_name(o)),
        }
        u16be(&mut v, a.rtype);
        u16be(&mut v, 1);
        v.extend_from_slice(&a.ttl.to_be_bytes());
        u16be(&mut v, a.rdata.len() as u16);
        v.extend_from_slice(&a.rdata);
    }
    v
}

/// TXT rdata from text (split into <=255-byte strings).
pub fn txt_rdata(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for c in s.chunks(255) {
        v.push(c.len() as u8);
        v.extend_from_slice(c);
    }
    if s.is_empty() {
        v.push(0);
    }
    v
}

pub fn mx_rdata(pref: u16, name: &str) -> Vec<u8> {
    let mut v = pref.to_be_bytes().to_vec();
    v.extend_from_slice(&encode_name(name));
    v
}

// ---- tunnel encodings ----

const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

pub fn base32(data: &[u8]) -> String {
    let mut out = String::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for &b in data {
        buf = (buf << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(B32[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(B32[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn hex(data: &[u8]) -> String {
    wirehunt_wire::capture::hex(data)
}

pub fn base64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Split an encoded string into labels of at most `max` characters.
pub fn labels_of(s: &str, max: usize) -> Vec<String> {
    s.as_bytes()
        .chunks(max.max(1))
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

// ---- TLS ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ClientProfile {
    Chrome,
    Firefox,
    Curl,
    /// A minimal client typical of malware and scripts.
    Minimal,
}

fn ext(v: &mut Vec<u8>, t: u16, data: &[u8]) {
    u16be(v, t);
    u16be(v, data.len() as u16);
    v.extend_from_slice(data);
}

fn grease(rng: &mut Rng) -> u16 {
    let n = rng.range(0, 16) as u16;
    (n << 12) | 0x0a00 | (n << 4) | 0x0a
}

/// A ClientHello record. `tls13` adds supported_versions and key_share.
pub fn client_hello(
    rng: &mut Rng,
    profile: ClientProfile,
    sni: Option<&str>,
    alpn: &[&str],
    tls13: bool,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(512);
    u16be(&mut body, 0x0303);
    body.extend_from_slice(&rng.bytes(32));
    body.push(32);
    body.extend_from_slice(&rng.bytes(32));
    let g = grease(rng);
    let ciphers: Vec<u16> = match profile {
        ClientProfile::Chrome => vec![
            g, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ],
        ClientProfile::Firefox => vec![
            0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
            0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ],
        ClientProfile::Curl => vec![
            0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f,
            0x009e, 0xc024, 0xc028, 0x006b, 0xc023, 0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009,
            0xc013, 0x0033, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x00ff,
        ],
        ClientProfile::Minimal => vec![0xc02f, 0xc030, 0xc013, 0xc014, 0x009c, 0x002f],
    };
    u16be(&mut body, (ciphers.len() * 2) as u16);
    for c in &ciphers {
        u16be(&mut body, *c);
    }
    body.extend_from_slice(&[1, 0]);
    let mut exts = Vec::with_capacity(256);
    if profile == ClientProfile::Chrome {
        ext(&mut exts, grease(rng), &[]);
    }
    if let Some(s) = sni {
        let mut d = Vec::new();
        u16be(&mut d, (s.len() + 3) as u16);
        d.push(0);
        u16be(&mut d, s.len() as u16);
        d.extend_from_slice(s.as_bytes());
        ext(&mut exts, 0, &d);
    }
    ext(&mut exts, 23, &[]);
    ext(&mut exts, 0xff01, &[0]);
    let groups: &[u16] = match profile {
        ClientProfile::Minimal => &[23, 24],
        _ => &[29, 23, 24],
    };
    let mut d = Vec::new();
    u16be(&mut d, (groups.len() * 2) as u16);
    for x in groups {
        u16be(&mut d, *x);
    }
    ext(&mut exts, 10, &d);
    ext(&mut exts, 11, &[1, 0]);
    if profile != ClientProfile::Minimal {
        ext(&mut exts, 35, &[]);
    }
    if !alpn.is_empty() {
        let mut l = Vec::new();
        for a in alpn {
            l.push(a.len() as u8);
            l.extend_from_slice(a.as_bytes());
        }
        let mut d = Vec::new();
        u16be(&mut d, l.len() as u16);
        d.extend_from_slice(&l);
        ext(&mut exts, 16, &d);
    }
    if profile == ClientProfile::Chrome || profile == ClientProfile::Firefox {
        ext(&mut exts, 5, &[1, 0, 0, 0, 0]);
    }
    let sigs: &[u16] = &[
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];
    let mut d = Vec::new();
    u16be(&mut d, (sigs.len() * 2) as u16);
    for s in sigs {
        u16be(&mut d, *s);
    }
    ext(&mut exts, 13, &d);
    if tls13 {
        let mut ks = Vec::new();
        u16be(&mut ks, 36);
        u16be(&mut ks, 29);
        u16be(&mut ks, 32);
        ks.extend_from_slice(&rng.bytes(32));
        ext(&mut exts, 51, &ks);
        ext(&mut exts, 45, &[1, 1]);
        let vers: Vec<u16> = if profile == ClientProfile::Chrome {
            vec![grease(rng), 0x0304, 0x0303]
        } else {
            vec![0x0304, 0x0303]
        };
        let mut d = vec![(vers.len() * 2) as u8];
        for x in vers {
            u16be(&mut d, x);
        }
        ext(&mut exts, 43, &d);
    }
    if profile == ClientProfile::Chrome {
        ext(&mut exts, grease(rng), &[0]);
    }
    u16be(&mut body, exts.len() as u16);
    body.extend_from_slice(&exts);
    handshake_record(1, &body, 0x0301)
}

fn handshake_msg(t: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![t];
    u24be(&mut v, body.len());
    v.extend_from_slice(body);
    v
}

fn record(ct: u8, version: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![ct];
    u16be(&mut v, version);
    u16be(&mut v, payload.len() as u16);
    v.extend_from_slice(payload);
    v
}

fn handshake_record(t: u8, body: &[u8], version: u16) -> Vec<u8> {
    record(22, version, &handshake_msg(t, body))
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = body.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(body);
    v
}

fn der_seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// A Name with the given (attribute OID, UTF8String) pairs, one RDN each.
fn der_name(attrs: &[(&[u8], &str)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = attrs
        .iter()
        .map(|(oid, v)| der(0x31, &der_seq(&[der(0x06, oid), der(0x0c, v.as_bytes())])))
        .collect();
    der_seq(&rdns)
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];

/// A leaf certificate for `name` (subject CN and a SAN), issued by the simulator's CA and valid
/// 2026-11-23 .. 2036-11-20 like the CA: what a CA-issued service presents. The signature is random
/// bytes: passive analyzers (wirehunt, tshark, Zeek) read certificates, they do not verify them.
pub fn leaf_certificate(rng: &mut Rng, name: &str) -> Vec<u8> {
    let ecdsa = der_seq(&[der(0x06, OID_ECDSA_SHA256)]);
    let mut serial = rng.bytes(16);
    serial[0] &= 0x7f;
    serial[0] |= 0x10;
    let mut point = vec![0u8, 0x04];
    point.extend_from_slice(&rng.bytes(64));
    let spki = der_seq(&[
        der_seq(&[
            der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        ]),
        der(0x03, &point),
    ]);
    let san = der_seq(&[der(0x82, name.as_bytes())]);
    let exts = der(
        0xa3,
        &der_seq(&[der_seq(&[der(0x06, &[0x55, 0x1d, 0x11]), der(0x04, &san)])]),
    );
    let tbs = der_seq(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &serial),
        ecdsa.clone(),
        der_name(&[
            (OID_O, "Wirehunt Simulated CA"),
            (OID_CN, "Wirehunt Sim Root"),
        ]),
        der_seq(&[der(0x17, b"261123034829Z"), der(0x17, b"361120034829Z")]),
        der_name(&[(OID_CN, name)]),
        spki,
        exts,
    ]);
    let mut sig = vec![0u8];
    sig.extend_from_slice(&der_seq(&[
        der(0x02, &[&[0x01][..], &rng.bytes(31)].concat()),
        der(0x02, &[&[0x02][..], &rng.bytes(31)].concat()),
    ]));
    der_seq(&[tbs, ecdsa, der(0x03, &sig)])
}

/// The server's first flight. TLS 1.3: ServerHello + CCS + encrypted records. TLS 1.2: ServerHello,
/// Certificate (a leaf for `sni` + the CA, the generic leaf + CA when there is no SNI, or a
/// self-signed one), ServerKeyExchange, ServerHelloDone.
pub fn server_flight(
    rng: &mut Rng,
    tls13: bool,
    alpn: Option<&str>,
    self_signed: bool,
    sni: Option<&str>,
) -> Vec<u8> {
    let mut sh = Vec::new();
    u16be(&mut sh, 0x0303);
    sh.extend_from_slice(&rng.bytes(32));
    sh.push(32);
    sh.extend_from_slice(&rng.bytes(32));
    u16be(&mut sh, if tls13 { 0x1301 } else { 0xc02f });
    sh.push(0);
    let mut exts = Vec::new();
    if tls13 {
        ext(&mut exts, 43, &[0x03, 0x04]);
        let mut ks = Vec::new();
        u16be(&mut ks, 29);
        u16be(&mut ks, 32);
        ks.extend_from_slice(&rng.bytes(32));
        ext(&mut exts, 51, &ks);
    } else {
        ext(&mut exts, 0xff01, &[0]);
        ext(&mut exts, 11, &[1, 0]);
        ext(&mut exts, 23, &[]);
        if let Some(a) = alpn {
            let mut d = Vec::new();
            u16be(&mut d, (a.len() + 1) as u16);
            d.push(a.len() as u8);
            d.extend_from_slice(a.as_bytes());
            ext(&mut exts, 16, &d);
        }
    }
    u16be(&mut sh, exts.len() as u16);
    sh.extend_from_slice(&exts);
    let mut out = handshake_record(2, &sh, 0x0303);
    if tls13 {
        out.extend_from_slice(&record(20, 0x0303, &[1]));
        for n in [40usize, 900, 280, 60] {
            out.extend_from_slice(&record(23, 0x0303, &rng.bytes(n)));
        }
    } else {
        let leaf = match sni {
            Some(name) if !self_signed => leaf_certificate(rng, name),
            _ => LEAF_DER.to_vec(),
        };
        let chain: Vec<&[u8]> = if self_signed {
            vec![SELF_SIGNED_DER]
        } else {
            vec![&leaf, CA_DER]
        };
        let mut certs = Vec::new();
        for c in &chain {
            u24be(&mut certs, c.len());
            certs.extend_from_slice(c);
        }
        let mut cb = Vec::new();
        u24be(&mut cb, certs.len());
        cb.extend_from_slice(&certs);
        let mut ske = vec![3];
        u16be(&mut ske, 29);
        ske.push(32);
        ske.extend_from_slice(&rng.bytes(32));
        u16be(&mut ske, 0x0403);
        u16be(&mut ske, 72);
        ske.extend_from_slice(&rng.bytes(72));
        let mut hs = handshake_msg(11, &cb);
        hs.extend_from_slice(&handshake_msg(12, &ske));
        hs.extend_from_slice(&handshake_msg(14, &[]));
        out.extend_from_slice(&record(22, 0x0303, &hs));
    }
    out
}

/// The client's second flight: TLS 1.2 ClientKeyExchange + CCS + Finished; TLS 1.3 CCS + Finished.
pub fn client_finish(rng: &mut Rng, tls13: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if !tls13 {
        let mut cke = vec![32];
        cke.extend_from_slice(&rng.bytes(32));
        out.extend_from_slice(&handshake_record(16, &cke, 0x0303));
    }
    out.extend_from_slice(&record(20, 0x0303, &[1]));
    out.extend_from_slice(&record(if tls13 { 23 } else { 22 }, 0x0303, &rng.bytes(40)));
    out
}

/// TLS 1.2 server CCS + Finished.
pub fn server_finish(rng: &mut Rng) -> Vec<u8> {
    let mut out = record(20, 0x0303, &[1]);
    out.extend_from_slice(&record(22, 0x0303, &rng.bytes(40)));
    out
}

/// Application data records carrying `n` bytes of (random) ciphertext.
pub fn app_data(rng: &mut Rng, n: usize, pool: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + n / 16000 * 22 + 32);
    let mut left = n;
    while left > 0 {
        let k = left.min(16384);
        let start = rng.range(0, (pool.len() - k.min(pool.len())) as u64 + 1) as usize;
        let payload = &pool[start..start + k.min(pool.len())];
        out.extend_from_slice(&record(23, 0x0303, &[payload, &rng.bytes(16)].concat()));
        left -= k.min(pool.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn generated_leaf_names_its_server_and_its_issuer() {
        let mut rng = Rng::new(7);
        let der = leaf_certificate(&mut rng, "login.example.org");
        let (rest, cert) =
            X509Certificate::from_der(&der).expect("a certificate x509-parser reads");
        assert!(rest.is_empty());
        assert_eq!(cert.subject().to_string(), "CN=login.example.org");
        assert_eq!(
            cert.issuer().to_string(),
            "O=Wirehunt Simulated CA, CN=Wirehunt Sim Root"
        );
        let (_, ca) = X509Certificate::from_der(CA_DER).unwrap();
        assert_eq!(cert.issuer(), ca.subject());
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(
            san.value.general_names,
            vec![GeneralName::DNSName("login.example.org")]
        );
        assert_eq!(cert.validity().not_before.timestamp(), 1_795_405_709);
        assert_eq!(cert.validity().not_after.timestamp(), 2_110_765_709);
    }
}
