//! FTP control connections (RFC 959, 2428 for EPSV/EPRT, 4217 for AUTH TLS): one `ftp` row per
//! command with the server's final reply, the logged-in user, and the data channel a transfer
//! used (`PASV`/`EPSV` reply or `PORT`/`EPRT` argument), so SQL can join the transfer's own
//! `conn` row by (data_h, data_p). Passwords are never stored, except an anonymous login's (an
//! e-mail address by convention), as Zeek does. After `AUTH TLS` is accepted the stream is TLS:
//! the handshake goes to the `tls` table and the commands are no longer visible.

use super::lines::{Control, Reply, command, short_text};
use super::{ConnCtx, Dir, StreamAnalyzer};
use crate::record::{FtpRecord, Record, RecordSink};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};

/// Commands waiting for their replies (clients may send several before the first reply).
const MAX_PENDING: usize = 64;

/// Transfer commands: the row carries the data channel they used.
const TRANSFERS: &[&str] = &["RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"];

struct Pending {
    ts: i64,
    command: String,
    arg: Option<String>,
    /// Size announced by a preliminary `150 ... (N bytes)` reply.
    size: Option<u64>,
}

#[derive(Default)]
pub struct FtpAnalyzer {
    ctl: Control,
    /// The line being handled (reused).
    line: Vec<u8>,
    pending: VecDeque<Pending>,
    user: Option<String>,
    /// The data channel the next transfer uses: address, port, passive.
    channel: Option<(IpAddr, u16, bool)>,
}

impl FtpAnalyzer {
    pub fn new() -> Self {
        Self::default()
    }

    fn client_line(&mut self, ts: i64, line: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let Some((verb, arg)) = command(line) else {
            return self
                .ctl
                .not_a_command(ts, line, "ftp_invalid_command", ctx, out);
        };
        let arg_text = match verb.as_str() {
            "PASS" => {
                let anonymous = self.user.as_deref().is_some_and(|u| {
                    u.eq_ignore_ascii_case("anonymous") || u.eq_ignore_ascii_case("ftp")
                });
                Some(if anonymous {
                    short_text(arg)
                } else {
                    "<hidden>".to_string()
                })
            }
            _ if arg.is_empty() => None,
            _ => Some(short_text(arg)),
        };
        match verb.as_str() {
            "USER" => self.user = Some(short_text(arg)),
            "PORT" => self.channel = parse_port(arg).map(|(h, p)| (h, p, false)),
            "EPRT" => self.channel = parse_eprt(arg).map(|(h, p)| (h, p, false)),
            _ => {}
        }
        if self.pending.len() >= MAX_PENDING {
            // replies stopped matching: log the oldest without one
            if let Some(p) = self.pending.pop_front() {
                self.emit(p, None, ctx, out);
            }
        }
        self.pending.push_back(Pending {
            ts,
            command: verb,
            arg: arg_text,
            size: None,
        });
    }

    fn server_line(&mut self, line: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let Some(r) = self.ctl.replies.line(line) else {
            return;
        };
        if (100..200).contains(&r.code) {
            // preliminary (150 Opening data connection): the final reply follows
            if let Some(p) = self.pending.front_mut() {
                p.size = p.size.or_else(|| size_in_text(&r.text));
            }
            return;
        }
        // unsolicited replies (the 220 greeting, 421 at close) answer no command
        let Some(p) = self.pending.pop_front() else {
            return;
        };
        match (p.command.as_str(), r.code) {
            ("PASV", 227) => {
                self.channel = parse_pasv_reply(&r.text).map(|(h, p)| (h, p, true));
            }
            ("EPSV", 229) => {
                self.channel = parse_epsv_reply(&r.text).map(|p| (ctx.resp_h, p, true));
            }
            ("AUTH", 234) => self.ctl.upgrade.begin_after_reply(Dir::Resp),
            _ => {}
        }
        self.emit(p, Some(&r), ctx, out);
    }

    fn emit(&mut self, p: Pending, r: Option<&Reply>, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let transfer = TRANSFERS.contains(&p.command.as_str());
        let channel = if transfer { self.channel } else { None };
        let size = if p.command == "SIZE" && r.is_some_and(|r| r.code == 213) {
            r.and_then(|r| r.text.trim().parse().ok())
        } else {
            p.size
        };
        out.record(Record::Ftp(FtpRecord {
            ts: p.ts,
            uid: &ctx.uid,
            orig_h: ctx.orig_h,
            orig_p: ctx.orig_p,
            resp_h: ctx.resp_h,
            resp_p: ctx.resp_p,
            user: self.user.as_deref(),
            command: &p.command,
            arg: p.arg.as_deref(),
            reply_code: r.map(|r| r.code),
            reply_msg: r.map(|r| r.text.as_str()),
            data_h: channel.map(|c| c.0),
            data_p: channel.map(|c| c.1),
            passive: channel.map(|c| c.2),
            file_size: size,
            source: &ctx.source,
            community_id: &ctx.community_id,
        }));
        if transfer {
            // a passive channel serves one transfer
            self.channel = None;
        }
    }
}

impl StreamAnalyzer for FtpAnalyzer {
    fn service(&self) -> Option<&'static str> {
        Some("ftp")
    }

    fn data(&mut self, dir: Dir, ts: i64, data: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let mut d = data;
        let mut line = std::mem::take(&mut self.line);
        while self
            .ctl
            .next_line(dir, ts, &mut d, true, &mut line, ctx, out)
            .is_some()
        {
            match dir {
                Dir::Orig => self.client_line(ts, &line, ctx, out),
                Dir::Resp => self.server_line(&line, ctx, out),
            }
        }
        self.line = line;
    }

    fn gap(&mut self, dir: Dir, ts: i64, len: u64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        self.ctl.gap(dir, ts, len, ctx, out);
    }

    fn finish(&mut self, ts: i64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        while let Some(p) = self.pending.pop_front() {
            self.emit(p, None, ctx, out);
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

/// `h1,h2,h3,h4,p1,p2` (PORT's argument; inside the parentheses of a 227 reply).
fn parse_port(s: &[u8]) -> Option<(IpAddr, u16)> {
    let s = std::str::from_utf8(s).ok()?;
    let n: Vec<u8> = s
        .trim()
        .split(',')
        .map(|x| x.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [a, b, c, d, p1, p2] = n.as_slice() else {
        return None;
    };
    Some((
        IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)),
        u16::from(*p1) << 8 | u16::from(*p2),
    ))
}

/// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` (some servers leave out the parentheses).
fn parse_pasv_reply(text: &str) -> Option<(IpAddr, u16)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits = text.get(start..)?;
    let end = digits
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == ' '))
        .unwrap_or(digits.len());
    parse_port(digits.get(..end)?.trim_end().as_bytes())
}

/// `229 Entering Extended Passive Mode (|||port|)`: the server's own address, this port.
fn parse_epsv_reply(text: &str) -> Option<u16> {
    let inner = text.get(text.find('(')? + 1..text.rfind(')')?)?;
    let mut it = inner.chars();
    let delim = it.next()?;
    inner.split(delim).nth(3)?.parse().ok()
}

/// `EPRT |1|132.235.1.2|6275|` (or `|2|` with an IPv6 address).
fn parse_eprt(s: &[u8]) -> Option<(IpAddr, u16)> {
    let s = std::str::from_utf8(s).ok()?.trim();
    let delim = s.chars().next()?;
    let mut parts = s.split(delim).skip(1);
    let _proto = parts.next()?;
    let addr: IpAddr = parts.next()?.parse().ok()?;
    let port: u16 = parts.next()?.parse().ok()?;
    Some((addr, port))
}

/// `150 Opening BINARY mode data connection for f (1234 bytes)`.
fn size_in_text(text: &str) -> Option<u64> {
    let i = text.rfind(" bytes")?;
    let head = text.get(..i)?;
    let start = head
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |j| j + 1);
    head.get(start..)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    /// command, arg, reply code, user, data channel, file size
    type Row = (
        String,
        Option<String>,
        Option<u16>,
        Option<String>,
        Option<(IpAddr, u16, bool)>,
        Option<u64>,
    );

    #[derive(Default)]
    struct Rows(Vec<Row>, Vec<String>);
    impl RecordSink for Rows {
        fn record(&mut self, r: Record<'_>) {
            if let Record::Ftp(f) = r {
                self.0.push((
                    f.command.to_string(),
                    f.arg.map(str::to_string),
                    f.reply_code,
                    f.user.map(str::to_string),
                    f.data_h
                        .zip(f.data_p)
                        .zip(f.passive)
                        .map(|((h, p), x)| (h, p, x)),
                    f.file_size,
                ));
            }
        }
        fn weird(&mut self, _: i64, _: Option<&str>, name: &str, _: &str, _: Option<u64>) {
            self.1.push(name.into());
        }
    }

    fn ctx() -> ConnCtx {
        ConnCtx::for_test(21)
    }

    fn run(script: &[(Dir, &[u8])]) -> Rows {
        let mut a = FtpAnalyzer::new();
        let mut rows = Rows::default();
        let c = ctx();
        for (i, (d, b)) in script.iter().enumerate() {
            a.data(*d, i as i64, b, &c, &mut rows);
        }
        a.finish(99, &c, &mut rows);
        rows
    }

    #[test]
    fn a_login_and_a_passive_upload() {
        let r = run(&[
            (Dir::Resp, b"220-Welcome\r\n220 ready\r\n"),
            (Dir::Orig, b"USER bob@example.org\r\n"),
            (Dir::Resp, b"331 User bob OK. Password required\r\n"),
            (Dir::Orig, b"PASS s3cret\r\n"),
            (Dir::Resp, b"230 OK\r\n"),
            (Dir::Orig, b"TYPE I\r\nPASV\r\n"),
            (Dir::Resp, b"200 TYPE is now 8-bit binary\r\n227 Entering Passive Mode (198,51,100,7,173,235)\r\n"),
            (Dir::Orig, b"STOR PW_bob.html\r\n"),
            (Dir::Resp, b"150 Accepted data connection\r\n"),
            (Dir::Resp, b"226-File successfully transferred\r\n226 0.2 seconds\r\n"),
            (Dir::Orig, b"QUIT\r\n"),
        ]);
        let cmds: Vec<_> = r.0.iter().map(|x| (x.0.as_str(), x.2)).collect();
        assert_eq!(
            cmds,
            [
                ("USER", Some(331)),
                ("PASS", Some(230)),
                ("TYPE", Some(200)),
                ("PASV", Some(227)),
                ("STOR", Some(226)),
                ("QUIT", None)
            ]
        );
        assert_eq!(
            r.0[1].1.as_deref(),
            Some("<hidden>"),
            "a password is never stored"
        );
        assert_eq!(r.0[4].1.as_deref(), Some("PW_bob.html"));
        assert_eq!(r.0[4].3.as_deref(), Some("bob@example.org"));
        assert_eq!(
            r.0[4].4,
            Some(("198.51.100.7".parse().unwrap(), 173 * 256 + 235, true))
        );
        assert_eq!(r.0[5].4, None, "the passive channel served one transfer");
    }

    #[test]
    fn active_and_extended_channels_sizes_and_anonymous_passwords() {
        let r = run(&[
            (Dir::Orig, b"USER anonymous\r\n"),
            (Dir::Resp, b"331 ok\r\n"),
            (Dir::Orig, b"PASS guest@\r\n"),
            (Dir::Resp, b"230 ok\r\n"),
            (Dir::Orig, b"PORT 10,0,0,5,200,1\r\n"),
            (Dir::Resp, b"200 ok\r\n"),
            (Dir::Orig, b"RETR a.bin\r\n"),
            (
                Dir::Resp,
                b"150 Opening BINARY mode data connection for a.bin (1234 bytes)\r\n226 done\r\n",
            ),
            (Dir::Orig, b"EPSV\r\n"),
            (
                Dir::Resp,
                b"229 Entering Extended Passive Mode (|||6446|)\r\n",
            ),
            (Dir::Orig, b"SIZE b.bin\r\n"),
            (Dir::Resp, b"213 77\r\n"),
            (Dir::Orig, b"RETR b.bin\r\n"),
            (Dir::Resp, b"226 done\r\n"),
        ]);
        assert_eq!(r.0[1].1.as_deref(), Some("guest@"));
        assert_eq!(r.0[3].4, Some(("10.0.0.5".parse().unwrap(), 51201, false)));
        assert_eq!(r.0[3].5, Some(1234));
        assert_eq!(r.0[5].5, Some(77));
        assert_eq!(
            r.0[6].4,
            Some(("198.51.100.7".parse().unwrap(), 6446, true))
        );
    }

    #[test]
    fn hostile_lines_are_escaped_and_garbage_stops_the_parser() {
        let r = run(&[
            (Dir::Orig, b"USER \x1b[31mevil\r\n"),
            (
                Dir::Orig,
                b"\x00\x01\n\x02\n\x03\n\x04\n\x05\n\x06\n\x07\n\x08\n",
            ),
            (Dir::Orig, b"USER later\r\n"),
        ]);
        assert_eq!(r.0.len(), 1);
        assert_eq!(r.0[0].1.as_deref(), Some("\\x1b[31mevil"));
        assert_eq!(r.1, ["ftp_invalid_command"]);
    }

    #[test]
    fn reply_parsers() {
        assert_eq!(
            parse_pasv_reply("Entering Passive Mode 1,2,3,4,0,21"),
            Some(("1.2.3.4".parse().unwrap(), 21))
        );
        assert_eq!(
            parse_pasv_reply("Entering Passive Mode (1,2,3,4,300,21)"),
            None
        );
        assert_eq!(
            parse_eprt(b"|2|2001:db8::1|5282|"),
            Some(("2001:db8::1".parse().unwrap(), 5282))
        );
        assert_eq!(parse_epsv_reply("x (!!!99!)"), Some(99));
        assert_eq!(size_in_text("for x (bytes)"), None);
    }
}
