//! What the line-oriented command/reply protocols (FTP, SMTP) share: bounded line framing, reply
//! assembly (multi-line `NNN-` replies), command splitting, the TLS upgrade after `STARTTLS` /
//! `AUTH TLS`, and [`Greeting`], the analyzer for a stream whose server speaks first with `220`:
//! FTP and SMTP greet alike, so the client's first command decides which one it is.

use super::tls::{TlsAnalyzer, looks_like_tls};
use super::{ConnCtx, Dir, PerDir, StreamAnalyzer, ftp::FtpAnalyzer, smtp::SmtpAnalyzer};
use crate::record::RecordSink;

/// Longest line kept (the rest of a longer line is counted, not kept).
pub const MAX_LINE: usize = 2048;

/// One direction's bytes cut into lines (LF-terminated, a CR before it dropped), bounded.
#[derive(Debug, Default)]
pub struct LineBuf {
    buf: Vec<u8>,
    /// Bytes of the current line, including those past [`MAX_LINE`] that were not kept.
    len: usize,
    ready: bool,
    /// The last byte taken was a CR (kept or not).
    cr: bool,
}

impl LineBuf {
    /// The next complete line in `data` (advanced past it), with the line's full length (before
    /// truncation to [`MAX_LINE`], without the line end); `None` when `data` ended inside a line
    /// (kept for the next call).
    pub fn next_line(&mut self, data: &mut &[u8]) -> Option<(&[u8], usize)> {
        if self.ready {
            self.reset();
        }
        match memchr::memchr(b'\n', data) {
            Some(i) => {
                let (head, rest) = data.split_at(i);
                *data = rest.get(1..).unwrap_or_default();
                self.extend(head);
                self.ready = true;
                let (line, len) = if self.cr {
                    let kept = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
                    (kept, self.len.saturating_sub(1))
                } else {
                    (self.buf.as_slice(), self.len)
                };
                Some((line, len))
            }
            None => {
                self.extend(data);
                *data = &[];
                None
            }
        }
    }

    fn extend(&mut self, b: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(b.get(..room).unwrap_or(b));
        self.len = self.len.saturating_add(b.len());
        if let Some(&last) = b.last() {
            self.cr = last == b'\r';
        }
    }

    /// Forget a partial line (after a content gap).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.len = 0;
        self.ready = false;
        self.cr = false;
    }

    /// No partial line is pending.
    pub fn at_line_start(&self) -> bool {
        self.ready || self.len == 0
    }
}

/// A server reply: its code and the text of its first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

/// The code of a reply line (`NNN`, then space, `-` or the end) and whether more lines follow.
pub fn reply_code(line: &[u8]) -> Option<(u16, bool, &[u8])> {
    let d = line.get(..3)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = d.iter().fold(0u16, |a, &c| a * 10 + u16::from(c - b'0'));
    match line.get(3) {
        None => Some((code, false, &[])),
        Some(b' ') => Some((code, false, line.get(4..).unwrap_or_default())),
        Some(b'-') => Some((code, true, line.get(4..).unwrap_or_default())),
        _ => None,
    }
}

/// Assembles replies from server lines: `NNN-first` ... `NNN last` is one reply (lines between
/// may carry no code, as FTP allows).
#[derive(Debug, Default)]
pub struct ReplyAsm {
    open: Option<Reply>,
}

impl ReplyAsm {
    /// Feed one server line; a finished reply comes back.
    pub fn line(&mut self, line: &[u8]) -> Option<Reply> {
        if let Some(open) = &self.open {
            if let Some((code, false, _)) = reply_code(line)
                && code == open.code
            {
                return self.open.take();
            }
            return None;
        }
        let (code, more, text) = reply_code(line)?;
        let r = Reply {
            code,
            text: short_text(text),
        };
        if more {
            self.open = Some(r);
            None
        } else {
            Some(r)
        }
    }
}

/// Attacker-controlled text for a column: escaped, at most 256 characters.
pub fn short_text(b: &[u8]) -> String {
    let mut s = super::escape_bytes(b.get(..256).unwrap_or(b));
    if b.len() > 256 {
        s.push('…');
    }
    s
}

/// A client line split into its verb (ASCII letters, upper-cased, at most 12) and argument;
/// `None` when the line does not start with a verb.
pub fn command(line: &[u8]) -> Option<(String, &[u8])> {
    let end = line.iter().position(|&c| c == b' ').unwrap_or(line.len());
    let verb = line.get(..end)?;
    if verb.is_empty() || verb.len() > 12 || !verb.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let arg = line.get(end + 1..).unwrap_or_default();
    Some((
        String::from_utf8_lossy(verb).to_ascii_uppercase(),
        arg.trim_ascii(),
    ))
}

/// The TLS session a command stream switched to (`STARTTLS`, `AUTH TLS`): once begun, every byte
/// of both directions is the inner TLS analyzer's.
#[derive(Default)]
pub struct Upgrade {
    pub tls: Option<Box<TlsAnalyzer>>,
    /// The packet whose reply began the upgrade is still being counted: its bytes are not TLS.
    skip_count: Option<Dir>,
}

impl Upgrade {
    /// The server accepted the upgrade (its reply arrived in `dir`'s current packet).
    pub fn begin_after_reply(&mut self, dir: Dir) {
        if self.tls.is_none() {
            self.tls = Some(Box::new(TlsAnalyzer::new()));
            self.skip_count = Some(dir);
        }
    }
    /// The current packet is itself TLS (no upgrade exchange was seen).
    pub fn begin_here(&mut self) {
        if self.tls.is_none() {
            self.tls = Some(Box::new(TlsAnalyzer::new()));
        }
    }
    /// TLS has the stream.
    pub fn active(&self) -> bool {
        self.tls.is_some()
    }
    /// Bytes of a packet, for the TLS table's byte counts.
    pub fn count(&mut self, dir: Dir, n: u64) {
        if self.skip_count == Some(dir) {
            self.skip_count = None;
        } else if let Some(t) = self.tls.as_mut() {
            t.count(dir, n);
        }
    }
}

/// Is this first payload a server greeting (`220 ` or `220-`)?
pub fn is_greeting(b: &[u8]) -> bool {
    b.starts_with(b"220 ") || b.starts_with(b"220-") || b.starts_with(b"220\r\n")
}

/// Which protocol a client's first command belongs to.
pub fn protocol_of(verb: &str) -> Option<Which> {
    match verb {
        "EHLO" | "HELO" | "LHLO" | "MAIL" | "STARTTLS" | "RCPT" | "DATA" => Some(Which::Smtp),
        "USER" | "PASS" | "ACCT" | "FEAT" | "SYST" | "OPTS" | "PASV" | "EPSV" | "PORT" | "EPRT"
        | "PWD" | "CWD" | "LIST" | "NLST" | "RETR" | "STOR" | "TYPE" | "SIZE" | "MLSD" | "PBSZ"
        | "PROT" | "CLNT" => Some(Which::Ftp),
        // FTP's `AUTH TLS` / `AUTH SSL` comes before any login; SMTP's AUTH after EHLO
        "AUTH" => Some(Which::Ftp),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Ftp,
    Smtp,
}

impl Which {
    pub fn analyzer(self) -> Box<dyn StreamAnalyzer> {
        match self {
            Which::Ftp => Box::new(FtpAnalyzer::new()),
            Which::Smtp => Box::new(SmtpAnalyzer::new()),
        }
    }
}

/// A stream whose first bytes came from the client (the capture began after the greeting): only a
/// command that names its protocol on its own counts - EHLO/HELO are SMTP; USER is FTP only on
/// FTP's port (IRC and POP3 clients say USER too).
pub fn client_first(first: &[u8], resp_p: u16) -> Option<Which> {
    let line = first.split(|&c| c == b'\n').next().unwrap_or_default();
    let (verb, _) = command(line.strip_suffix(b"\r").unwrap_or(line))?;
    match verb.as_str() {
        "EHLO" | "HELO" => Some(Which::Smtp),
        "USER" if resp_p == 21 => Some(Which::Ftp),
        _ => None,
    }
}

/// Bytes held while the protocol is undecided.
const HOLD_CAP: usize = 8192;

/// A stream that began with a `220` greeting: the bytes are held until the client's first command
/// names the protocol, then replayed into the FTP or SMTP analyzer. A client that never sends one
/// (a scanner reading banners) leaves the greeting's words to decide `conn.service`.
#[derive(Default)]
pub struct Greeting {
    held: Vec<(Dir, i64, Vec<u8>)>,
    held_bytes: usize,
    client: LineBuf,
    inner: Option<Box<dyn StreamAnalyzer>>,
    gave_up: bool,
    banner: Vec<u8>,
}

impl Greeting {
    pub fn new() -> Self {
        Self::default()
    }

    fn decide(&mut self, data: &[u8]) -> Option<Which> {
        let mut d = data;
        while let Some((line, _)) = self.client.next_line(&mut d) {
            if let Some(w) = command(line).and_then(|(v, _)| protocol_of(&v)) {
                return Some(w);
            }
        }
        None
    }
}

impl StreamAnalyzer for Greeting {
    fn service(&self) -> Option<&'static str> {
        if let Some(a) = &self.inner {
            return a.service();
        }
        let b = String::from_utf8_lossy(&self.banner).to_ascii_uppercase();
        if b.contains("SMTP") {
            Some("smtp")
        } else if b.contains("FTP") {
            Some("ftp")
        } else {
            None
        }
    }

    fn data(&mut self, dir: Dir, ts: i64, data: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        if let Some(a) = self.inner.as_mut() {
            return a.data(dir, ts, data, ctx, out);
        }
        if self.gave_up {
            return;
        }
        if dir == Dir::Resp && self.banner.len() < 512 {
            let room = 512 - self.banner.len();
            self.banner
                .extend_from_slice(data.get(..room).unwrap_or(data));
        }
        let which = if dir == Dir::Orig {
            self.decide(data)
        } else {
            None
        };
        self.held_bytes += data.len();
        self.held.push((dir, ts, data.to_vec()));
        if let Some(w) = which {
            let mut a = w.analyzer();
            for (d, t, bytes) in std::mem::take(&mut self.held) {
                a.data(d, t, &bytes, ctx, out);
            }
            self.inner = Some(a);
        } else if self.held_bytes > HOLD_CAP {
            self.gave_up = true;
            self.held = Vec::new();
        }
    }

    fn gap(&mut self, dir: Dir, ts: i64, len: u64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        match self.inner.as_mut() {
            Some(a) => a.gap(dir, ts, len, ctx, out),
            None => {
                self.gave_up = true;
                self.held = Vec::new();
            }
        }
    }

    fn finish(&mut self, ts: i64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        if let Some(a) = self.inner.as_mut() {
            a.finish(ts, ctx, out);
        }
    }

    fn wants(&self, dir: Dir) -> bool {
        match &self.inner {
            Some(a) => a.wants(dir),
            None => !self.gave_up,
        }
    }

    fn count(&mut self, dir: Dir, n: u64) {
        if let Some(a) = self.inner.as_mut() {
            a.count(dir, n);
        }
    }
}

/// The state FTP and SMTP share on top of their own: each direction's framing, the reply
/// assembler, the TLS upgrade, and the count of client lines that were no command.
#[derive(Default)]
pub struct Control {
    lines: PerDir<LineBuf>,
    pub replies: ReplyAsm,
    pub upgrade: Upgrade,
    bad_lines: u32,
    stopped: bool,
}

impl Control {
    /// The next line of `dir` in `d` (advanced past it), copied into `line` (a buffer the caller
    /// reuses: no allocation per line), with its full length; `None` when the chunk is used up: by
    /// a partial line (kept), by TLS once upgraded (the rest is handed to it), or because parsing
    /// stopped. A client chunk that is a TLS handshake where a command could start
    /// (`tls_may_start`) begins TLS although no upgrade exchange was seen (it fell in a gap).
    #[allow(clippy::too_many_arguments)]
    pub fn next_line(
        &mut self,
        dir: Dir,
        ts: i64,
        d: &mut &[u8],
        tls_may_start: bool,
        line: &mut Vec<u8>,
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) -> Option<usize> {
        loop {
            if d.is_empty() {
                return None;
            }
            if let Some(t) = self.upgrade.tls.as_mut() {
                t.data(dir, ts, d, ctx, out);
                *d = &[];
                return None;
            }
            if self.stopped {
                *d = &[];
                return None;
            }
            if dir == Dir::Orig
                && tls_may_start
                && self.lines.orig.at_line_start()
                && looks_like_tls(d)
            {
                self.upgrade.begin_here();
                continue;
            }
            let (l, len) = self.lines[dir].next_line(d)?;
            line.clear();
            line.extend_from_slice(l);
            return Some(len);
        }
    }

    /// A client line that is no command: the first is a `weird` event (`name`), eight stop the
    /// parser (the stream is not this protocol after all).
    pub fn not_a_command(
        &mut self,
        ts: i64,
        line: &[u8],
        name: &str,
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) {
        if line.is_empty() {
            return;
        }
        self.bad_lines += 1;
        if self.bad_lines == 1 {
            out.weird(ts, Some(&ctx.uid), name, &short_text(line), None);
        }
        if self.bad_lines >= 8 {
            self.stopped = true;
        }
    }

    /// A content gap: TLS's when upgraded (returns true), else the partial line is forgotten.
    pub fn gap(
        &mut self,
        dir: Dir,
        ts: i64,
        len: u64,
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) -> bool {
        if let Some(t) = self.upgrade.tls.as_mut() {
            t.gap(dir, ts, len, ctx, out);
            return true;
        }
        self.lines[dir].reset();
        false
    }

    /// The connection ended: the TLS session's row, if there was one.
    pub fn finish(&mut self, ts: i64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        if let Some(t) = self.upgrade.tls.as_mut() {
            t.finish(ts, ctx, out);
        }
    }

    pub fn wants(&self, dir: Dir) -> bool {
        match &self.upgrade.tls {
            Some(t) => t.wants(dir),
            None => !self.stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_bounded_and_keep_their_full_length() {
        let mut lb = LineBuf::default();
        let mut d: &[u8] = b"220 hello\r\n250-a\n25";
        assert_eq!(
            lb.next_line(&mut d).map(|(l, n)| (l.to_vec(), n)),
            Some((b"220 hello".to_vec(), 9))
        );
        assert_eq!(
            lb.next_line(&mut d).map(|(l, n)| (l.to_vec(), n)),
            Some((b"250-a".to_vec(), 5))
        );
        assert!(lb.next_line(&mut d).is_none());
        assert!(!lb.at_line_start());
        let mut d: &[u8] = b"0 b\r\n";
        assert_eq!(
            lb.next_line(&mut d).map(|(l, _)| l.to_vec()),
            Some(b"250 b".to_vec())
        );
        let long = vec![b'x'; 5000];
        let mut d: &[u8] = &long;
        assert!(lb.next_line(&mut d).is_none());
        let mut d: &[u8] = b"\r\n";
        let (l, n) = lb.next_line(&mut d).unwrap();
        assert_eq!((l.len(), n), (MAX_LINE, 5000));
    }

    #[test]
    fn multi_line_replies_are_one_reply() {
        let mut r = ReplyAsm::default();
        assert_eq!(r.line(b"250-mx.example.org Hello"), None);
        assert_eq!(r.line(b"250-PIPELINING"), None);
        assert_eq!(r.line(b"free text in between (FTP allows it)"), None);
        assert_eq!(
            r.line(b"250 HELP"),
            Some(Reply {
                code: 250,
                text: "mx.example.org Hello".into()
            })
        );
        assert_eq!(
            r.line(b"354"),
            Some(Reply {
                code: 354,
                text: String::new()
            })
        );
        assert_eq!(r.line(b"hello"), None);
    }

    #[test]
    fn commands_are_verbs_and_arguments() {
        assert_eq!(
            command(b"stor a b.html "),
            Some(("STOR".into(), &b"a b.html"[..]))
        );
        assert_eq!(command(b"QUIT"), Some(("QUIT".into(), &b""[..])));
        assert_eq!(command(b"\x16\x03\x01"), None);
        assert_eq!(command(b"HELLO2 x"), None);
        assert!(is_greeting(b"220 mail ESMTP\r\n"));
        assert!(is_greeting(b"220-FileZilla\r\n"));
        assert!(!is_greeting(b"2200 x"));
        assert!(!is_greeting(b"HTTP/1.1 220"));
    }

    /// A scanner that reads the banner and leaves: the greeting's words name the service; a
    /// greeting that names neither leaves it unknown. A client command decides over the words.
    #[test]
    fn a_banner_alone_names_the_service_by_its_words() {
        use crate::proto::ConnCtx;
        struct Nothing;
        impl crate::record::RecordSink for Nothing {
            fn record(&mut self, _: crate::record::Record<'_>) {}
            fn weird(&mut self, _: i64, _: Option<&str>, _: &str, _: &str, _: Option<u64>) {}
        }
        let ctx = ConnCtx::for_test(2525);
        let service = |banner: &[u8], client: &[u8]| {
            let mut g = Greeting::new();
            g.data(Dir::Resp, 0, banner, &ctx, &mut Nothing);
            if !client.is_empty() {
                g.data(Dir::Orig, 1, client, &ctx, &mut Nothing);
            }
            g.finish(2, &ctx, &mut Nothing);
            g.service()
        };
        assert_eq!(
            service(b"220 mx.example.org ESMTP Postfix\r\n", b""),
            Some("smtp")
        );
        assert_eq!(service(b"220 (vsFTPd 3.0.3)\r\n", b""), Some("ftp"));
        assert_eq!(service(b"220 welcome\r\n", b""), None);
        assert_eq!(service(b"220 welcome\r\n", b"USER bob\r\n"), Some("ftp"));
        assert_eq!(service(b"220 ProFTPD\r\n", b"EHLO x\r\n"), Some("smtp"));
    }

    /// Hostile streams: a greeting, then any bytes in any order and cut anywhere, with gaps. Nothing
    /// panics, every row is about the connection, and the undecided greeting holds at most its cap.
    mod hostile {
        use super::super::*;
        use crate::proto::ConnCtx;
        use crate::record::{Record, RecordSink};
        use proptest::prelude::*;

        #[derive(Default)]
        struct Sink(usize);
        impl RecordSink for Sink {
            fn record(&mut self, r: Record<'_>) {
                match r {
                    Record::Ftp(f) => assert_eq!(f.uid, "C1"),
                    Record::Smtp(m) => assert_eq!(m.uid, "C1"),
                    _ => {}
                }
                self.0 += 1;
            }
            fn weird(&mut self, _: i64, _: Option<&str>, _: &str, _: &str, _: Option<u64>) {}
        }

        const WORDS: &[&[u8]] = &[
            b"EHLO x\r\n",
            b"USER a\r\n",
            b"PASS b\r\n",
            b"AUTH LOGIN\r\n",
            b"AUTH PLAIN =\r\n",
            b"MAIL FROM:<\r\n",
            b"RCPT TO:\r\n",
            b"DATA\r\n",
            b"BDAT 99999999999 LAST\r\n",
            b".\r\n",
            b"STARTTLS\r\n",
            b"AUTH TLS\r\n",
            b"PASV\r\n",
            b"EPSV\r\n",
            b"PORT 1,2,3\r\n",
            b"STOR \xff\x00\r\n",
            b"220 \r\n",
            b"234 go\r\n",
            b"250-a\r\n",
            b"250 b\r\n",
            b"227 (1,2,3,4,5,6)\r\n",
            b"229 (|||\r\n",
            b"334 \r\n",
            b"354 \r\n",
            b"150 (99 bytes)\r\n",
            b"\x16\x03\x01\x00\x05",
            b"Subject: \x1b[2J\r\n",
            b"\r\n",
            b"\n",
            b"filename=\"",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]
            #[test]
            fn any_command_stream_is_survived(
                parts in proptest::collection::vec((any::<bool>(), 0usize..WORDS.len(), proptest::collection::vec(any::<u8>(), 0..40), 0u8..10), 0..120),
            ) {
                let ctx = ConnCtx::for_test(25);
                let mut a = Greeting::new();
                let mut out = Sink::default();
                a.data(Dir::Resp, 0, b"220 hi\r\n", &ctx, &mut out);
                for (i, (client, w, noise, gap)) in parts.iter().enumerate() {
                    let dir = if *client { Dir::Orig } else { Dir::Resp };
                    let mut bytes = WORDS[*w].to_vec();
                    if *gap == 0 {
                        bytes.extend(noise);
                    }
                    let cut = noise.len().min(bytes.len());
                    let (x, y) = bytes.split_at(cut);
                    a.data(dir, i as i64, x, &ctx, &mut out);
                    a.data(dir, i as i64, y, &ctx, &mut out);
                    if *gap == 1 {
                        a.gap(dir, i as i64, noise.len() as u64, &ctx, &mut out);
                    }
                    a.count(dir, bytes.len() as u64);
                    let _ = a.wants(dir);
                    prop_assert!(a.held_bytes <= HOLD_CAP + 128);
                }
                a.finish(999, &ctx, &mut out);
                let _ = a.service();
            }
        }
    }
}
