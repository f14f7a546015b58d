//! Host profiles in the clear: what a TCP stream that no analyzer recognised says about a host.
//!
//! Two mechanisms of remote control leave the same trace. A remote-access trojan registers with its
//! controller by sending the victim's profile, the operating system among it (STRRAT:
//! `ping|STRRAT|C4BA3647|USER-PC|admin|Microsoft Windows 7 Professional|...`; njRAT:
//! `ll|'|'|...|'|'|Win 7 Ultimate SP1 x86|'|'|...`), and an interactive shell bound to a socket
//! prints its banner and prompt (`Microsoft Windows [Version 10.0.19045.2965]`, `PS C:\Users\bob>`,
//! `bash: no job control in this shell`). Benign software that names the operating system in the
//! clear does it in protocols that are recognised (HTTP's User-Agent) or in infrastructure framing
//! (SMB's NativeOS, an LDAP entry's operatingSystem, DCE/RPC, Kerberos, syslog, a Zabbix agent's
//! answer, a SIP or RTSP User-Agent, a print job's document, files traded in a BitTorrent or
//! Delivery Optimization swarm):
//! [`infrastructure_framing`] leaves those streams out, by content, not by port; an IRC client's
//! answer to a CTCP VERSION question is left out too, and an operating-system name counts only in a
//! segment that is text (a profile is a message; a name inside binary data is a file's content).
//!
//! Only the first [`SCAN_SEGMENTS`] payload segments of a connection are looked at, the first
//! [`SCAN_BYTES`] of each, so the cost is bounded per connection whatever the stream carries.

/// Payload segments (both directions together) looked at per connection.
pub const SCAN_SEGMENTS: u8 = 32;
/// Bytes looked at per segment.
pub const SCAN_BYTES: usize = 2048;
/// Longest text kept (bytes, before escaping).
pub const MAX_TEXT: usize = 64;

/// Framing of infrastructure protocols whose payload names operating systems as part of their job.
/// `first` is a direction's first payload.
pub fn infrastructure_framing(first: &[u8]) -> bool {
    match first {
        // NetBIOS session header, then SMB1/SMB2/SMB3-transform magic (NativeOS strings)
        [_, _, _, _, 0xfd..=0xff, b'S', b'M', b'B', ..] => true,
        // DCE/RPC connection-oriented PDU: version 5.0 or 5.1, a defined packet type
        [5, 0 | 1, ptype, ..] if *ptype <= 20 => true,
        // BER SEQUENCE, then a message id: LDAP (an entry's operatingSystem attribute)
        [0x30, len, rest @ ..] => {
            let skip = match len {
                0..=0x7f => 0,
                0x81..=0x84 => usize::from(len - 0x80),
                _ => return false,
            };
            rest.get(skip) == Some(&0x02)
        }
        // Kerberos over TCP: a 4-byte length, then an application tag (AS/TGS request or reply,
        // error)
        [0, 0, _, _, 0x6a..=0x6d | 0x7e, ..] => true,
        // Zabbix agent protocol
        [b'Z', b'B', b'X', b'D', ..] => true,
        // SIP and RTSP (softphones, media players, AirPlay): request or status lines and headers like
        // HTTP's, whose User-Agent may name the operating system
        _ if header_protocol(first) => true,
        // print jobs (raw port 9100 and LPD): PJL behind the universal exit language, PostScript,
        // an LPD command (a byte 1-5, then the queue's name): documents, which may say anything
        [0x1b, b'%', b'-', b'1', b'2', b'3', b'4', b'5', b'X', ..] => true,
        [b'@', b'P', b'J', b'L', ..] | [b'%', b'!', b'P', b'S', ..] => true,
        [cmd, rest @ ..] if (1..=5).contains(cmd) => {
            let name = rest.iter().take_while(|c| c.is_ascii_graphic()).count();
            name > 0 && name < 128 && rest.get(name) == Some(&b'\n')
        }
        // a swarm's handshake, a length byte then the protocol's name (`\x13BitTorrent protocol`,
        // Windows Delivery Optimization's `\x0eSwarm protocol`): peers trading files, which may
        // hold any text
        [n, rest @ ..] if (8..=32).contains(n) => rest.get(..usize::from(*n)).is_some_and(|name| {
            name.ends_with(b"protocol") && name.iter().all(|c| c.is_ascii_graphic() || *c == b' ')
        }),
        // syslog over TCP: `<PRI>` or an octet-counted frame `123 <PRI>`
        [b'<', d, ..] if d.is_ascii_digit() => true,
        [d, ..] if d.is_ascii_digit() => {
            let n = first.iter().take_while(|c| c.is_ascii_digit()).count();
            first.get(n) == Some(&b' ') && first.get(n + 1) == Some(&b'<')
        }
        _ => false,
    }
}

/// A SIP or RTSP request line (`REGISTER sip:... SIP/2.0`) or status line (`SIP/2.0 200 OK`).
fn header_protocol(first: &[u8]) -> bool {
    let line = first
        .split(|&c| c == b'\n')
        .next()
        .unwrap_or_default()
        .trim_ascii_end();
    [&b"SIP/2.0"[..], b"RTSP/1.0", b"RTSP/2.0"]
        .iter()
        .any(|v| line.starts_with(v) || (line.ends_with(v) && line.contains(&b' ')))
}

/// What `payload` says about a host in the clear: an operating-system name or a shell's banner or
/// prompt, as the matched text (at most [`MAX_TEXT`] bytes, escaped: [`super::escape_bytes`]), or
/// `None`.
pub fn find(payload: &[u8]) -> Option<String> {
    let p = payload
        .get(..payload.len().min(SCAN_BYTES))
        .unwrap_or(payload);
    if let Some(s) = shell(p) {
        return Some(s);
    }
    // an IRC client answering a peer's CTCP VERSION question names its system by design
    if memchr::memmem::find(p, b"\x01VERSION ").is_some() {
        return None;
    }
    // a profile is a text message; a name inside binary data (a file's manifest, a resource) is not
    let printable = p
        .iter()
        .filter(|c| (0x20..0x7f).contains(*c) || matches!(c, b'\r' | b'\n' | b'\t'))
        .count();
    if printable * 4 < p.len() * 3 {
        return None;
    }
    os_name(p)
}

/// Text from `start` up to a non-printable byte (a line's end) or, when `fields`, a field
/// delimiter; at most [`MAX_TEXT`].
fn field(p: &[u8], start: usize, fields: bool) -> String {
    let rest = p.get(start..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&c| {
            !(0x20..0x7f).contains(&c) || (fields && matches!(c, b'|' | b';' | b',' | b'"' | b'\''))
        })
        .unwrap_or(rest.len())
        .min(MAX_TEXT);
    super::escape_bytes(rest.get(..end).unwrap_or_default().trim_ascii_end())
}

/// A shell on a socket: cmd.exe's or PowerShell's banner, a Unix shell started without a
/// terminal, or a Windows prompt ending a segment (the shell waiting for a command).
fn shell(p: &[u8]) -> Option<String> {
    use memchr::memmem::find as at;
    if let Some(i) = at(p, b"Microsoft Windows [Version ") {
        // printable ASCII up to the closing bracket, within MAX_TEXT
        let rest = p.get(i..)?;
        let end = rest
            .iter()
            .take(MAX_TEXT)
            .take_while(|c| (0x20..0x7f).contains(*c))
            .position(|&c| c == b']')?;
        return Some(super::escape_bytes(rest.get(..=end)?));
    }
    if let Some(i) = at(p, b"Windows PowerShell")
        && let Some(after) = p.get(i + 18..)
    {
        let after = after.strip_prefix(b"\r").unwrap_or(after);
        if after.starts_with(b"\nCopyright (C) ") {
            return Some("Windows PowerShell (banner)".into());
        }
    }
    for m in [
        &b"no job control in this shell"[..],
        b"cannot set terminal process group",
        b"can't access tty; job control turned off",
    ] {
        if let Some(i) = at(p, m) {
            // the shell's name before the message (`bash: `, `sh: 0: `)
            let line = p.get(..i)?;
            let from = line
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |j| j + 1)
                .max(i.saturating_sub(24));
            return Some(field(p, from, false));
        }
    }
    // a prompt: `C:\...>` or `PS C:\...>` at the start of a line and at the end of the segment
    let body = p.strip_suffix(b" ").unwrap_or(p);
    if body.last() == Some(&b'>') {
        let line_start = body.iter().rposition(|&c| c == b'\n').map_or(0, |j| j + 1);
        let line = body.get(line_start..)?;
        let path = line.strip_prefix(b"PS ").unwrap_or(line);
        if let [drive, b':', b'\\', mid @ .., b'>'] = path
            && drive.is_ascii_alphabetic()
            && mid.len() <= 200
            && mid
                .iter()
                .all(|&c| (0x20..0x7f).contains(&c) && !matches!(c, b'<' | b'>' | b'|' | b'"'))
        {
            return Some(field(line, 0, false));
        }
    }
    None
}

/// A Windows product name: `Windows` or `Win` (njRAT abbreviates), then XP, Vista, 7, 8, 8.1, 10,
/// 11 or Server, as a word; `Microsoft ` before it is kept.
fn os_name(p: &[u8]) -> Option<String> {
    let finder = memchr::memmem::Finder::new(b"Win");
    for i in finder.find_iter(p) {
        if i > 0
            && p.get(i - 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            continue;
        }
        let rest = p.get(i + 3..).unwrap_or_default();
        let rest = rest.strip_prefix(b"dows").unwrap_or(rest);
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        let version = [
            &b"XP"[..],
            b"Vista",
            b"8.1",
            b"10",
            b"11",
            b"7",
            b"8",
            b"Server",
        ]
        .into_iter()
        .find(|v| {
            rest.starts_with(v)
                && !rest
                    .get(v.len())
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
        });
        if version.is_none() {
            continue;
        }
        let start = if i >= 10 && p.get(i - 10..i) == Some(b"Microsoft ") {
            i - 10
        } else {
            i
        };
        return Some(field(p, start, true));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rat_profiles_name_the_operating_system() {
        // STRRAT's keepalive (the shape of shared/pcaps beacon/strrat_c2.pcap)
        let strrat = b"ping|STRRAT|C4BA3647|USER-PC|admin|Microsoft Windows 7 Professional|32-bit|nan-av|V2luZG93cyBQb3dlclNoZWxs|1.6|DE:Germany|Not Installed|Not Idle";
        assert_eq!(
            find(strrat).as_deref(),
            Some("Microsoft Windows 7 Professional")
        );
        let njrat = b"ll|'|'|SGFjS2VkXzBDNjZBNjFF|'|'|USER-PC|'|'|admin|'|'|18-02-21|'|'||'|'|Win 7 Ultimate SP1 x86|'|'|No|'|'|0.7d|'|'|..|'|'|";
        assert_eq!(find(njrat).as_deref(), Some("Win 7 Ultimate SP1 x86"));
        let turkish = b"ANABILGI|192.168.126.143|US|rat1|NO|Administrator / CSANDERS-6F7F77|Windows XP Service Pack 3|Intel(R) Core(TM)2 Duo CPU";
        assert_eq!(find(turkish).as_deref(), Some("Windows XP Service Pack 3"));
        assert_eq!(
            find(b"os=Windows Server 2019 Datacenter\n").as_deref(),
            Some("Windows Server 2019 Datacenter")
        );
        assert_eq!(
            find(b"\x00\x01Windows 10 Pro\x00").as_deref(),
            Some("Windows 10 Pro")
        );
        // inside binary data it is no profile (a manifest's comment in a file being copied)
        let mut bin: Vec<u8> = (0..400u32).map(|i| (i * 37 % 256) as u8 & 0x9f).collect();
        bin.extend_from_slice(b"<!-- Windows 10 -->");
        assert_eq!(find(&bin), None);
        assert_eq!(
            find(b"|Windows 8.1 x64|").as_deref(),
            Some("Windows 8.1 x64")
        );
        // a banner is printable text: control bytes or bidi overrides before the bracket end it
        assert_eq!(find(b"Microsoft Windows [Version 1\x1b[2J\n]"), None);
        assert_eq!(
            find("Microsoft Windows [Version \u{202e}10.0]".as_bytes()),
            None
        );
    }

    #[test]
    fn shells_are_known_by_banner_and_prompt() {
        let cmd = b"Microsoft Windows [Version 10.0.19045.2965]\r\n(c) Microsoft Corporation. All rights reserved.\r\n\r\nC:\\Users\\bob>";
        assert_eq!(
            find(cmd).as_deref(),
            Some("Microsoft Windows [Version 10.0.19045.2965]")
        );
        assert_eq!(
            find(b"Windows PowerShell\r\nCopyright (C) Microsoft Corporation. All rights reserved.\r\n").as_deref(),
            Some("Windows PowerShell (banner)")
        );
        assert_eq!(
            find(b"\r\nC:\\Windows\\system32>").as_deref(),
            Some(r"C:\\Windows\\system32>")
        );
        assert_eq!(
            find(b"PS C:\\Users\\bob> ").as_deref(),
            Some(r"PS C:\\Users\\bob>")
        );
        assert_eq!(
            find(b"bash: cannot set terminal process group (1234): Inappropriate ioctl for device\nbash: no job control in this shell\n").as_deref(),
            Some("bash: no job control in this shell")
        );
        assert_eq!(
            find(b"/bin/sh: 0: can't access tty; job control turned off\n# ").as_deref(),
            Some("/bin/sh: 0: can't access tty; job control turned off")
        );
    }

    #[test]
    fn words_and_paths_that_are_no_profile() {
        for p in [
            &b"Window 7"[..],
            b"Windows",
            b"Windows 2000",
            b"Windows NT 10.0",
            b"Windows 7z archive",
            b"Windows 10.5",
            b"WinRAR 7",
            b"Darwin 7",
            b"OpenSSH_for_Windows_8.1",
            b"CAPSCREEN|C:\\WINDOWS\\jpgevhook.dat|84972",
            b"C:\\Users\\bob> dir",
            b"<html>C:\\x>",
            // an IRC client's CTCP VERSION reply
            b"NOTICE bob :\x01VERSION HexChat 2.16.1 [x64] / Windows 10 [3.40GHz]\x01\r\n",
            b"",
        ] {
            assert_eq!(find(p), None, "{}", String::from_utf8_lossy(p));
        }
        // only the first SCAN_BYTES of a segment are looked at
        let mut late = vec![b'x'; SCAN_BYTES];
        late.extend_from_slice(b"|Windows 10 Pro|");
        assert_eq!(find(&late), None);
    }

    proptest::proptest! {
        /// Any bytes, with or without the markers inside, give nothing or a short text of printable
        /// ASCII (escaped), and never a panic.
        #[test]
        fn any_bytes_give_a_short_printable_text_or_nothing(
            head in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
            marker in proptest::sample::select(vec![
                &b""[..], b"Microsoft Windows [Version ", b"Windows 10", b"Win 7 ", b"\r\nC:\\",
                b"PS D:\\", b"no job control in this shell", b"\x01VERSION ",
            ]),
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        ) {
            let p: Vec<u8> = [&head[..], marker, &tail[..]].concat();
            let _ = infrastructure_framing(&p);
            if let Some(t) = find(&p) {
                proptest::prop_assert!(t.len() <= 2 * MAX_TEXT, "{t:?}");
                proptest::prop_assert!(t.bytes().all(|c| (0x20..0x7f).contains(&c)), "{t:?}");
            }
        }
    }

    #[test]
    fn infrastructure_framing_is_recognised_by_content() {
        // SMB1 session setup, SMB2 negotiate
        assert!(infrastructure_framing(b"\x00\x00\x00\x85\xffSMBs\x00\x00"));
        assert!(infrastructure_framing(b"\x00\x00\x00\x85\xfeSMB@\x00"));
        // DCE/RPC bind (5.0, ptype 11)
        assert!(infrastructure_framing(b"\x05\x00\x0b\x03\x10\x00\x00\x00"));
        // LDAP searchResEntry: SEQUENCE (long form length), INTEGER message id
        assert!(infrastructure_framing(
            b"\x30\x84\x00\x00\x01\x00\x02\x01\x05\x64"
        ));
        assert!(infrastructure_framing(b"\x30\x0c\x02\x01\x01\x60\x07"));
        // Kerberos AS-REQ over TCP
        assert!(infrastructure_framing(b"\x00\x00\x01\x20\x6a\x82\x01\x1c"));
        assert!(infrastructure_framing(b"ZBXD\x01\x08\x00"));
        assert!(infrastructure_framing(
            b"<134>Dec  6 19:00:00 host app: Windows 10"
        ));
        assert!(infrastructure_framing(
            b"87 <134>1 2026-12-06T19:00:00Z host"
        ));
        assert!(infrastructure_framing(
            b"REGISTER sip:voip.example.com SIP/2.0\r\nUser-Agent: Softphone 3.2 (Windows 10)\r\n"
        ));
        assert!(infrastructure_framing(b"SIP/2.0 200 OK\r\n"));
        assert!(infrastructure_framing(
            b"OPTIONS rtsp://10.0.0.7/stream RTSP/1.0\r\nCSeq: 1\r\n"
        ));
        assert!(infrastructure_framing(
            b"\x1b%-12345X@PJL JOB NAME=\"report\"\r\n@PJL COMMENT \"Windows 10\"\r\n"
        ));
        assert!(infrastructure_framing(
            b"%!PS-Adobe-3.0\n%%Title: Windows 10 guide\n"
        ));
        assert!(infrastructure_framing(b"\x02lp\n"));
        assert!(!infrastructure_framing(b"\x02\n"));
        assert!(infrastructure_framing(b"\x13BitTorrent protocol\x00\x00"));
        assert!(infrastructure_framing(b"\x0eSwarm protocol\x00\x00\x00"));
        // a RAT's own framing is none of these
        assert!(!infrastructure_framing(b"144\r\n\r\n"));
        assert!(!infrastructure_framing(b"ping|STRRAT|"));
        assert!(!infrastructure_framing(b"ANABILGI|556"));
        assert!(!infrastructure_framing(b"\x30\x00"));
        assert!(!infrastructure_framing(b"helloj world"));
        assert!(!infrastructure_framing(b""));
    }
}
