//! Capture readers: pcap (µs/ns, both byte orders, "modified" variant) and pcapng (several sections of
//! either endianness, several interfaces with their own link type, `if_tsresol` and `if_tsoffset`;
//! EPB, SPB and the obsolete PB), optionally gzip- or zstd-compressed, from a file or stdin.
//!
//! Invariants:
//! - The read loop is ours (pcap-parser's streaming reader underneath): the buffer grows on demand up
//!   to [`MAX_RECORD`]; a record claiming more is a counted error (`pcap_record_too_large`) and never an
//!   allocation of that size.
//! - Every frame handed to the callback has a 1-based frame number that matches Wireshark's.
//! - Anything readable before damage is delivered; damage ends the file with a [`ReadEnd`] that says why.
//! - The raw input bytes (before decompression) are hashed (sha256) and counted in the same pass.
pub mod name;
pub mod write;
pub use name::{name_path, path_name};

use crate::bytes::head;
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{self, Read};

/// Largest record (pcap) or block (pcapng) we are willing to buffer.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;
const INITIAL_BUFFER: usize = 1024 * 1024;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture timestamp, UTC microseconds since the epoch.
    pub ts: i64,
    pub linktype: u32,
    pub data: &'a [u8],
    /// Length of the packet on the wire (may exceed `data.len()` when cut by the snap length).
    pub orig_len: u32,
    /// 1-based frame number within the file.
    pub number: u64,
}

/// How a file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEnd {
    Complete,
    /// Readable up to the damage; `name` is the weird name, `detail` a human sentence.
    Damaged {
        name: &'static str,
        detail: String,
    },
}

/// What a reader learned about one input.
#[derive(Debug, Clone, Default)]
pub struct ReadStats {
    pub format: String,
    pub compression: Option<&'static str>,
    pub linktypes: BTreeSet<u32>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub packets_read: u64,
    /// Raw bytes of the input (compressed size for compressed inputs).
    pub size: u64,
    pub sha256: String,
    /// Timestamps outside [`TS_MIN`, `TS_MAX`] (a hostile if_tsoffset or if_tsresol), clamped.
    pub ts_clamped: u64,
    /// pcap records whose sub-second field is not below one second (1e6 us / 1e9 ns).
    pub ts_bad_fraction: u64,
}

/// The link type given to a pcapng packet whose interface the file never described (no IDB for its
/// interface id): decode skips it as `no_interface`, counted, never guessed.
pub const NO_INTERFACE: u32 = u32::MAX;

/// The earliest timestamp kept: 1970-01-01T00:00:00Z (pcap cannot say earlier; pcapng can only
/// through an offset that lies).
pub const TS_MIN: i64 = 0;
/// The latest: 9999-12-31T23:59:59.999999Z, so every timestamp prints in every format (arrow and
/// chrono fail on years past 262143, and a cast error inside a JSON cell made the output invalid).
pub const TS_MAX: i64 = 253_402_300_799_999_999;

/// Errors that make an input unreadable as a whole.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open: {0}")]
    Io(#[from] io::Error),
    #[error("not a pcap or pcapng capture (first bytes {0})")]
    NotACapture(String),
    #[error("empty input")]
    Empty,
    #[error("capture header is truncated or corrupt ({0})")]
    BadHeader(String),
}

/// A `Read` adapter that hashes and counts the bytes passing through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    hash: bool,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.hash {
            self.hasher.update(head(buf, n));
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// Fills the caller's buffer completely (or up to EOF) on every read: pcap-parser sizes its first
/// fill with a single `read`, which a pipe or a chained prefix would otherwise answer short.
struct FullReader<R> {
    inner: R,
}

impl<R: Read> Read for FullReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(buf.get_mut(n..).unwrap_or(&mut [])) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if n > 0 => {
                    // report what was read; the error surfaces on the next call
                    let _ = e;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

/// `read` into an empty buffer is `Ok(0)`, whatever the inner reader thinks of it. pcap-parser reads
/// into its buffer's free space, which is empty when the first read filled the whole buffer; zstd's
/// decoder answers an empty read with an error, so any frame decompressing to more than the 1 MiB
/// buffer failed as "corrupt compressed stream".
struct EmptyReadOk<R>(R);

impl<R: Read> Read for EmptyReadOk<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.0.read(buf)
    }
}

/// Shared counters between the hashing reader and the caller, so the reader can be boxed.
struct Tap<R> {
    inner: std::sync::Arc<std::sync::Mutex<HashingReader<R>>>,
}
impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.lock() {
            Ok(mut g) => g.read(buf),
            Err(_) => Err(io::Error::other("reader lock poisoned")),
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Read a whole capture from `raw`, calling `on_frame` for each packet. Returns the statistics and how
/// the file ended. Errors only when nothing at all could be read as a capture. The raw bytes are
/// hashed inline; use [`read_capture_opts`] with `hash = false` when the caller hashes the file
/// itself (ingest does, on a second thread, which takes sha256 off the parsing core).
pub fn read_capture<R, F>(raw: R, on_frame: F) -> Result<(ReadStats, ReadEnd), CaptureError>
where
    R: Read + Send + 'static,
    F: FnMut(&Frame<'_>),
{
    read_capture_opts(raw, true, on_frame)
}

pub fn read_capture_opts<R, F>(
    raw: R,
    hash: bool,
    mut on_frame: F,
) -> Result<(ReadStats, ReadEnd), CaptureError>
where
    R: Read + Send + 'static,
    F: FnMut(&Frame<'_>),
{
    let shared = std::sync::Arc::new(std::sync::Mutex::new(HashingReader {
        inner: raw,
        hasher: Sha256::new(),
        count: 0,
        hash,
    }));
    let mut tap = Tap {
        inner: shared.clone(),
    };
    // sniff the magic bytes, then hand them back in front of the stream (no extra buffering layer:
    // pcap-parser keeps its own buffer, so a BufReader here would copy every byte twice)
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        let n = tap.read(head.get_mut(got..).unwrap_or(&mut []))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    if got == 0 {
        return Err(CaptureError::Empty);
    }
    let head = self::head(&head, got).to_vec();
    let mut stats = ReadStats::default();
    let stream = FullReader {
        inner: io::Cursor::new(head.clone()).chain(tap),
    };
    let decoded: Box<dyn Read + Send> = if head.starts_with(&GZIP_MAGIC) {
        stats.compression = Some("gzip");
        Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(256 * 1024, stream),
        ))
    } else if head.starts_with(&ZSTD_MAGIC) {
        stats.compression = Some("zstd");
        Box::new(EmptyReadOk(zstd::stream::read::Decoder::new(stream)?))
    } else {
        Box::new(stream)
    };
    let end = match read_frames(decoded, &mut stats, &mut on_frame) {
        Err(CaptureError::NotACapture(_)) => Err(CaptureError::NotACapture(hex(&head))),
        other => other,
    };
    // Drain whatever the parser did not need so that size and sha256 cover the whole input. Not
    // when the input was rejected as a whole (not a capture, a broken header): nothing of it is
    // recorded, and draining `/dev/zero` or an endless pipe would never return.
    if end.is_ok() {
        let drain_result = {
            let mut g = shared
                .lock()
                .map_err(|_| io::Error::other("reader lock poisoned"))?;
            io::copy(&mut *g, &mut io::sink())
        };
        let _ = drain_result;
    }
    let g = shared
        .lock()
        .map_err(|_| io::Error::other("reader lock poisoned"))?;
    stats.size = g.count;
    if hash {
        stats.sha256 = hex(&g.hasher.clone().finalize());
    }
    let end = end?;
    Ok((stats, end))
}

/// sha256 of a file, read on its own (ingest runs this on a second thread), as hex.
pub fn sha256_file(path: &str) -> io::Result<String> {
    Ok(hex(&sha256_file_digest(path)?))
}

/// sha256 of a file, read on its own, as bytes.
pub fn sha256_file_digest(path: &str) -> io::Result<[u8; 32]> {
    let mut f = std::fs::File::open(name_path(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(head(&buf, n));
    }
    Ok(h.finalize().into())
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

/// Append `bytes` to `s` as lower-case hex, two digits per byte.
pub fn push_hex(s: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        // `write!(s, "{b:02x}")` per byte was 4% of a small-packet ingest (three digests per body)
        let digit = |n: u8| char::from(DIGITS.get(usize::from(n)).copied().unwrap_or(b'0'));
        s.push(digit(b >> 4));
        s.push(digit(b & 15));
    }
}

#[derive(Clone, Copy)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second.
    units: u64,
    offset_s: i64,
    snaplen: u32,
}

fn ng_ts_us(high: u32, low: u32, iface: &Interface) -> i64 {
    let v = ((high as u128) << 32) | low as u128;
    let us = if iface.units == 0 {
        0
    } else {
        v * 1_000_000 / iface.units as u128
    };
    (us.min(i64::MAX as u128) as i64).saturating_add(iface.offset_s.saturating_mul(1_000_000))
}

fn ts_units(tsresol: u8) -> u64 {
    if tsresol & 0x80 == 0 {
        let e = tsresol as u32;
        if e > 19 { 0 } else { 10u64.pow(e) }
    } else {
        let e = (tsresol & 0x7f) as u32;
        if e > 63 { 0 } else { 1u64 << e }
    }
}

fn read_frames<F>(
    input: Box<dyn Read + Send>,
    stats: &mut ReadStats,
    on_frame: &mut F,
) -> Result<ReadEnd, CaptureError>
where
    F: FnMut(&Frame<'_>),
{
    let mut reader = match pcap_parser::create_reader(INITIAL_BUFFER, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => return Err(CaptureError::Empty),
        Err(PcapError::HeaderNotRecognized) => {
            return Err(CaptureError::NotACapture(String::from("(see file)")));
        }
        Err(PcapError::ReadError) => {
            return Err(CaptureError::BadHeader(
                "read error (corrupt compressed stream?)".into(),
            ));
        }
        Err(e) => return Err(CaptureError::BadHeader(format!("{e:?}"))),
    };
    let mut capacity = INITIAL_BUFFER;
    let mut legacy_linktype: u32 = 0;
    let mut legacy_nanos = false;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut big_endian = false;
    let mut last_ts: i64 = 0;
    let mut number: u64 = 0;
    let mut saw_header = false;

    let mut emit = |stats: &mut ReadStats,
                    ts: i64,
                    linktype: u32,
                    data: &[u8],
                    orig_len: u32,
                    number: &mut u64| {
        *number += 1;
        stats.packets_read += 1;
        stats.linktypes.insert(linktype);
        let ts = if (TS_MIN..=TS_MAX).contains(&ts) {
            ts
        } else {
            stats.ts_clamped += 1;
            ts.clamp(TS_MIN, TS_MAX)
        };
        stats.first_ts = Some(stats.first_ts.map_or(ts, |f| f.min(ts)));
        stats.last_ts = Some(stats.last_ts.map_or(ts, |l| l.max(ts)));
        on_frame(&Frame {
            ts,
            linktype,
            data,
            orig_len,
            number: *number,
        });
    };

    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        saw_header = true;
                        legacy_linktype = h.network.0 as u32;
                        legacy_nanos = h.is_nanosecond_precision();
                        stats.format = if legacy_nanos {
                            "pcap-ns".into()
                        } else {
                            "pcap".into()
                        };
                        if h.is_modified_format() {
                            stats.format.push_str("-modified");
                        }
                    }
                    PcapBlockOwned::Legacy(b) => {
                        if b.ts_usec
                            >= if legacy_nanos {
                                1_000_000_000
                            } else {
                                1_000_000
                            }
                        {
                            stats.ts_bad_fraction += 1;
                        }
                        let frac = if legacy_nanos {
                            b.ts_usec as i64 / 1000
                        } else {
                            b.ts_usec as i64
                        };
                        let ts = b.ts_sec as i64 * 1_000_000 + frac;
                        last_ts = ts;
                        let len = (b.caplen as usize).min(b.data.len());
                        emit(
                            stats,
                            ts,
                            legacy_linktype,
                            head(b.data, len),
                            b.origlen,
                            &mut number,
                        );
                    }
                    PcapBlockOwned::NG(block) => match block {
                        Block::SectionHeader(shb) => {
                            saw_header = true;
                            stats.format = "pcapng".into();
                            big_endian = shb.big_endian();
                            interfaces.clear();
                        }
                        Block::InterfaceDescription(idb) => {
                            let units = ts_units(idb.if_tsresol);
                            interfaces.push(Interface {
                                linktype: idb.linktype.0 as u32,
                                units,
                                offset_s: idb.if_tsoffset,
                                snaplen: idb.snaplen,
                            });
                        }
                        Block::EnhancedPacket(epb) => match interfaces.get(epb.if_id as usize) {
                            Some(iface) => {
                                let ts = ng_ts_us(epb.ts_high, epb.ts_low, iface);
                                last_ts = ts;
                                let len = (epb.caplen as usize).min(epb.data.len());
                                emit(
                                    stats,
                                    ts,
                                    iface.linktype,
                                    head(epb.data, len),
                                    epb.origlen,
                                    &mut number,
                                );
                            }
                            None => {
                                // A packet on an undeclared interface: still a packet read; link type unknown.
                                emit(stats, last_ts, NO_INTERFACE, &[], epb.origlen, &mut number);
                            }
                        },
                        Block::SimplePacket(spb) => {
                            let (linktype, snap) = interfaces
                                .first()
                                .map_or((NO_INTERFACE, 0), |i| (i.linktype, i.snaplen));
                            let mut len = (spb.origlen as usize).min(spb.data.len());
                            if snap > 0 {
                                len = len.min(snap as usize);
                            }
                            emit(
                                stats,
                                last_ts,
                                linktype,
                                head(spb.data, len),
                                spb.origlen,
                                &mut number,
                            );
                        }
                        Block::Unknown(u)
                            if u.block_type == 2 || u.block_type.swap_bytes() == 2 =>
                        {
                            // Obsolete Packet Block: if_id u16, drops u16, ts_high, ts_low, caplen, len, data.
                            let d = u.data;
                            let rd32 = |o: usize| -> Option<u32> {
                                let b: [u8; 4] = d.get(o..o + 4)?.try_into().ok()?;
                                Some(if big_endian {
                                    u32::from_be_bytes(b)
                                } else {
                                    u32::from_le_bytes(b)
                                })
                            };
                            let rd16 = |o: usize| -> Option<u16> {
                                let b: [u8; 2] = d.get(o..o + 2)?.try_into().ok()?;
                                Some(if big_endian {
                                    u16::from_be_bytes(b)
                                } else {
                                    u16::from_le_bytes(b)
                                })
                            };
                            match (rd16(0), rd32(4), rd32(8), rd32(12), rd32(16)) {
                                (Some(ifid), Some(hi), Some(lo), Some(cap), Some(orig)) => {
                                    let iface = interfaces.get(ifid as usize).copied();
                                    let (linktype, ts) = match iface {
                                        Some(i) => (i.linktype, ng_ts_us(hi, lo, &i)),
                                        None => (NO_INTERFACE, last_ts),
                                    };
                                    last_ts = ts;
                                    let body = d.get(20..).unwrap_or(&[]);
                                    let len = (cap as usize).min(body.len());
                                    emit(stats, ts, linktype, head(body, len), orig, &mut number);
                                }
                                _ => emit(stats, last_ts, NO_INTERFACE, &[], 0, &mut number),
                            }
                        }
                        _ => {}
                    },
                }
                // no shift here: `consume` would move the rest of the buffer to its start each time
                // the position passes half of it (a second copy of the file); `refill` shifts only
                // the few bytes of the record it is completing
                reader.consume_noshift(offset);
            }
            Err(PcapError::Eof) => return Ok(ReadEnd::Complete),
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    return Ok(ReadEnd::Damaged {
                        name: "read_error",
                        detail: format!("read error after frame {number}"),
                    });
                }
            }
            Err(PcapError::BufferTooSmall) => {
                if capacity >= MAX_RECORD {
                    return Ok(ReadEnd::Damaged {
                        name: "pcap_record_too_large",
                        detail: format!(
                            "record after frame {number} claims more than {} MiB; rest of file skipped",
                            MAX_RECORD >> 20
                        ),
                    });
                }
                capacity = (capacity * 2).min(MAX_RECORD);
                reader.grow(capacity);
                if reader.refill().is_err() {
                    return Ok(ReadEnd::Damaged {
                        name: "read_error",
                        detail: format!("read error after frame {number}"),
                    });
                }
            }
            Err(PcapError::UnexpectedEof) => {
                return Ok(ReadEnd::Damaged {
                    name: "file_truncated",
                    detail: format!("file ends inside a record after frame {number}"),
                });
            }
            Err(PcapError::ReadError) => {
                return Ok(ReadEnd::Damaged {
                    name: "read_error",
                    detail: format!("read error after frame {number}"),
                });
            }
            Err(e) => {
                if !saw_header {
                    return Err(CaptureError::BadHeader(
                        format!("{e:?}").chars().take(80).collect(),
                    ));
                }
                return Ok(ReadEnd::Damaged {
                    name: "capture_corrupt",
                    detail: format!("unparseable record after frame {number}: {}", short_err(&e)),
                });
            }
        }
    }
}

fn short_err<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => format!("{k:?}"),
        PcapError::HeaderNotRecognized => "header not recognised".into(),
        _ => "invalid data".into(),
    }
}

/// Open a path (or `-` for stdin) as a byte source.
pub fn open_source(path: &str) -> io::Result<Box<dyn Read + Send>> {
    if path == "-" {
        Ok(Box::new(io::stdin()))
    } else {
        Ok(Box::new(std::fs::File::open(name_path(path))?))
    }
}

/// Can `path` be read a second time, independently (a regular file, not stdin, a pipe such as
/// `<(zcat f.gz)`, a FIFO or a device)? Only such inputs may be hashed by a second reader or hashed
/// before ingest; reading a stream twice would split its bytes between the two readers.
pub fn is_rereadable(path: &str) -> bool {
    path != "-" && std::fs::metadata(name_path(path)).is_ok_and(|m| m.is_file())
}

/// Extensions of the files a directory may hold beside its captures (a corpus's MANIFEST.tsv and
/// README.md, a sensor's notes): skipped when a directory is expanded, and said so
/// ([`Expanded::skipped`]). A file named on the command line is always read.
pub const NOT_CAPTURES: &[&str] = &["tsv", "md", "json", "txt"];

/// Inputs after [`expand_inputs`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// What to read, in order (each a [`path_name`]).
    pub files: Vec<String>,
    /// Files found in directories and left out because of their extension ([`NOT_CAPTURES`]).
    pub skipped: Vec<String>,
}

/// Expand inputs (names, see [`name`]): files as given, directories recursively (sorted; hidden
/// files and [`NOT_CAPTURES`] left out, the latter listed in [`Expanded::skipped`]), `-` as stdin.
pub fn expand_inputs(inputs: &[String]) -> io::Result<Expanded> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for i in inputs {
        if i == "-" {
            out.push(i.clone());
            continue;
        }
        let p = name_path(i);
        let p = p.as_path();
        if p.is_dir() {
            // symlinks are followed (a sensor's rotated files are often links into an archive);
            // directories are visited once by their canonical path, so a link loop ends
            let mut stack = vec![p.to_path_buf()];
            let mut seen_dirs = std::collections::HashSet::new();
            let mut files = Vec::new();
            while let Some(d) = stack.pop() {
                if !seen_dirs.insert(std::fs::canonicalize(&d).unwrap_or_else(|_| d.clone())) {
                    continue;
                }
                for e in std::fs::read_dir(&d)? {
                    let e = e?;
                    let name = e.file_name();
                    if name.to_string_lossy().starts_with('.') {
                        continue;
                    }
                    let path = e.path();
                    // metadata() follows a symlink; a dangling one is skipped
                    let Ok(md) = std::fs::metadata(&path) else {
                        continue;
                    };
                    if md.is_dir() {
                        stack.push(path);
                    } else if md.is_file() {
                        let doc = path.extension().is_some_and(|x| {
                            NOT_CAPTURES.iter().any(|n| x.eq_ignore_ascii_case(n))
                        });
                        if doc {
                            skipped.push(path_name(&path));
                        } else {
                            files.push(path_name(&path));
                        }
                    }
                }
            }
            files.sort();
            out.extend(files);
        } else if p.exists() {
            out.push(i.clone());
        } else {
            let matches: Vec<String> = glob::glob(i)
                .map(|g| g.filter_map(Result::ok).map(|p| path_name(&p)).collect())
                .unwrap_or_default();
            if matches.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{i}: no such file or directory"),
                ));
            }
            out.extend(matches);
        }
    }
    skipped.sort();
    Ok(Expanded {
        files: out,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_le(nanos: bool, linktype: u32, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(if nanos { 0xa1b23c4du32 } else { 0xa1b2c3d4u32 }).to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&linktype.to_le_bytes());
        for (s, f, d) in recs {
            v.extend_from_slice(&s.to_le_bytes());
            v.extend_from_slice(&f.to_le_bytes());
            v.extend_from_slice(&(d.len() as u32).to_le_bytes());
            v.extend_from_slice(&(d.len() as u32).to_le_bytes());
            v.extend_from_slice(d);
        }
        v
    }

    /// (timestamp, link type, bytes) of a frame read
    type FrameRead = (i64, u32, Vec<u8>);

    fn collect(bytes: Vec<u8>) -> (Vec<FrameRead>, ReadStats, ReadEnd) {
        let mut frames = Vec::new();
        let (s, e) = read_capture(io::Cursor::new(bytes), |f| {
            frames.push((f.ts, f.linktype, f.data.to_vec()))
        })
        .unwrap();
        (frames, s, e)
    }

    #[test]
    fn pcap_micro_and_nano_timestamps() {
        let (f, s, e) = collect(pcap_le(false, 1, &[(10, 5, b"abc"), (11, 0, b"")]));
        assert_eq!(e, ReadEnd::Complete);
        assert_eq!(s.packets_read, 2);
        assert_eq!(f[0], (10_000_005, 1, b"abc".to_vec()));
        let (f, s, _) = collect(pcap_le(true, 101, &[(10, 5_000, b"x")]));
        assert_eq!(s.format, "pcap-ns");
        assert_eq!(f[0].0, 10_000_005);
        assert_eq!(f[0].1, 101);
    }

    #[test]
    fn truncated_pcap_keeps_frames_before_the_damage() {
        let mut b = pcap_le(false, 1, &[(1, 0, b"0123456789"), (2, 0, b"0123456789")]);
        b.truncate(b.len() - 4);
        let (f, s, e) = collect(b);
        assert_eq!(f.len(), 1);
        assert_eq!(s.packets_read, 1);
        assert!(matches!(
            e,
            ReadEnd::Damaged {
                name: "file_truncated",
                ..
            }
        ));
    }

    #[test]
    fn huge_record_is_a_counted_error_not_an_allocation() {
        let mut b = pcap_le(false, 1, &[(1, 0, b"abcd")]);
        // second record header claiming 3 GB
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&3_000_000_000u32.to_le_bytes());
        b.extend_from_slice(&3_000_000_000u32.to_le_bytes());
        b.extend_from_slice(&[0u8; 100]);
        let (f, _s, e) = collect(b);
        assert_eq!(f.len(), 1);
        match e {
            ReadEnd::Damaged { name, .. } => assert!(
                name == "pcap_record_too_large"
                    || name == "file_truncated"
                    || name == "capture_corrupt",
                "{name}"
            ),
            ReadEnd::Complete => panic!("must not be complete"),
        }
    }

    #[test]
    fn gzip_is_transparent_and_hash_covers_raw_bytes() {
        use std::io::Write;
        let raw = pcap_le(false, 1, &[(1, 0, b"abcd")]);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&raw).unwrap();
        let gz = enc.finish().unwrap();
        let expected = hex(&Sha256::digest(&gz));
        let (f, s, _) = collect(gz.clone());
        assert_eq!(f.len(), 1);
        assert_eq!(s.compression, Some("gzip"));
        assert_eq!(s.size, gz.len() as u64);
        assert_eq!(s.sha256, expected);
    }

    #[test]
    fn garbage_is_not_a_capture() {
        let r = read_capture(
            io::Cursor::new(b"hello world, not a pcap at all".to_vec()),
            |_| {},
        );
        assert!(r.is_err());
    }

    #[test]
    fn pcapng_tsresol_units() {
        assert_eq!(ts_units(6), 1_000_000);
        assert_eq!(ts_units(9), 1_000_000_000);
        assert_eq!(ts_units(0x80 | 10), 1024);
        assert_eq!(ts_units(40), 0);
    }
}
