//! Pivots from a finding: the exact `wirehunt sql` and `wirehunt extract` command lines that open the
//! rows and the packets behind it (printed by triage's "Open next" and in the HTML report). Only ids
//! wirehunt made (base62 uids and fuids) reach a command line; the dataset path is one shell word.

use super::Finding;
use std::path::Path;

/// A POSIX shell word for `s`: single-quoted, embedded quotes closed and escaped.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The ids under `key` ("uids", "fuids") in a finding's evidence that are ours: base62, at most 24
/// characters, never free text. At most `limit`.
pub fn ids(f: &Finding, key: &str, limit: usize) -> Vec<String> {
    f.evidence
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .filter(|s| {
                    !s.is_empty() && s.len() <= 24 && s.bytes().all(|b| b.is_ascii_alphanumeric())
                })
                .take(limit)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn quoted(ids: &[String]) -> String {
    ids.iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `wirehunt sql` command showing the rows behind `f` (its files, else its connections; the
/// first five).
pub fn sql_command(f: &Finding, dataset: &Path) -> Option<String> {
    let ds = shell_word(&dataset.display().to_string());
    let fuids = ids(f, "fuids", 5);
    let uids = ids(f, "uids", 5);
    let q = if !fuids.is_empty() {
        format!(
            "SELECT ts, uid, fuid, file_class, mime_type, filename, seen_bytes, sha256 FROM files WHERE fuid IN ({})",
            quoted(&fuids)
        )
    } else if !uids.is_empty() {
        format!(
            "SELECT ts, uid, orig_h, resp_h, resp_p, proto, service, duration, orig_bytes, resp_bytes, conn_state FROM conn WHERE uid IN ({})",
            quoted(&uids)
        )
    } else {
        return None;
    };
    Some(format!("wirehunt sql {ds} \"{q}\""))
}

/// The `wirehunt extract` command writing the packets of every connection of finding `n` (numbered as
/// triage numbers them with the same detector `options`, already shell words) to `finding-N.pcap`.
pub fn extract_finding_command(n: usize, dataset: &Path, options: &[String]) -> String {
    let mut words = vec![
        "wirehunt extract".to_string(),
        shell_word(&dataset.display().to_string()),
        format!("--finding {n}"),
    ];
    words.extend(options.iter().cloned());
    words.push(format!("-o finding-{n}.pcap"));
    words.join(" ")
}

/// The `wirehunt extract` command writing the packets of `f`'s first five connections to
/// `finding-N.pcap`.
pub fn extract_command(f: &Finding, n: usize, dataset: &Path) -> Option<String> {
    let uids = ids(f, "uids", 5);
    if uids.is_empty() {
        return None;
    }
    let args: Vec<String> = uids.iter().map(|u| format!("--uid {u}")).collect();
    Some(format!(
        "wirehunt extract {} {} -o finding-{n}.pcap",
        shell_word(&dataset.display().to_string()),
        args.join(" ")
    ))
}
