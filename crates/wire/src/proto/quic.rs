//! QUIC (RFC 9000, RFC 9001). A QUIC connection's first packets, the Initial packets, are
//! protected with keys derived from a value on the wire (the Destination Connection ID of the
//! client's first Initial) and a salt published in the RFC, so a passive observer can read them, as
//! Zeek and Wireshark do. They carry the TLS ClientHello and ServerHello in CRYPTO frames: this
//! analyzer removes header protection, decrypts the Initial packets of each direction, puts each
//! direction's CRYPTO stream back in order (clients split and reorder it on purpose) and hands it
//! to the TLS analyzer as handshake records. A QUIC connection thus gets a `tls` row (server name,
//! ALPN, JA3/JA3S, JA4 with `q` for QUIC) and `conn.service` `quic`. Everything after the Initial
//! packets is protected with keys from the key exchange and is only counted.
//!
//! Recognised by structure, not port: the first datagram of the flow is a long-header Initial
//! packet of a known version, in a datagram of at least 1200 bytes (RFC 9000 14.1: a client pads
//! its Initial datagrams to that size). Versions 1 and 2 (RFC 9369) are decrypted; the late drafts
//! are recognised as QUIC without decrypting. Bounded per flow: at most [`MAX_INITIALS`]
//! Initial packets a direction are decrypted and [`MAX_CRYPTO`] bytes of CRYPTO data kept.

use super::tls::TlsAnalyzer;
use super::{ConnCtx, Dir, PerDir, StreamAnalyzer};
use crate::bytes::{be32, tail};
use crate::decode::Packet;
use crate::record::RecordSink;
use ring::aead::quic::{AES_128, HeaderProtectionKey};
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use std::collections::BTreeMap;

/// QUIC version 1's Initial salt (RFC 9001 5.2).
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// QUIC version 2's (RFC 9369 3.3.1).
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
const V1: u32 = 1;
const V2: u32 = 0x6b33_43cf;

/// Initial packets decrypted per direction (a handshake needs one to three).
pub const MAX_INITIALS: u32 = 16;
/// CRYPTO bytes kept per direction (a ClientHello with post-quantum key shares is ~2 KB).
pub const MAX_CRYPTO: u64 = 64 * 1024;

fn known_version(v: u32) -> bool {
    v == V1 || v == V2 || v & 0xffff_ff00 == 0xff00_0000
}

/// A QUIC variable-length integer at `off`: its value and the offset after it.
pub fn varint(b: &[u8], off: usize) -> Option<(u64, usize)> {
    let first = *b.get(off)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(off..off.checked_add(len)?)?;
    let mut v = u64::from(first & 0x3f);
    for x in bytes.iter().skip(1) {
        v = (v << 8) | u64::from(*x);
    }
    Some((v, off + len))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// One long-header packet: its type, version, connection IDs, where its (protected) packet number
/// starts and where the packet ends (packets may be coalesced in one datagram).
#[derive(Debug)]
struct Long<'a> {
    kind: Kind,
    version: u32,
    dcid: &'a [u8],
    pn_off: usize,
    end: usize,
}

fn long_header(b: &[u8]) -> Option<Long<'_>> {
    let first = *b.first()?;
    if first & 0x80 == 0 {
        return None;
    }
    let version = be32(b, 1)?;
    if version == 0 {
        // version negotiation: no packet number, nothing to read
        return None;
    }
    let dl = usize::from(*b.get(5)?);
    let dcid = b.get(6..6 + dl)?;
    let sl = usize::from(*b.get(6 + dl)?);
    if dl > 20 || sl > 20 {
        return None;
    }
    let mut i = 7 + dl + sl;
    // the packet types' codes: v2 rotated them (RFC 9369 3.2)
    let kind = match ((first >> 4) & 3, version == V2) {
        (0, false) | (1, true) => Kind::Initial,
        (1, false) | (2, true) => Kind::ZeroRtt,
        (2, false) | (3, true) => Kind::Handshake,
        _ => Kind::Retry,
    };
    if kind == Kind::Retry {
        return Some(Long {
            kind,
            version,
            dcid,
            pn_off: i,
            end: b.len(),
        });
    }
    if kind == Kind::Initial {
        let (token_len, j) = varint(b, i)?;
        i = j.checked_add(usize::try_from(token_len).ok()?)?;
    }
    let (len, j) = varint(b, i)?;
    let end = j.checked_add(usize::try_from(len).ok()?)?;
    (end <= b.len()).then_some(Long {
        kind,
        version,
        dcid,
        pn_off: j,
        end,
    })
}

/// Does a flow whose first datagram is `first` speak QUIC?
pub fn applies(first: &[u8]) -> bool {
    first.len() >= 1200
        && long_header(first).is_some_and(|h| h.kind == Kind::Initial && known_version(h.version))
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// TLS 1.3's HKDF-Expand-Label with an empty context (RFC 8446 7.1).
fn expand_label(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) -> Option<()> {
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(6 + label.len()).ok()?];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

/// The client's or the server's Initial secret for a connection of `version` (1 or 2) whose client
/// chose `dcid`.
fn initial_secret(version: u32, dcid: &[u8], client: bool) -> Option<[u8; 32]> {
    let salt: &[u8] = match version {
        V1 => &SALT_V1,
        V2 => &SALT_V2,
        _ => return None,
    };
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(dcid);
    let mut s = [0u8; 32];
    let label: &[u8] = if client { b"client in" } else { b"server in" };
    expand_label(&prk, label, &mut s)?;
    Some(s)
}

struct Keys {
    key: LessSafeKey,
    iv: [u8; 12],
    hp: HeaderProtectionKey,
}

/// The packet protection keys from an Initial secret (version 2 renamed the labels).
fn keys(version: u32, secret: &[u8; 32]) -> Option<Keys> {
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, secret);
    let (mut k, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    let [lk, li, lh]: [&[u8]; 3] = if version == V2 {
        [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"]
    } else {
        [b"quic key", b"quic iv", b"quic hp"]
    };
    expand_label(&prk, lk, &mut k)?;
    expand_label(&prk, li, &mut iv)?;
    expand_label(&prk, lh, &mut hp)?;
    Some(Keys {
        key: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &k).ok()?),
        iv,
        hp: HeaderProtectionKey::new(&AES_128, &hp).ok()?,
    })
}

/// The full packet number from its truncated form (RFC 9000 A.3).
fn decode_pn(largest: Option<u64>, truncated: u64, bits: u32) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << bits;
    let hwin = win / 2;
    let candidate = (expected & !(win - 1)) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// Remove header protection from the packet `pkt` (its first byte to its end) and decrypt it:
/// the plaintext frames and the packet number, or `None` when it does not authenticate.
fn open(pkt: &[u8], pn_off: usize, keys: &Keys, largest: Option<u64>) -> Option<(Vec<u8>, u64)> {
    let sample = pkt.get(pn_off + 4..pn_off + 20)?;
    let mask = keys.hp.new_mask(sample).ok()?;
    let [m0, m1, m2, m3, m4] = mask;
    let first = pkt.first()? ^ (m0 & 0x0f);
    let pn_len = usize::from(first & 3) + 1;
    let mut header = pkt.get(..pn_off + pn_len)?.to_vec();
    *header.first_mut()? = first;
    let mut truncated = 0u64;
    for (b, m) in header.iter_mut().skip(pn_off).zip([m1, m2, m3, m4]) {
        *b ^= m;
        truncated = (truncated << 8) | u64::from(*b);
    }
    let pn = decode_pn(largest, truncated, 8 * pn_len as u32);
    let mut nonce = keys.iv;
    for (n, b) in nonce.iter_mut().skip(4).zip(pn.to_be_bytes()) {
        *n ^= b;
    }
    let mut payload = pkt.get(pn_off + pn_len..)?.to_vec();
    let plain = keys
        .key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&header),
            &mut payload,
        )
        .ok()?;
    Some((plain.to_vec(), pn))
}

/// The CRYPTO frames of a decrypted Initial or Handshake payload, as (offset, data). Only
/// PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE may appear there (RFC 9000 12.4): the walk stops
/// at anything else, and at a frame that runs past the payload.
fn crypto_frames(p: &[u8]) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = |i: usize| varint(p, i);
    while let Some((t, j)) = n(i) {
        i = j;
        match t {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                // largest acknowledged, delay, range count, first range, then count (gap, length)
                let Some((_, j)) = n(i).and_then(|(_, j)| n(j)) else {
                    break;
                };
                let Some((count, j)) = n(j) else { break };
                let Some((_, mut j)) = n(j) else { break };
                let pairs = if t == 0x03 { count * 2 + 3 } else { count * 2 };
                let mut ok = true;
                for _ in 0..pairs.min(p.len() as u64) {
                    match n(j) {
                        Some((_, k)) => j = k,
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok {
                    break;
                }
                i = j;
            }
            0x06 => {
                let Some((off, j)) = n(i) else { break };
                let Some((len, j)) = n(j) else { break };
                let Some(data) = usize::try_from(len)
                    .ok()
                    .and_then(|l| p.get(j..j.checked_add(l)?))
                else {
                    break;
                };
                out.push((off, data));
                i = j + data.len();
            }
            _ => break,
        }
    }
    out
}

/// One direction's CRYPTO stream: what was handed on, and what arrived ahead of it.
#[derive(Default)]
struct Crypto {
    next: u64,
    ahead: BTreeMap<u64, Vec<u8>>,
    held: u64,
}

impl Crypto {
    /// Add a frame; returns the bytes that are now in order (empty when none).
    fn add(&mut self, off: u64, data: &[u8]) -> Vec<u8> {
        let end = off.saturating_add(data.len() as u64);
        if end > self.next && end <= MAX_CRYPTO && self.held + data.len() as u64 <= MAX_CRYPTO {
            self.held += data.len() as u64;
            let e = self.ahead.entry(off).or_default();
            if data.len() > e.len() {
                *e = data.to_vec();
            }
        }
        let mut ready = Vec::new();
        while let Some((&o, _)) = self.ahead.first_key_value() {
            if o > self.next {
                break;
            }
            let Some((o, d)) = self.ahead.pop_first() else {
                break;
            };
            let skip = usize::try_from(self.next - o).unwrap_or(usize::MAX);
            let new = tail(&d, skip);
            ready.extend_from_slice(new);
            self.next += new.len() as u64;
        }
        ready
    }
}

/// QUIC for one UDP flow.
#[derive(Default)]
pub struct QuicUdp {
    tls: TlsAnalyzer,
    /// The version and Destination Connection ID of the client's Initial: both directions' Initial
    /// keys come from them (a Retry makes the client choose again).
    dcid: Option<(u32, Vec<u8>)>,
    /// Each direction's keys, derived when that direction's first Initial arrives (a flow of client
    /// Initials that no server answers pays for one direction).
    keys: PerDir<Option<Keys>>,
    largest: PerDir<Option<u64>>,
    crypto: PerDir<Crypto>,
    initials: PerDir<u32>,
    /// A 1-RTT (short header) packet was seen in that direction: the handshake is done there.
    short: PerDir<bool>,
    decrypted: bool,
    failed: bool,
    ts: i64,
}

impl QuicUdp {
    pub fn new() -> QuicUdp {
        QuicUdp {
            tls: TlsAnalyzer::quic(),
            ..Default::default()
        }
    }

    fn initial(
        &mut self,
        dir: Dir,
        h: &Long<'_>,
        pkt: &[u8],
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) {
        if !(h.version == V1 || h.version == V2) || self.initials[dir] >= MAX_INITIALS {
            return;
        }
        if dir == Dir::Orig && self.dcid.is_none() {
            self.dcid = Some((h.version, h.dcid.to_vec()));
            self.keys = PerDir::default();
        }
        if self.keys[dir].is_none() {
            let Some((v, dcid)) = self.dcid.as_ref() else {
                return;
            };
            self.keys[dir] = initial_secret(*v, dcid, dir == Dir::Orig).and_then(|s| keys(*v, &s));
        }
        let Some(k) = self.keys[dir].as_ref() else {
            return;
        };
        self.initials[dir] += 1;
        let Some((plain, pn)) = open(pkt, h.pn_off, k, self.largest[dir]) else {
            if !self.failed {
                self.failed = true;
                out.weird(
                    self.ts,
                    Some(&ctx.uid),
                    "quic_initial_undecryptable",
                    &format!(
                        "a {dir:?} Initial packet of {} bytes did not authenticate with the keys of the client's connection ID",
                        pkt.len()
                    ),
                    None,
                );
            }
            return;
        };
        self.decrypted = true;
        self.largest[dir] = Some(self.largest[dir].map_or(pn, |l| l.max(pn)));
        for (off, data) in crypto_frames(&plain) {
            let ready = self.crypto[dir].add(off, data);
            // the in-order handshake bytes, as TLS handshake records (at most 16 KiB each)
            for chunk in ready.chunks(16 * 1024) {
                let mut rec = Vec::with_capacity(chunk.len() + 5);
                rec.extend_from_slice(&[22, 3, 3]);
                rec.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
                rec.extend_from_slice(chunk);
                self.tls.data(dir, self.ts, &rec, ctx, out);
            }
        }
    }
}

impl super::DatagramAnalyzer for QuicUdp {
    fn datagram(&mut self, dir: Dir, p: &Packet<'_>, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        self.ts = p.ts;
        self.tls.count(dir, p.payload.len() as u64);
        let mut b = p.payload;
        while let Some(first) = b.first().copied() {
            if first & 0x80 == 0 {
                // a short-header (1-RTT) packet: application data, protected with handshake keys;
                // to the TLS analyzer the handshake of that direction is over
                if !self.short[dir] {
                    self.short[dir] = true;
                    self.tls.data(dir, p.ts, &[20, 3, 3, 0, 1, 1], ctx, out);
                }
                break;
            }
            let Some(h) = long_header(b) else { break };
            match h.kind {
                Kind::Initial => {
                    let pkt = b.get(..h.end).unwrap_or_default();
                    self.initial(dir, &h, pkt, ctx, out);
                }
                // the server asks the client to start again with a new connection ID
                Kind::Retry => {
                    if dir == Dir::Resp {
                        self.dcid = None;
                        self.keys = PerDir::default();
                        self.largest = PerDir::default();
                    }
                    break;
                }
                Kind::ZeroRtt | Kind::Handshake => {}
            }
            b = tail(b, h.end);
        }
    }

    fn finish(&mut self, ctx: &ConnCtx, out: &mut dyn RecordSink) -> Option<&'static str> {
        if self.decrypted {
            self.tls.finish(self.ts, ctx, out);
        }
        Some("quic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 9001 Appendix A: the client's connection ID, the secrets, the plaintexts and both
    // protected Initial packets (crates/wire/testdata: tests/detection.rs sends them too)
    const DCID: &str = "8394c8f03e515708";
    const CLIENT_SECRET: &str = "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea";
    const SERVER_SECRET: &str = "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b";
    const CLIENT_PAYLOAD: &str = "
        060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
        04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
        616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
        04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
        baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
        0d0010000e0403050306030203080408 050806002d00020101001c0002400100
        3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
        75300901100f088394c8f03e51570806 048000ffff";
    const CLIENT_PACKET: &str = include_str!("../../testdata/rfc9001_client_initial.hex");
    const SERVER_PAYLOAD: &str = "
        02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739
        88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94
        0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00
        020304";
    const SERVER_PACKET: &str = include_str!("../../testdata/rfc9001_server_initial.hex");

    #[test]
    fn rfc9001_initial_secrets_and_packets() {
        let dcid = unhex(DCID);
        assert_eq!(
            initial_secret(V1, &dcid, true).unwrap().to_vec(),
            unhex(CLIENT_SECRET)
        );
        assert_eq!(
            initial_secret(V1, &dcid, false).unwrap().to_vec(),
            unhex(SERVER_SECRET)
        );
        // the client's Initial: header protection off, packet number 2, the CRYPTO frame plus
        // PADDING to 1162 bytes
        let c = unhex(CLIENT_PACKET);
        assert!(applies(&c));
        let h = long_header(&c).unwrap();
        assert_eq!(
            (h.kind, h.version, h.dcid, h.end),
            (Kind::Initial, 1, &dcid[..], 1200)
        );
        let k = keys(V1, &initial_secret(V1, &dcid, true).unwrap()).unwrap();
        let (plain, pn) = open(&c, h.pn_off, &k, None).unwrap();
        assert_eq!(pn, 2);
        assert_eq!(plain.len(), 1162);
        let want = unhex(CLIENT_PAYLOAD);
        assert_eq!(&plain[..want.len()], &want[..]);
        assert!(plain[want.len()..].iter().all(|&b| b == 0));
        let frames = crypto_frames(&plain);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, 0);
        assert_eq!(frames[0].1.len(), 241);
        // the server's Initial: ACK then CRYPTO (the ServerHello), packet number 1
        let s = unhex(SERVER_PACKET);
        let h = long_header(&s).unwrap();
        let k = keys(V1, &initial_secret(V1, &dcid, false).unwrap()).unwrap();
        let (plain, pn) = open(&s, h.pn_off, &k, None).unwrap();
        assert_eq!((pn, plain), (1, unhex(SERVER_PAYLOAD)));
        assert!(
            !applies(&s),
            "a server's Initial is not 1200 bytes; a flow starts with the client's"
        );
        // one flipped bit anywhere fails authentication
        let mut bad = c.clone();
        bad[600] ^= 1;
        let k = keys(V1, &initial_secret(V1, &dcid, true).unwrap()).unwrap();
        let hb = long_header(&bad).unwrap();
        assert!(open(&bad, hb.pn_off, &k, None).is_none());
    }

    /// RFC 9369 Appendix A.2: the same ClientHello in a version 2 Initial (other salt, other labels,
    /// other packet type code).
    #[test]
    fn rfc9369_version_2_client_initial() {
        let c = unhex(include_str!("../../testdata/rfc9369_client_initial.hex"));
        assert!(applies(&c));
        let h = long_header(&c).unwrap();
        assert_eq!((h.kind, h.version, h.end), (Kind::Initial, V2, 1200));
        let k = keys(V2, &initial_secret(V2, &unhex(DCID), true).unwrap()).unwrap();
        let (plain, pn) = open(&c, h.pn_off, &k, None).unwrap();
        assert_eq!(pn, 2);
        let want = unhex(CLIENT_PAYLOAD);
        assert_eq!(&plain[..want.len()], &want[..]);
        // version 1's keys do not open it
        let k1 = keys(V1, &initial_secret(V1, &unhex(DCID), true).unwrap()).unwrap();
        assert!(open(&c, h.pn_off, &k1, None).is_none());
        assert!(initial_secret(0xff00_001d, &unhex(DCID), true).is_none());
    }

    #[test]
    fn varints_and_packet_numbers() {
        // RFC 9000 A.1 and A.3 examples
        assert_eq!(
            varint(&unhex("c2197c5eff14e88c"), 0),
            Some((151_288_809_941_952_652, 8))
        );
        assert_eq!(varint(&unhex("9d7f3e7d"), 0), Some((494_878_333, 4)));
        assert_eq!(varint(&unhex("7bbd"), 0), Some((15_293, 2)));
        assert_eq!(varint(&unhex("25"), 0), Some((37, 1)));
        assert_eq!(varint(&unhex("40"), 0), None);
        assert_eq!(decode_pn(Some(0xa82f30ea), 0x9b32, 16), 0xa82f9b32);
    }

    #[test]
    fn crypto_frames_reassemble_out_of_order_and_stay_bounded() {
        let mut c = Crypto::default();
        assert!(c.add(5, b"fghij").is_empty());
        assert_eq!(c.add(0, b"abcdefg"), b"abcdefghij");
        // a repeat adds nothing, an overlap only its new part
        assert!(c.add(0, b"abc").is_empty());
        assert_eq!(c.add(8, b"ijklm"), b"klm");
        assert!(c.add(MAX_CRYPTO, b"x").is_empty());
        assert!(c.add(u64::MAX - 1, b"xyz").is_empty());
        // hostile frames: lengths past the payload, truncated varints
        assert!(crypto_frames(&unhex("06 00 40 ff 01 02")).is_empty());
        assert!(crypto_frames(&unhex("02 ff")).is_empty());
        assert_eq!(crypto_frames(&unhex("00 00 01 06 00 02 aa bb 00")).len(), 1);
        for n in 0..64 {
            let _ = long_header(&unhex(CLIENT_PACKET)[..n]);
        }
    }

    #[test]
    fn mutated_and_cut_packets_never_panic() {
        let c = unhex(CLIENT_PACKET);
        let dcid = unhex(DCID);
        let k = keys(V1, &initial_secret(V1, &dcid, true).unwrap()).unwrap();
        let (plain, _) = open(&c, long_header(&c).unwrap().pn_off, &k, None).unwrap();
        // xorshift: the same mutations every run
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2000 {
            let mut b = c.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % b.len() as u64) as usize;
                b[i] = next() as u8;
            }
            b.truncate((next() % (b.len() as u64 + 1)) as usize);
            let _ = applies(&b);
            if let Some(h) = long_header(&b) {
                assert!(h.end <= b.len() && h.pn_off <= b.len());
                let _ = open(&b, h.pn_off, &k, Some(next() % 1000));
            }
            let mut f = plain.clone();
            let i = (next() % f.len() as u64) as usize;
            f[i] = next() as u8;
            f.truncate((next() % (f.len() as u64 + 1)) as usize);
            for (off, d) in crypto_frames(&f) {
                assert!(d.len() <= f.len());
                let _ = Crypto::default().add(off, d);
            }
        }
    }
}
