//! SMTP sessions (RFC 5321; AUTH RFC 4954; STARTTLS RFC 3207; BDAT RFC 3030): one `smtp` row per
//! mail transaction (MAIL FROM .. the reply to the end of its message) with the session's HELO,
//! the AUTH mechanism and user name (decoded from LOGIN/PLAIN; the password never), the envelope,
//! the message's headers (Date, From, To, Subject, Message-ID, X-Mailer/User-Agent), the file
//! names of its MIME parts and its size; a session that carried no message gets one row
//! (trans_depth 0) when anything was said. Replies are matched to commands in order, so pipelined
//! commands pair correctly. After STARTTLS is accepted the stream is TLS (the `tls` table).

use super::lines::{Control, Reply, command, short_text};
use super::{ConnCtx, Dir, StreamAnalyzer};
use crate::record::{Record, RecordSink, SmtpRecord};
use base64::Engine;
use std::collections::VecDeque;

const MAX_PENDING: usize = 64;
const MAX_LIST: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Command,
    /// Lines are the AUTH exchange's responses: the user name comes next (`user_next`), then
    /// the password (never kept).
    Auth {
        user_next: bool,
        plain: bool,
    },
    /// The message (between DATA and the lone `.`).
    Data,
    /// BDAT chunk bytes still to come (counted, not parsed).
    Bdat(u64),
}

#[derive(Default)]
struct Message {
    ts: i64,
    mailfrom: Option<String>,
    rcptto: Vec<String>,
    date: Option<String>,
    from: Option<String>,
    to: Vec<String>,
    subject: Option<String>,
    msg_id: Option<String>,
    x_mailer: Option<String>,
    attachments: Vec<String>,
    bytes: u64,
    in_headers: bool,
    /// The header a folded continuation line belongs to.
    last_header: Option<&'static str>,
    last_reply: Option<String>,
}

#[derive(Default)]
pub struct SmtpAnalyzer {
    ctl: Control,
    /// The line being handled (reused).
    line: Vec<u8>,
    /// Commands awaiting replies (PIPELINING).
    pending: VecDeque<String>,
    mode: Option<Mode>,
    helo: Option<String>,
    auth_mechanism: Option<String>,
    auth_user: Option<String>,
    auth_success: Option<bool>,
    msg: Option<Message>,
    depth: u32,
    said_anything: bool,
    first_ts: Option<i64>,
}

impl SmtpAnalyzer {
    pub fn new() -> Self {
        Self::default()
    }

    fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Command)
    }

    fn client_line(
        &mut self,
        ts: i64,
        line: &[u8],
        len: usize,
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) {
        match self.mode() {
            Mode::Data => return self.data_line(line, len),
            Mode::Auth { user_next, plain } => {
                if line == b"*" {
                    // the client cancelled the exchange
                    self.mode = None;
                } else if user_next {
                    let decoded = b64(line);
                    self.auth_user = Some(if plain {
                        plain_user(&decoded)
                    } else {
                        short_text(&decoded)
                    });
                    self.mode = Some(Mode::Auth {
                        user_next: false,
                        plain,
                    });
                }
                return;
            }
            Mode::Bdat(_) | Mode::Command => {}
        }
        let Some((verb, arg)) = command(line) else {
            return self
                .ctl
                .not_a_command(ts, line, "smtp_invalid_command", ctx, out);
        };
        self.said_anything = true;
        let mut pending = verb.clone();
        match verb.as_str() {
            "HELO" | "EHLO" | "LHLO" => self.helo = Some(short_text(arg)),
            "MAIL" => {
                self.end_message(ctx, out);
                self.msg = Some(Message {
                    ts,
                    mailfrom: Some(short_text(address(arg, b"FROM:"))),
                    ..Default::default()
                });
            }
            "RCPT" => {
                if let Some(m) = self.msg.as_mut()
                    && m.rcptto.len() < MAX_LIST
                {
                    m.rcptto.push(short_text(address(arg, b"TO:")));
                }
            }
            "DATA" => {
                // a client waits for 354 before the message; take it as coming (a refusal ends it)
                self.mode = Some(Mode::Data);
                if let Some(m) = self.msg.as_mut() {
                    m.in_headers = true;
                }
            }
            "BDAT" => {
                let mut parts = arg.split(|&c| c == b' ');
                let n = parts
                    .next()
                    .and_then(|n| std::str::from_utf8(n).ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                if parts.any(|p| p.eq_ignore_ascii_case(b"LAST")) {
                    // the reply to the last chunk ends the message
                    pending = "BDAT LAST".into();
                }
                if let Some(m) = self.msg.as_mut() {
                    m.bytes = m.bytes.saturating_add(n);
                }
                self.mode = (n > 0).then_some(Mode::Bdat(n));
            }
            "AUTH" => {
                let mut parts = arg.splitn(2, |&c| c == b' ');
                let mech = short_text(parts.next().unwrap_or_default()).to_ascii_uppercase();
                let initial = parts
                    .next()
                    .map(<[u8]>::trim_ascii)
                    .filter(|r| !r.is_empty() && *r != b"=");
                let (login, plain) = (mech == "LOGIN", mech == "PLAIN");
                match initial {
                    Some(ir) if login => self.auth_user = Some(short_text(&b64(ir))),
                    Some(ir) if plain => self.auth_user = Some(plain_user(&b64(ir))),
                    _ => {}
                }
                let user_next = (login || plain) && initial.is_none();
                self.auth_mechanism = Some(mech);
                self.mode = Some(Mode::Auth { user_next, plain });
            }
            "RSET" | "QUIT" => self.end_message(ctx, out),
            _ => {}
        }
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(pending);
    }

    /// One line of the message: headers until the first empty line, then MIME part headers'
    /// file names.
    fn data_line(&mut self, line: &[u8], len: usize) {
        if line == b"." {
            self.mode = None;
            return;
        }
        let Some(m) = self.msg.as_mut() else {
            return;
        };
        let line = line.strip_prefix(b".").unwrap_or(line);
        m.bytes = m.bytes.saturating_add(len as u64 + 2);
        if m.in_headers {
            if line.is_empty() {
                m.in_headers = false;
                return;
            }
            if matches!(line.first(), Some(b' ' | b'\t')) {
                // a folded header: the continuation of the last one kept
                let more = short_text(line.trim_ascii());
                let slot = match m.last_header {
                    Some("subject") => m.subject.as_mut(),
                    Some("from") => m.from.as_mut(),
                    _ => None,
                };
                if let Some(s) = slot
                    && s.len() < 512
                {
                    s.push(' ');
                    s.push_str(&more);
                }
                if m.last_header == Some("to") {
                    push_addresses(&mut m.to, line);
                }
                return;
            }
            let Some(colon) = line.iter().position(|&c| c == b':') else {
                return;
            };
            let name =
                String::from_utf8_lossy(line.get(..colon).unwrap_or_default()).to_ascii_lowercase();
            let value = line.get(colon + 1..).unwrap_or_default().trim_ascii();
            m.last_header = None;
            match name.as_str() {
                "date" => m.date = Some(short_text(value)),
                "from" => {
                    m.from = Some(short_text(value));
                    m.last_header = Some("from");
                }
                "to" => {
                    push_addresses(&mut m.to, value);
                    m.last_header = Some("to");
                }
                "subject" => {
                    m.subject = Some(short_text(value));
                    m.last_header = Some("subject");
                }
                "message-id" => m.msg_id = Some(short_text(value)),
                "x-mailer" | "user-agent" => m.x_mailer = Some(short_text(value)),
                _ => {}
            }
            return;
        }
        // file names sit in MIME part headers (or their folded continuations), never in the
        // encoded body lines between them: only those lines are searched
        let part_header = line
            .get(..8)
            .is_some_and(|h| h.eq_ignore_ascii_case(b"content-"))
            || matches!(line.first(), Some(b' ' | b'\t'));
        if part_header
            && m.attachments.len() < MAX_LIST
            && let Some(name) = filename_param(line)
        {
            let name = short_text(name);
            if !m.attachments.contains(&name) {
                m.attachments.push(name);
            }
        }
    }

    fn server_line(&mut self, line: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let Some(r) = self.ctl.replies.line(line) else {
            return;
        };
        // the greeting (and a 421 at close) answer no command
        let Some(verb) = self.pending.front().cloned() else {
            return;
        };
        if verb == "AUTH" && r.code == 334 {
            // a challenge: the exchange goes on, the command stays pending
            return;
        }
        if verb == "DATA" && r.code == 354 {
            // the message comes now; its end gets the next reply
            return;
        }
        self.pending.pop_front();
        match verb.as_str() {
            "AUTH" => {
                self.auth_success = Some((200..300).contains(&r.code));
                self.mode = None;
            }
            "STARTTLS" if r.code == 220 => {
                self.ctl.upgrade.begin_after_reply(Dir::Resp);
            }
            "DATA" | "BDAT" | "BDAT LAST" => {
                if let Some(m) = self.msg.as_mut() {
                    m.last_reply = Some(reply_text(&r));
                }
                if self.mode() == Mode::Data && r.code >= 400 {
                    // refused before the message: the client sends none
                    self.mode = None;
                }
                // a BDAT chunk's reply ends the message when it was the last chunk or refused
                if verb != "BDAT" || r.code >= 400 {
                    self.end_message(ctx, out);
                }
            }
            "MAIL" | "RCPT" if r.code >= 400 => {
                if let Some(m) = self.msg.as_mut() {
                    m.last_reply = Some(reply_text(&r));
                }
            }
            _ => {}
        }
    }

    fn end_message(&mut self, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let Some(m) = self.msg.take() else {
            return;
        };
        self.depth += 1;
        self.emit(self.depth, &m, ctx, out);
    }

    fn emit(&self, depth: u32, m: &Message, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        out.record(Record::Smtp(SmtpRecord {
            ts: m.ts,
            uid: &ctx.uid,
            orig_h: ctx.orig_h,
            orig_p: ctx.orig_p,
            resp_h: ctx.resp_h,
            resp_p: ctx.resp_p,
            trans_depth: depth,
            helo: self.helo.as_deref(),
            auth_mechanism: self.auth_mechanism.as_deref(),
            auth_user: self.auth_user.as_deref(),
            auth_success: self.auth_success,
            tls: self.ctl.upgrade.active(),
            mailfrom: m.mailfrom.as_deref(),
            rcptto: &m.rcptto,
            msg_date: m.date.as_deref(),
            from: m.from.as_deref(),
            to: &m.to,
            subject: m.subject.as_deref(),
            msg_id: m.msg_id.as_deref(),
            x_mailer: m.x_mailer.as_deref(),
            attachments: &m.attachments,
            msg_bytes: m.bytes,
            last_reply: m.last_reply.as_deref(),
            source: &ctx.source,
            community_id: &ctx.community_id,
        }));
    }
}

impl StreamAnalyzer for SmtpAnalyzer {
    fn service(&self) -> Option<&'static str> {
        Some("smtp")
    }

    fn data(&mut self, dir: Dir, ts: i64, data: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        self.first_ts.get_or_insert(ts);
        let mut d = data;
        while !d.is_empty() {
            if dir == Dir::Orig
                && !self.ctl.upgrade.active()
                && let Some(Mode::Bdat(left)) = self.mode
            {
                // BDAT chunk bytes: counted, not framed
                let take = left.min(d.len() as u64);
                d = d.get(take as usize..).unwrap_or_default();
                self.mode = (left > take).then_some(Mode::Bdat(left - take));
                continue;
            }
            let command_mode = self.mode() == Mode::Command;
            let mut line = std::mem::take(&mut self.line);
            let got = self
                .ctl
                .next_line(dir, ts, &mut d, command_mode, &mut line, ctx, out);
            if let Some(len) = got {
                match dir {
                    Dir::Orig => self.client_line(ts, &line, len, ctx, out),
                    Dir::Resp => self.server_line(&line, ctx, out),
                }
            }
            self.line = line;
            if got.is_none() {
                return;
            }
        }
    }

    fn gap(&mut self, dir: Dir, ts: i64, len: u64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        if self.ctl.gap(dir, ts, len, ctx, out) || dir != Dir::Orig {
            return;
        }
        match self.mode {
            Some(Mode::Bdat(left)) => self.mode = (left > len).then_some(Mode::Bdat(left - len)),
            Some(Mode::Data) => {
                if let Some(m) = self.msg.as_mut() {
                    m.bytes = m.bytes.saturating_add(len);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, ts: i64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        if self.msg.is_some() {
            self.end_message(ctx, out);
        } else if self.depth == 0 && (self.said_anything || self.ctl.upgrade.active()) {
            let m = Message {
                ts: self.first_ts.unwrap_or(ts),
                ..Default::default()
            };
            self.emit(0, &m, ctx, out);
        }
        self.ctl.finish(ts, ctx, out);
    }

    fn wants(&self, dir: Dir) -> bool {
        self.ctl.wants(dir)
    }

    fn count(&mut self, dir: Dir, n: u64) {
        self.ctl.upgrade.count(dir, n);
    }
}

fn reply_text(r: &Reply) -> String {
    if r.text.is_empty() {
        r.code.to_string()
    } else {
        format!("{} {}", r.code, r.text)
    }
}

/// The address of `FROM:<a@b> SIZE=1` / `TO:<a@b>`: the part inside `<>`, else the first word.
fn address<'a>(arg: &'a [u8], key: &[u8]) -> &'a [u8] {
    let rest = if arg.len() >= key.len()
        && arg
            .get(..key.len())
            .is_some_and(|k| k.eq_ignore_ascii_case(key))
    {
        arg.get(key.len()..).unwrap_or_default().trim_ascii_start()
    } else {
        arg
    };
    if rest.first() == Some(&b'<') {
        let end = rest.iter().position(|&c| c == b'>').unwrap_or(rest.len());
        return rest.get(1..end).unwrap_or_default();
    }
    rest.split(|&c| c == b' ').next().unwrap_or_default()
}

fn push_addresses(to: &mut Vec<String>, value: &[u8]) {
    for a in value.split(|&c| c == b',') {
        let a = a.trim_ascii();
        if !a.is_empty() && to.len() < MAX_LIST {
            to.push(short_text(a));
        }
    }
}

/// `filename="x.html"` / `filename=x.zip` / `name="x"` of a MIME part header line.
fn filename_param(line: &[u8]) -> Option<&[u8]> {
    let lower = line.to_ascii_lowercase();
    let i = memchr::memmem::find(&lower, b"filename=")
        .map(|i| i + 9)
        .or_else(|| {
            let ct = lower.starts_with(b"content-type:")
                || lower.starts_with(b"\t")
                || lower.starts_with(b" ");
            let j = memchr::memmem::find(&lower, b"name=")?;
            // `name=` only as a parameter (`; name=`), never inside another word
            let before = lower.get(..j)?.trim_ascii_end();
            (ct && (before.ends_with(b";") || before.is_empty())).then_some(j + 5)
        })?;
    let v = line.get(i..)?;
    let v = if let Some(q) = v.strip_prefix(b"\"") {
        q.get(..q.iter().position(|&c| c == b'"').unwrap_or(q.len()))?
    } else {
        v.get(
            ..v.iter()
                .position(|&c| c == b';' || c == b' ')
                .unwrap_or(v.len()),
        )?
    };
    (!v.is_empty()).then_some(v)
}

fn b64(b: &[u8]) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(b.trim_ascii())
        .unwrap_or_default()
}

/// AUTH PLAIN's `authzid NUL authcid NUL password`: the authentication identity.
fn plain_user(decoded: &[u8]) -> String {
    short_text(decoded.split(|&c| c == 0).nth(1).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Rows(Vec<String>, u32);
    impl RecordSink for Rows {
        fn record(&mut self, r: Record<'_>) {
            match r {
                Record::Smtp(s) => self.0.push(format!(
                    "{} helo={:?} auth={:?}/{:?}/{:?} tls={} from={:?} rcpt={:?} hdr_from={:?} to={:?} subj={:?} id={:?} mailer={:?} att={:?} bytes={} reply={:?}",
                    s.trans_depth, s.helo, s.auth_mechanism, s.auth_user, s.auth_success, s.tls, s.mailfrom, s.rcptto,
                    s.from, s.to, s.subject, s.msg_id, s.x_mailer, s.attachments, s.msg_bytes, s.last_reply
                )),
                Record::Tls(_) => self.1 += 1,
                _ => {}
            }
        }
        fn weird(&mut self, _: i64, _: Option<&str>, _: &str, _: &str, _: Option<u64>) {}
    }

    fn run(script: &[(Dir, &[u8])]) -> Rows {
        let c = ConnCtx::for_test(587);
        let mut a = SmtpAnalyzer::new();
        let mut rows = Rows::default();
        for (i, (d, b)) in script.iter().enumerate() {
            a.data(*d, i as i64, b, &c, &mut rows);
        }
        a.finish(99, &c, &mut rows);
        rows
    }

    #[test]
    fn an_authenticated_submission_with_an_attachment() {
        let r = run(&[
            (Dir::Resp, b"220 mail.example.org ESMTP\r\n"),
            (Dir::Orig, b"EHLO User-PC\r\n"),
            (Dir::Resp, b"250-mail.example.org\r\n250-AUTH LOGIN PLAIN\r\n250 PIPELINING\r\n"),
            (Dir::Orig, b"AUTH login c2hpcHBpbmdAZXhhbXBsZS5pbg==\r\n"),
            (Dir::Resp, b"334 UGFzc3dvcmQ6\r\n"),
            (Dir::Orig, b"c2VjcmV0\r\n"),
            (Dir::Resp, b"235 Authentication successful\r\n"),
            (Dir::Orig, b"MAIL FROM:<shipping@example.in> SIZE=900\r\nRCPT TO:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nDATA\r\n"),
            (Dir::Resp, b"250 OK\r\n250 OK\r\n250 OK\r\n354 go ahead\r\n"),
            (Dir::Orig, b"From: shipping@example.in\r\nTo: a@x.org,\r\n b@x.org\r\nSubject: PW_admin/\r\n USER-PC\r\nMessage-ID: <1@x>\r\nX-Mailer: hand\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<html>..</html>\r\n--b\r\nContent-Type: application/octet-stream; name=\"PW.html\"\r\nContent-Disposition: attachment; filename=\"PW.html\"\r\n\r\nPGh0bWw+\r\n--b--\r\n.\r\n"),
            (Dir::Resp, b"250 OK id=1\r\n"),
            (Dir::Orig, b"QUIT\r\n"),
            (Dir::Resp, b"221 bye\r\n"),
        ]);
        assert_eq!(r.0.len(), 1, "{:?}", r.0);
        let row = &r.0[0];
        for want in [
            "1 helo=Some(\"User-PC\")",
            "auth=Some(\"LOGIN\")/Some(\"shipping@example.in\")/Some(true)",
            "tls=false",
            "from=Some(\"shipping@example.in\") rcpt=[\"a@x.org\", \"b@x.org\"]",
            "to=[\"a@x.org\", \"b@x.org\"] subj=Some(\"PW_admin/ USER-PC\") id=Some(\"<1@x>\") mailer=Some(\"hand\")",
            "att=[\"PW.html\"]",
            "reply=Some(\"250 OK id=1\")",
        ] {
            assert!(row.contains(want), "{want} not in {row}");
        }
        assert!(
            !row.contains("c2VjcmV0") && !row.contains("secret"),
            "never the password"
        );
    }

    /// A minimal TLS 1.2 ClientHello record with one cipher suite and an SNI.
    fn client_hello(sni: &[u8]) -> Vec<u8> {
        let n = sni.len() as u16;
        let mut ext = vec![0, 0];
        ext.extend((n + 5).to_be_bytes());
        ext.extend((n + 3).to_be_bytes());
        ext.push(0);
        ext.extend(n.to_be_bytes());
        ext.extend(sni);
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.extend([0, 0, 2, 0, 0x2f, 1, 0]);
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut hs = vec![1, 0];
        hs.extend((body.len() as u16).to_be_bytes());
        hs.extend(body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend((hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    #[test]
    fn starttls_hands_the_stream_to_tls_and_the_session_gets_a_row() {
        let hello = client_hello(b"mail.example.org");
        let r = run(&[
            (Dir::Resp, b"220 mx ESMTP\r\n"),
            (Dir::Orig, b"EHLO laptop.local\r\n"),
            (Dir::Resp, b"250-mx\r\n250 STARTTLS\r\n"),
            (Dir::Orig, b"STARTTLS\r\n"),
            (Dir::Resp, b"220 2.0.0 Ready to start TLS\r\n"),
            (Dir::Orig, &hello),
        ]);
        assert_eq!(r.0.len(), 1);
        assert!(
            r.0[0].starts_with("0 helo=Some(\"laptop.local\")") && r.0[0].contains("tls=true"),
            "{}",
            r.0[0]
        );
        assert_eq!(r.1, 1, "the handshake is a tls row");
    }

    #[test]
    fn plain_auth_refusals_and_rset() {
        let r = run(&[
            (Dir::Orig, b"EHLO x\r\nAUTH PLAIN\r\n"),
            (Dir::Resp, b"250 x\r\n334 \r\n"),
            (Dir::Orig, b"AGJvYgBwdw==\r\n"),
            (Dir::Resp, b"535 no\r\n"),
            (
                Dir::Orig,
                b"MAIL FROM:<a@b>\r\nRSET\r\nMAIL FROM:<c@d>\r\nDATA\r\n",
            ),
            (
                Dir::Resp,
                b"250 ok\r\n250 ok\r\n250 ok\r\n554 no valid recipients\r\n",
            ),
            (Dir::Orig, b"QUIT\r\n"),
        ]);
        assert_eq!(r.0.len(), 2, "{:?}", r.0);
        assert!(
            r.0[0].contains("auth=Some(\"PLAIN\")/Some(\"bob\")/Some(false)"),
            "{}",
            r.0[0]
        );
        assert!(
            r.0[1].starts_with("2 ")
                && r.0[1].contains("reply=Some(\"554 no valid recipients\")")
                && r.0[1].contains("bytes=0"),
            "{}",
            r.0[1]
        );
    }

    #[test]
    fn bdat_chunks_are_one_message() {
        let r = run(&[
            (
                Dir::Orig,
                b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 5\r\nhello",
            ),
            (Dir::Resp, b"250 x\r\n250 ok\r\n250 ok\r\n250 5 octets\r\n"),
            (Dir::Orig, b"BDAT 3 LAST\r\n"),
            (Dir::Orig, b"abc"),
            (Dir::Resp, b"250 queued\r\n"),
            (Dir::Orig, b"QUIT\r\n"),
        ]);
        assert_eq!(r.0.len(), 1, "{:?}", r.0);
        assert!(
            r.0[0].contains("bytes=8 reply=Some(\"250 queued\")"),
            "{}",
            r.0[0]
        );
    }

    #[test]
    fn filename_parameters() {
        assert_eq!(
            filename_param(b"Content-Disposition: attachment; filename=\"a b.zip\""),
            Some(&b"a b.zip"[..])
        );
        assert_eq!(
            filename_param(b"\tfilename=x.exe; size=3"),
            Some(&b"x.exe"[..])
        );
        assert_eq!(
            filename_param(b"Content-Type: image/png; name=\"p.png\""),
            Some(&b"p.png"[..])
        );
        assert_eq!(filename_param(b"my username=bob"), None);
    }
}
