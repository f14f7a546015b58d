//! Input names: a capture's path as text that is safe to print, store and parse back.
//!
//! A file name is attacker-influenced (a sensor archive, a shared drive, a tarball from a customer):
//! it may hold bytes that are not UTF-8, newlines, terminal controls or bidi overrides. wirehunt
//! names every input by [`path_name`], a reversible escape of its bytes, and uses that one string in
//! the manifest, the `source` column, stderr and every report; [`name_path`] gives the exact path
//! back for opening the file (or for `extract` to reopen it later).
//!
//! Escapes: `\\` for a backslash, `\xHH` for a byte that is not part of valid UTF-8 or is an ASCII
//! control (newline, tab, ESC, DEL ...), `\u{H...}` for C1 controls, bidi controls and invisible
//! separators. Anything else is kept as is, so an ordinary name is its own escape.

use std::path::{Path, PathBuf};

/// Characters printed as `\u{...}`: C1 controls, bidi embeddings/overrides/isolates and marks,
/// zero-width characters, line/paragraph separators and the BOM.
fn needs_unicode_escape(c: char) -> bool {
    matches!(c as u32,
        0x80..=0x9f
        | 0x061c
        | 0x200b..=0x200f
        | 0x2028..=0x202e
        | 0x2060..=0x2069
        | 0xfeff)
}

fn push_char(out: &mut String, c: char) {
    let u = c as u32;
    if c == '\\' {
        out.push_str("\\\\");
    } else if u < 0x20 || u == 0x7f {
        out.push_str(&format!("\\x{u:02x}"));
    } else if needs_unicode_escape(c) {
        out.push_str(&format!("\\u{{{u:x}}}"));
    } else {
        out.push(c);
    }
}

/// Escape raw name bytes (see the module doc).
pub fn escape_name_bytes(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                s.chars().for_each(|c| push_char(&mut out, c));
                return out;
            }
            Err(e) => {
                let (good, rest) = b.split_at(e.valid_up_to());
                // valid_up_to() marks a UTF-8 boundary, so this never fails
                if let Ok(s) = std::str::from_utf8(good) {
                    s.chars().for_each(|c| push_char(&mut out, c));
                }
                let bad = e.error_len().unwrap_or(rest.len()).max(1).min(rest.len());
                let (bad, after) = rest.split_at(bad);
                for x in bad {
                    out.push_str(&format!("\\x{x:02x}"));
                }
                b = after;
            }
        }
    }
}

/// The name of a path (see the module doc); `-` (stdin) stays `-`.
pub fn path_name(p: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        escape_name_bytes(p.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        escape_name_bytes(p.to_string_lossy().as_bytes())
    }
}

/// The raw bytes a name stands for. A backslash not starting a known escape is kept as itself (a
/// name typed by hand, for example `sensor\1.pcap`, still means that file).
pub fn unescape_name(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            let rest = &s[i + 1..];
            if rest.starts_with('\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if let Some(h) = rest.strip_prefix('x').and_then(|r| r.get(..2))
                && let Ok(v) = u8::from_str_radix(h, 16)
                && h.bytes().all(|c| c.is_ascii_hexdigit())
            {
                out.push(v);
                i += 4;
                continue;
            }
            if let Some(r) = rest.strip_prefix("u{")
                && let Some(end) = r.find('}')
                && let Ok(v) = u32::from_str_radix(&r[..end], 16)
                && let Some(c) = char::from_u32(v)
            {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                i += 1 + 2 + end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The path a name stands for.
pub fn name_path(s: &str) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(unescape_name(s)))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(&unescape_name(s)).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_their_own_escape() {
        for n in [
            "a.pcap",
            "/srv/sensor 1/2026-12-01.pcap.gz",
            "été/捕获.pcapng",
            "-",
        ] {
            assert_eq!(escape_name_bytes(n.as_bytes()), n);
            assert_eq!(unescape_name(n), n.as_bytes());
        }
    }

    #[test]
    fn hostile_names_are_escaped_and_come_back_exactly() {
        let cases: &[(&[u8], &str)] = &[
            (b"bad\xff\xfe.pcap", "bad\\xff\\xfe.pcap"),
            (b"a\nb.pcap", "a\\x0ab.pcap"),
            (b"\x1b[31mred", "\\x1b[31mred"),
            ("x\u{202e}pacp.exe".as_bytes(), "x\\u{202e}pacp.exe"),
            ("c1\u{9b}".as_bytes(), "c1\\u{9b}"),
            (b"back\\slash\\x41", "back\\\\slash\\\\x41"),
            (b"cut\xe2\x80", "cut\\xe2\\x80"),
            (b"\xc0\x80", "\\xc0\\x80"),
        ];
        for (raw, want) in cases {
            let got = escape_name_bytes(raw);
            assert_eq!(&got, want);
            assert!(
                !got.chars()
                    .any(|c| c.is_control() || needs_unicode_escape(c))
            );
            assert_eq!(unescape_name(&got), *raw, "{got}");
        }
    }

    #[test]
    fn every_byte_string_round_trips() {
        // all 1- and 2-byte names, and some longer mixtures
        let mut names: Vec<Vec<u8>> = (0..=255u8).map(|a| vec![a]).collect();
        for a in 0..=255u8 {
            for b in [0u8, b'\\', b'x', 0x80, 0xc3, 0xe2, 0xff] {
                names.push(vec![a, b]);
                names.push(vec![b, a]);
            }
        }
        names.push("\\x4g\\u{zz}\\u{110000}é\u{2066}".as_bytes().to_vec());
        for n in names {
            assert_eq!(unescape_name(&escape_name_bytes(&n)), n, "{n:?}");
        }
    }

    #[test]
    fn a_typed_backslash_keeps_its_meaning() {
        assert_eq!(unescape_name("sensor\\1.pcap"), b"sensor\\1.pcap");
        assert_eq!(unescape_name("end\\"), b"end\\");
    }
}
