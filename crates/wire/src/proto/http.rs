//! HTTP/1.0 and 1.1 on any port (recognised by a request line, or a status line when the capture
//! starts with a reply) → the `http` table. Heads are parsed with httparse; bodies are only counted:
//! Content-Length, chunked (sizes counted across chunks and segments), read-until-close, and the
//! bodiless cases (HEAD, 1xx, 204, 304). Keep-alive and pipelining pair responses first in, first out.
//! CONNECT (2xx) and Upgrade (101) end HTTP parsing for the connection. A gap inside a body is counted
//! and flagged; a gap inside a head stops parsing that direction.

use super::files::{BodyMeta, FileBody};
use super::{ConnCtx, Dir, PerDir, StreamAnalyzer, escape_bytes};
use crate::bytes::{head, tail};
use crate::record::RecordSink;
use crate::record::{HttpRecord, Record};
use base64::Engine;
use std::collections::VecDeque;

const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;

const METHODS: &[&str] = &[
    "GET",
    "POST",
    "HEAD",
    "PUT",
    "DELETE",
    "OPTIONS",
    "CONNECT",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "SEARCH",
    "REPORT",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "NOTIFY",
    "MKACTIVITY",
    "CHECKOUT",
    "MERGE",
    "BPROPFIND",
    "BMOVE",
    "BDELETE",
    "POLL",
    "RPC_IN_DATA",
    "RPC_OUT_DATA",
];

/// Does this look like the start of an HTTP request?
pub fn looks_like_request(b: &[u8]) -> bool {
    let Some(end) = b
        .iter()
        .take(25)
        .position(|&c| c == b' ' || c == b'\r' || c == b'\n')
    else {
        return false;
    };
    let (method, after) = b.split_at(end);
    if method.is_empty()
        || !method
            .iter()
            .all(|c| c.is_ascii_uppercase() || *c == b'-' || *c == b'_')
    {
        return false;
    }
    if METHODS.iter().any(|m| m.as_bytes() == method) {
        return true;
    }
    // an unknown method token still counts when its line names an HTTP version
    let line_end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    after.first() == Some(&b' ') && head(b, line_end).windows(5).any(|w| w == b"HTTP/")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    Crlf(u8),
    Trailer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Head,
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Stopped,
}

struct Side {
    buf: Vec<u8>,
    line: Vec<u8>,
    state: State,
    body: u64,
    /// The body being read, as a `files` row in the making.
    file: Option<FileBody>,
}

impl Side {
    fn new() -> Self {
        Side {
            buf: Vec::new(),
            line: Vec::new(),
            state: State::Head,
            body: 0,
            file: None,
        }
    }
}

#[derive(Default, Debug)]
struct Txn {
    ts: i64,
    depth: u32,
    has_request: bool,
    method: Option<String>,
    host: Option<String>,
    uri: Option<String>,
    referrer: Option<String>,
    version: Option<String>,
    user_agent: Option<String>,
    origin: Option<String>,
    req_body: u64,
    resp_body: u64,
    status_code: Option<u16>,
    status_msg: Option<String>,
    info_code: Option<u16>,
    username: Option<String>,
    proxied: Vec<String>,
    orig_ct: Option<String>,
    resp_ct: Option<String>,
    req_hlen: Option<u32>,
    resp_hlen: Option<u32>,
    server: Option<String>,
    location: Option<String>,
    xff: Option<String>,
    cookie_len: Option<u32>,
    chunked_req: bool,
    chunked_resp: bool,
    tunnel: Option<String>,
    partial: bool,
    gap: bool,
    upgrade: Option<String>,
}

pub struct HttpAnalyzer {
    sides: PerDir<Side>,
    txns: VecDeque<Txn>,
    depth: u32,
    tunnel: bool,
    /// The connection's originator is the server (the capture began with its reply): requests
    /// arrive in the responder direction. Rows still name the client as orig_h.
    swap: bool,
    /// Requests written before their response because [`MAX_PENDING`] were waiting (a pipelining
    /// flood); responses that arrive for them later are counted in `late_responses`.
    overflowed: u64,
    late_responses: u64,
    /// An HTTP/0.9 request was seen (its depth and URI): a reply not starting with a status line is
    /// its bare body.
    expect_09: Option<(u32, Option<String>)>,
}

/// Unanswered requests held per connection. One connection with millions of pipelined GETs and no
/// response would otherwise hold ~590 bytes each: past this, the oldest is written as a
/// request-only row at once and the excess is counted in an `http_pipeline_overflow` weird row.
/// Real clients pipeline a handful (browsers gave it up; HTTP/1.1 clients keep under ~10).
pub const MAX_PENDING: usize = 256;

impl Default for HttpAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    // every line feed is a candidate: the head ends at "\n\n" or "\n\r\n"
    memchr::memchr_iter(b'\n', b).find_map(|i| match (b.get(i + 1), b.get(i + 2)) {
        (Some(b'\n'), _) => Some(i + 2),
        (Some(b'\r'), Some(b'\n')) => Some(i + 3),
        _ => None,
    })
}

/// Header lines read without httparse's strictness (control bytes in values, odd spacing): used when
/// a head is malformed, so hostile values are still recorded (escaped) rather than lost.
fn tolerant_headers(b: &[u8]) -> Vec<httparse::Header<'_>> {
    let mut v = Vec::new();
    for line in b.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let Ok(name) = std::str::from_utf8(name.trim_ascii()) else {
            continue;
        };
        if name.is_empty() || v.len() >= MAX_HEADERS {
            continue;
        }
        v.push(httparse::Header {
            name,
            value: tail(value, 1),
        });
    }
    v
}

fn hval(v: &[u8]) -> String {
    escape_bytes(v.trim_ascii())
}

fn header<'a>(hs: &'a [httparse::Header<'a>], name: &str) -> Option<&'a [u8]> {
    hs.iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

fn basic_user(v: &[u8]) -> Option<String> {
    let v = v.trim_ascii();
    let (scheme, cred) = v.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let dec = base64::engine::general_purpose::STANDARD
        .decode(cred.trim_ascii())
        .ok()?;
    let user = dec.split(|&c| c == b':').next()?;
    Some(escape_bytes(user))
}

const PROXY_HEADERS: &[&str] = &[
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-from",
    "client-ip",
    "via",
    "x-real-ip",
    "proxy-connection",
    "x-proxyuser-ip",
    "proxy-authorization",
];

impl HttpAnalyzer {
    pub fn new() -> Self {
        HttpAnalyzer {
            sides: PerDir::new(Side::new(), Side::new()),
            txns: VecDeque::new(),
            depth: 0,
            tunnel: false,
            swap: false,
            overflowed: 0,
            late_responses: 0,
            expect_09: None,
        }
    }

    /// For a connection whose originator turned out to be the server.
    pub fn swapped() -> Self {
        HttpAnalyzer {
            swap: true,
            ..Self::new()
        }
    }

    fn role(&self, dir: Dir) -> Dir {
        match (self.swap, dir) {
            (false, d) => d,
            (true, Dir::Orig) => Dir::Resp,
            (true, Dir::Resp) => Dir::Orig,
        }
    }

    fn body_state(headers: &[httparse::Header<'_>]) -> (State, bool) {
        if let Some(te) = header(headers, "transfer-encoding")
            && te.to_ascii_lowercase().windows(7).any(|w| w == b"chunked")
        {
            return (State::Chunked(Chunk::Size), true);
        }
        if let Some(n) = content_length(headers) {
            return (
                if n == 0 {
                    State::Head
                } else {
                    State::Length(n)
                },
                false,
            );
        }
        (State::Head, false)
    }

    fn request_head(&mut self, ts: i64, head: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut hs);
        let strict = matches!(req.parse(head), Ok(httparse::Status::Complete(_)));
        let (method, uri, version) = if strict {
            (
                req.method.unwrap_or("").as_bytes().to_vec(),
                req.path.unwrap_or("").as_bytes().to_vec(),
                req.version.map(|v| format!("1.{v}")),
            )
        } else {
            // Lenient reading of a malformed request line, as tshark does: tokens split on single
            // spaces (method, target, version), headers parsed after the first line.
            let line_end = head
                .iter()
                .position(|&c| c == b'\n')
                .map_or(head.len(), |p| p + 1);
            let line = self::head(head, line_end).trim_ascii_end();
            if !looks_like_request(head) {
                out.weird(
                    ts,
                    Some(&ctx.uid),
                    "http_bad_request",
                    &escape_bytes(self::head(line, 120)),
                    None,
                );
                self.sides.orig.state = State::Stopped;
                return;
            }
            let mut parts = line.split(|&c| c == b' ');
            let m = parts.next().unwrap_or(&[]).to_vec();
            let u = parts.next().unwrap_or(&[]).to_vec();
            let v = parts
                .next()
                .map(|v| String::from_utf8_lossy(v).into_owned());
            let v = match v {
                Some(v) if v.starts_with("HTTP/") => Some(v[5..].to_string()),
                Some(v) => Some(v),
                None => Some("0.9".into()),
            };
            (m, u, v)
        };
        let side = &mut self.sides.orig;
        let hs: Vec<httparse::Header<'_>> = if strict {
            hs.iter()
                .take_while(|h| !h.name.is_empty())
                .copied()
                .collect()
        } else {
            let line_end = head
                .iter()
                .position(|&c| c == b'\n')
                .map_or(head.len(), |p| p + 1);
            tolerant_headers(tail(head, line_end))
        };
        let hs = hs.as_slice();
        self.depth += 1;
        let mut t = Txn {
            ts,
            depth: self.depth,
            has_request: true,
            method: Some(escape_bytes(&method)),
            uri: Some(escape_bytes(&uri)),
            version,
            host: header(hs, "host").map(hval),
            referrer: header(hs, "referer").map(hval),
            user_agent: header(hs, "user-agent").map(hval),
            origin: header(hs, "origin").map(hval),
            orig_ct: header(hs, "content-type").map(hval),
            username: header(hs, "authorization").and_then(basic_user),
            xff: header(hs, "x-forwarded-for").map(hval),
            cookie_len: header(hs, "cookie").map(|c| c.len() as u32),
            req_hlen: Some(head.len() as u32),
            upgrade: header(hs, "upgrade").map(hval),
            ..Default::default()
        };
        for h in hs.iter() {
            if PROXY_HEADERS.iter().any(|p| h.name.eq_ignore_ascii_case(p)) {
                t.proxied.push(format!(
                    "{}: {}",
                    escape_bytes(h.name.as_bytes()).to_ascii_uppercase(),
                    hval(h.value)
                ));
            }
        }
        let (st, chunked) = Self::body_state(hs);
        t.chunked_req = chunked;
        if st != State::Head {
            side.file = Some(FileBody::new(
                body_meta(ts, t.depth, true, hs, t.uri.as_deref()),
                ctx,
                out.extract_files(),
            ));
        }
        side.state = st;
        side.body = 0;
        // HTTP/0.9 (a request line without a version): the reply may be a bare body until close
        if t.version.as_deref() == Some("0.9") && !head.windows(5).any(|w| w == b"HTTP/") {
            self.expect_09 = Some((t.depth, t.uri.clone()));
        }
        self.txns.push_back(t);
        if self.txns.len() > MAX_PENDING
            && let Some(old) = self.txns.pop_front()
        {
            self.overflowed += 1;
            emit(old, ctx, self.swap, out);
        }
    }

    fn response_head(&mut self, ts: i64, head: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut hs);
        match resp.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => {
                let line = head.split(|&c| c == b'\n').next().unwrap_or(&[]);
                out.weird(
                    ts,
                    Some(&ctx.uid),
                    "http_bad_reply",
                    &escape_bytes(self::head(line, 120)),
                    None,
                );
                self.sides.resp.state = State::Stopped;
                return;
            }
        }
        let code = resp.code.unwrap_or(0);
        let hs = resp.headers;
        // a response to a request already written by the pipelining cap: counted, not paired
        // with the wrong (younger) request
        // (responses come in request order, so the first `overflowed` final ones answer those)
        if (code >= 200 || code == 101) && self.late_responses < self.overflowed {
            self.late_responses += 1;
            self.sides.resp.state = Self::body_state(hs).0;
            self.sides.resp.body = 0;
            return;
        }
        // the transaction this response answers: the oldest one without a final status
        let idx = match self.txns.iter().position(|t| t.status_code.is_none()) {
            Some(i) => i,
            None => {
                self.depth += 1;
                self.txns.push_back(Txn {
                    ts,
                    depth: self.depth,
                    ..Default::default()
                });
                self.txns.len() - 1
            }
        };
        let Some(t) = self.txns.get_mut(idx) else {
            return;
        };
        if (100..200).contains(&code) && code != 101 {
            t.info_code = Some(code);
            self.sides.resp.state = State::Head;
            return;
        }
        t.status_code = Some(code);
        t.status_msg = resp.reason.map(|r| escape_bytes(r.as_bytes()));
        t.resp_ct = header(hs, "content-type").map(hval);
        t.server = header(hs, "server").map(hval);
        t.location = header(hs, "location").map(hval);
        t.resp_hlen = Some(head.len() as u32);
        let is_head = t.method.as_deref() == Some("HEAD");
        let is_connect = t.method.as_deref() == Some("CONNECT");
        if code == 101 || (is_connect && (200..300).contains(&code)) {
            t.tunnel = Some(if is_connect {
                "CONNECT".into()
            } else {
                t.upgrade
                    .clone()
                    .or_else(|| header(hs, "upgrade").map(hval))
                    .unwrap_or_else(|| "upgrade".into())
            });
            self.tunnel = true;
            self.sides.orig.state = State::Stopped;
            self.sides.resp.state = State::Stopped;
            self.emit_front_done(out, ctx);
            return;
        }
        let (st, chunked) = if is_head || code == 204 || code == 304 {
            (State::Head, false)
        } else {
            match Self::body_state(hs) {
                (State::Head, false) if header(hs, "content-length").is_none() => {
                    (State::UntilClose, false)
                }
                x => x,
            }
        };
        t.chunked_resp = chunked;
        if st != State::Head {
            self.sides.resp.file = Some(FileBody::new(
                body_meta(ts, t.depth, false, hs, t.uri.as_deref()),
                ctx,
                out.extract_files(),
            ));
        }
        self.sides.resp.body = 0;
        self.sides.resp.state = st.clone();
        if st == State::Head {
            self.emit_front_done(out, ctx);
        }
    }

    /// Emit every transaction at the front that has its final response.
    fn emit_front_done(&mut self, out: &mut dyn RecordSink, ctx: &ConnCtx) {
        while self.txns.front().is_some_and(|t| t.status_code.is_some()) {
            let Some(t) = self.txns.pop_front() else {
                break;
            };
            emit(t, ctx, self.swap, out);
        }
    }

    /// Consume body bytes of side `i`; returns bytes used. Sets state to Head when the body ends.
    fn body(&mut self, dir: Dir, data: &[u8]) -> usize {
        let side = &mut self.sides[dir];
        let mut pos = 0;
        while pos < data.len() {
            match side.state {
                State::Length(left) => {
                    let n = (left.min((data.len() - pos) as u64)) as usize;
                    side.body += n as u64;
                    if let Some(f) = side.file.as_mut() {
                        f.write(data.get(pos..pos + n).unwrap_or(&[]));
                    }
                    pos += n;
                    side.state = if left == n as u64 {
                        State::Head
                    } else {
                        State::Length(left - n as u64)
                    };
                }
                State::UntilClose => {
                    side.body += (data.len() - pos) as u64;
                    if let Some(f) = side.file.as_mut() {
                        f.write(tail(data, pos));
                    }
                    pos = data.len();
                }
                State::Chunked(Chunk::Data(left)) => {
                    let n = (left.min((data.len() - pos) as u64)) as usize;
                    side.body += n as u64;
                    if let Some(f) = side.file.as_mut() {
                        f.write(data.get(pos..pos + n).unwrap_or(&[]));
                    }
                    pos += n;
                    side.state = State::Chunked(if left == n as u64 {
                        Chunk::Crlf(2)
                    } else {
                        Chunk::Data(left - n as u64)
                    });
                }
                State::Chunked(Chunk::Crlf(k)) => {
                    let Some(&c) = data.get(pos) else { break };
                    if c == b'\r' || c == b'\n' {
                        pos += 1;
                        side.state = State::Chunked(if c == b'\n' || k <= 1 {
                            Chunk::Size
                        } else {
                            Chunk::Crlf(k - 1)
                        });
                    } else {
                        side.state = State::Chunked(Chunk::Size);
                    }
                }
                State::Chunked(Chunk::Size) | State::Chunked(Chunk::Trailer) => {
                    let Some(&c) = data.get(pos) else { break };
                    pos += 1;
                    if c != b'\n' {
                        if side.line.len() < 256 {
                            side.line.push(c);
                        }
                        continue;
                    }
                    let line = std::mem::take(&mut side.line);
                    let line = line.trim_ascii();
                    if side.state == State::Chunked(Chunk::Trailer) {
                        if line.is_empty() {
                            side.state = State::Head;
                        }
                        continue;
                    }
                    if line.is_empty() {
                        continue;
                    }
                    let hex: Vec<u8> = line
                        .iter()
                        .take_while(|c| c.is_ascii_hexdigit())
                        .copied()
                        .collect();
                    match std::str::from_utf8(&hex)
                        .ok()
                        .and_then(|h| u64::from_str_radix(h, 16).ok())
                    {
                        Some(0) => side.state = State::Chunked(Chunk::Trailer),
                        Some(n) => side.state = State::Chunked(Chunk::Data(n)),
                        None => {
                            side.state = State::Stopped;
                            return data.len();
                        }
                    }
                }
                State::Head | State::Stopped => break,
            }
        }
        pos
    }

    fn body_done(&mut self, dir: Dir, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let n = self.sides[dir].body;
        if let Some(f) = self.sides[dir].file.take() {
            f.finish(true, ctx, self.swap, out);
        }
        if dir == Dir::Orig {
            if let Some(t) = self.txns.iter_mut().rev().find(|t| t.has_request) {
                t.req_body = n;
            }
        } else {
            if let Some(t) = self.txns.iter_mut().find(|t| t.status_code.is_some()) {
                t.resp_body = n;
            }
            self.emit_front_done(out, ctx);
        }
    }

    fn process(&mut self, dir: Dir, ts: i64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let mut buf = std::mem::take(&mut self.sides[dir].buf);
        let mut pos = 0;
        loop {
            match self.sides[dir].state {
                State::Stopped => {
                    pos = buf.len();
                    break;
                }
                State::Head => {
                    pos += tail(&buf, pos)
                        .iter()
                        .take_while(|&&c| c == b'\r' || c == b'\n')
                        .count();
                    if pos >= buf.len() {
                        break;
                    }
                    let rest = tail(&buf, pos);
                    match find_head_end(rest) {
                        Some(end) => {
                            let head = self::head(rest, end);
                            if dir == Dir::Orig {
                                self.request_head(ts, head, ctx, out);
                            } else {
                                self.response_head(ts, head, ctx, out);
                            }
                            pos += end;
                            if self.sides[dir].state == State::Head && !self.tunnel {
                                self.body_done(dir, ctx, out);
                            }
                        }
                        None => {
                            // HTTP/0.9 request: a single line
                            if dir == Dir::Orig
                                && rest.ends_with(b"\n")
                                && !rest.windows(5).any(|w| w == b"HTTP/")
                            {
                                let end = rest.len();
                                let head = rest.to_vec();
                                self.request_head(ts, &head, ctx, out);
                                pos += end;
                                continue;
                            }
                            if buf.len() - pos > MAX_HEAD {
                                out.weird(
                                    ts,
                                    Some(&ctx.uid),
                                    "http_head_too_long",
                                    &format!("more than {MAX_HEAD} bytes without end of head"),
                                    None,
                                );
                                self.sides[dir].state = State::Stopped;
                                pos = buf.len();
                            }
                            break;
                        }
                    }
                }
                _ => {
                    let n = self.body(dir, tail(&buf, pos));
                    pos += n;
                    if self.sides[dir].state == State::Head {
                        self.body_done(dir, ctx, out);
                    } else if pos >= buf.len() {
                        break;
                    }
                }
            }
        }
        buf.drain(..pos);
        self.sides[dir].buf = buf;
    }
}

fn content_length(hs: &[httparse::Header<'_>]) -> Option<u64> {
    header(hs, "content-length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse().ok())
}

/// What a head says about the body that follows it.
fn body_meta(
    ts: i64,
    depth: u32,
    is_orig: bool,
    hs: &[httparse::Header<'_>],
    uri: Option<&str>,
) -> BodyMeta {
    BodyMeta {
        ts,
        depth,
        is_orig,
        declared_type: header(hs, "content-type").map(hval),
        filename: super::files::body_filename(header(hs, "content-disposition"), uri),
        content_encoding: header(hs, "content-encoding").map(hval),
        total_bytes: content_length(hs),
    }
}

fn emit(t: Txn, ctx: &ConnCtx, swap: bool, out: &mut dyn RecordSink) {
    let ((oh, op), (rh, rp)) = if swap {
        ((ctx.resp_h, ctx.resp_p), (ctx.orig_h, ctx.orig_p))
    } else {
        ((ctx.orig_h, ctx.orig_p), (ctx.resp_h, ctx.resp_p))
    };
    out.record(Record::Http(HttpRecord {
        ts: t.ts,
        uid: &ctx.uid,
        orig_h: oh,
        orig_p: op,
        resp_h: rh,
        resp_p: rp,
        trans_depth: t.depth,
        method: t.method.as_deref(),
        host: t.host.as_deref(),
        uri: t.uri.as_deref(),
        referrer: t.referrer.as_deref(),
        version: t.version.as_deref(),
        user_agent: t.user_agent.as_deref(),
        origin: t.origin.as_deref(),
        request_body_len: t.req_body,
        response_body_len: t.resp_body,
        status_code: t.status_code,
        status_msg: t.status_msg.as_deref(),
        info_code: t.info_code,
        username: t.username.as_deref(),
        proxied: &t.proxied,
        orig_content_type: t.orig_ct.as_deref(),
        resp_content_type: t.resp_ct.as_deref(),
        request_header_len: t.req_hlen,
        response_header_len: t.resp_hlen,
        server: t.server.as_deref(),
        location: t.location.as_deref(),
        x_forwarded_for: t.xff.as_deref(),
        cookie_len: t.cookie_len,
        chunked_request: t.chunked_req,
        chunked_response: t.chunked_resp,
        tunnel: t.tunnel.as_deref(),
        partial: t.partial,
        gap: t.gap,
        source: &ctx.source,
        community_id: &ctx.community_id,
    }));
}

impl StreamAnalyzer for HttpAnalyzer {
    fn service(&self) -> Option<&'static str> {
        Some("http")
    }

    fn data(
        &mut self,
        dir: Dir,
        ts: i64,
        mut data: &[u8],
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) {
        let dir = self.role(dir);
        if self.sides[dir].state == State::Stopped {
            return;
        }
        if dir == Dir::Resp
            && self.sides.resp.state == State::Head
            && self.sides.resp.buf.is_empty()
            && !data.starts_with(b"HTTP/")
            && let Some((depth, uri)) = self.expect_09.take()
        {
            self.sides.resp.file = Some(FileBody::new(
                body_meta(ts, depth, false, &[], uri.as_deref()),
                ctx,
                out.extract_files(),
            ));
            self.sides.resp.state = State::UntilClose;
            self.sides.resp.body = 0;
        }
        // fast path: body bytes straight from the segment, no copy
        if self.sides[dir].buf.is_empty() && !matches!(self.sides[dir].state, State::Head) {
            let n = self.body(dir, data);
            data = tail(data, n);
            if self.sides[dir].state == State::Head {
                self.body_done(dir, ctx, out);
            }
            if data.is_empty() {
                return;
            }
        }
        self.sides[dir].buf.extend_from_slice(data);
        self.process(dir, ts, ctx, out);
    }

    fn gap(&mut self, dir: Dir, ts: i64, len: u64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let dir = self.role(dir);
        let mark = |txns: &mut VecDeque<Txn>| {
            let t = if dir == Dir::Orig {
                txns.iter_mut().rev().find(|t| t.has_request)
            } else {
                txns.iter_mut().find(|t| t.status_code.is_some())
            };
            if let Some(t) = t {
                t.gap = true;
                t.partial = true;
            }
        };
        match self.sides[dir].state.clone() {
            State::Length(left) => {
                mark(&mut self.txns);
                let n = left.min(len);
                if let Some(f) = self.sides[dir].file.as_mut() {
                    f.gap(n);
                }
                self.sides[dir].body += n;
                if n == left {
                    self.sides[dir].state = State::Head;
                    self.body_done(dir, ctx, out);
                    if len > n {
                        self.sides[dir].state = State::Stopped;
                    }
                } else {
                    self.sides[dir].state = State::Length(left - n);
                }
            }
            State::UntilClose => {
                mark(&mut self.txns);
                self.sides[dir].body += len;
                if let Some(f) = self.sides[dir].file.as_mut() {
                    f.gap(len);
                }
            }
            State::Chunked(Chunk::Data(left)) if len < left => {
                mark(&mut self.txns);
                self.sides[dir].body += len;
                if let Some(f) = self.sides[dir].file.as_mut() {
                    f.gap(len);
                }
                self.sides[dir].state = State::Chunked(Chunk::Data(left - len));
            }
            State::Stopped => {}
            _ => {
                mark(&mut self.txns);
                if let Some(mut f) = self.sides[dir].file.take() {
                    f.gap(len);
                    f.finish(false, ctx, self.swap, out);
                }
                out.weird(ts, Some(&ctx.uid), "http_content_gap", &format!("{len} bytes missing in {dir:?} head or chunk framing; direction no longer parsed"), None);
                self.sides[dir].state = State::Stopped;
            }
        }
        self.sides[dir].buf.clear();
    }

    fn finish(&mut self, _ts: i64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        // bodies still open at the end are partial (read-until-close bodies end normally at close)
        for dir in Dir::BOTH {
            match self.sides[dir].state {
                State::Length(_) | State::Chunked(_) => {
                    let n = self.sides[dir].body;
                    let t = if dir == Dir::Orig {
                        self.txns.iter_mut().rev().find(|t| t.has_request)
                    } else {
                        self.txns.iter_mut().find(|t| t.status_code.is_some())
                    };
                    if let Some(t) = t {
                        t.partial = true;
                        if dir == Dir::Orig {
                            t.req_body = n
                        } else {
                            t.resp_body = n
                        }
                    }
                }
                State::UntilClose => {
                    if let Some(t) = self.txns.iter_mut().find(|t| t.status_code.is_some()) {
                        t.resp_body = self.sides.resp.body;
                    }
                }
                _ => {}
            }
        }
        // bodies still open: read-until-close ends normally at close, any other was cut
        for dir in Dir::BOTH {
            if let Some(f) = self.sides[dir].file.take() {
                let whole = self.sides[dir].state == State::UntilClose;
                f.finish(whole, ctx, self.swap, out);
            }
        }
        while let Some(t) = self.txns.pop_front() {
            emit(t, ctx, self.swap, out);
        }
        if self.overflowed > 0 {
            out.weird(
                _ts,
                Some(&ctx.uid),
                "http_pipeline_overflow",
                &format!(
                    "more than {MAX_PENDING} requests waited for a response at once: {} were written without their response ({} responses to them arrived later and were not paired)",
                    self.overflowed, self.late_responses
                ),
                None,
            );
        }
    }

    fn wants(&self, dir: Dir) -> bool {
        !self.tunnel && self.sides[self.role(dir)].state != State::Stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_detection() {
        assert!(looks_like_request(b"GET / HTTP/1.1\r\n"));
        assert!(looks_like_request(b"PROPFIND /x HTTP/1.1\r\n"));
        assert!(looks_like_request(b"FOO /x HTTP/1.1\r\n"));
        assert!(!looks_like_request(b"FOO /x\r\n"));
        assert!(looks_like_request(b"OPTIONS\n"));
        assert!(looks_like_request(b"CCM_POST /HTTP/1.1\r\n"));
        assert!(!looks_like_request(b"\x16\x03\x01\x00"));
        assert!(!looks_like_request(b"get / HTTP/1.1"));
    }

    #[test]
    fn basic_auth_keeps_only_the_user() {
        assert_eq!(basic_user(b"Basic dXNlcjpzZWNyZXQ="), Some("user".into()));
        assert_eq!(basic_user(b"Bearer abc"), None);
    }

    #[test]
    fn head_end() {
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nxyz"),
            Some(24)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.0\n\nbody"), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }
}
