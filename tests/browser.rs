//! The HTML report in a real browser: headless Chromium driven by chromedriver (both from the
//! distribution's packages; scripts/test.sh installs them) over the W3C WebDriver protocol, spoken
//! here over a plain TCP socket. The page is loaded at 1200 px with every evidence block opened; the
//! checks run on the rendered page: panels present with their charts, each finding with its pivots,
//! no element wider than the viewport, no console error (a CSP violation would be one), no script.
//! A screenshot is written beside the test's files (`WIREHUNT_SCREENSHOTS=DIR` keeps it; docs/report.png
//! is one of these).
use crate::common::*;
use base64::Engine;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver on an ephemeral port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request with a JSON body; the JSON answer's `value`.
fn call(port: u16, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // read the head, then exactly Content-Length bytes (chromedriver keeps the connection open)
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{path}: connection closed before the answer");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{path}: no content-length in {head}"));
    while raw.len() < head_end + len {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{path}: connection closed inside the answer");
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..head_end + len]).into_owned();
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    assert!(
        v["value"].get("error").is_none(),
        "{method} {path}: {}",
        v["value"]
    );
    v["value"].clone()
}

fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt-get install chromium-driver; scripts/test.sh installs it)");
    let d = Driver { child, port };
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    d
}

const CHECKS: &str = r#"
document.querySelectorAll('details').forEach(d => d.open = true);
const w = document.documentElement.clientWidth;
const wide = [];
document.querySelectorAll('body *').forEach(e => {
  const r = e.getBoundingClientRect();
  if (r.width > 0 && r.right > w + 1) wide.push(e.tagName + (e.id ? '#' + e.id : '') + ' ' + Math.round(r.right));
});
const panel = id => {
  const s = document.getElementById(id);
  return s ? { height: s.getBoundingClientRect().height, svgs: s.querySelectorAll('svg').length,
               rows: s.querySelectorAll('tr').length } : null;
};
return {
  clientWidth: w, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 20),
  scripts: document.scripts.length,
  csp: !!document.querySelector('meta[http-equiv="Content-Security-Policy"]'),
  title: document.title,
  panels: Object.fromEntries(['summary', 'findings', 'hosts', 'traffic', 'top', 'dns', 'inputs'].map(i => [i, panel(i)])),
  findings: [...document.querySelectorAll('tr[id^="finding-"]')].map(r => ({
    id: r.id, severity: r.children[2].textContent,
    pivots: [...r.querySelectorAll('pre.cmd')].map(p => p.textContent),
    kv: r.querySelectorAll('table.kv tr').length,
    strip: [...r.querySelectorAll('svg')].some(s => (s.getAttribute('aria-label') || '').startsWith('check-ins')),
  })),
  sha: [...document.querySelectorAll('#inputs code')].map(c => c.textContent),
};
"#;

fn render_and_check(page: &Path, shot: &Path) -> Value {
    let d = start_driver();
    let session = call(
        d.port,
        "POST",
        "/session",
        Some(json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1000", "--hide-scrollbars"]},
            "goog:loggingPrefs": {"browser": "ALL"}
        }}})),
    );
    let sid = session["sessionId"].as_str().unwrap().to_string();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    call(
        d.port,
        "POST",
        &format!("/session/{sid}/url"),
        Some(json!({ "url": url })),
    );
    // the screenshot: the first screens as a reader opens the page
    let rect = |w: u32, h: u32| {
        call(
            d.port,
            "POST",
            &format!("/session/{sid}/window/rect"),
            Some(json!({"width": w, "height": h})),
        )
    };
    rect(1200, 2400);
    let png = call(d.port, "GET", &format!("/session/{sid}/screenshot"), None);
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n"), "a PNG screenshot");
    std::fs::write(shot, &png).unwrap();
    // the checks at 1200 px, every evidence block open
    rect(1200, 1000);
    let checks = call(
        d.port,
        "POST",
        &format!("/session/{sid}/execute/sync"),
        Some(json!({"script": CHECKS, "args": []})),
    );
    let log = call(
        d.port,
        "POST",
        &format!("/session/{sid}/se/log"),
        Some(json!({"type": "browser"})),
    );
    call(d.port, "DELETE", &format!("/session/{sid}"), None);
    let errors: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    checks
}

/// The demo scenario's report (`wirehunt report` over triage's dataset) renders in Chromium with
/// every panel, each finding's evidence table and pivots, a timeline strip for each beacon, full
/// hashes, and nothing wider than a 1200 px window with all evidence open.
#[test]
fn the_html_report_renders_in_chromium_with_every_panel_and_no_overflow() {
    let cap = demo_capture();
    let dir = tmp("browser");
    let ds = dir.join("ds");
    let o = run(&[
        "-q",
        "triage",
        cap.to_str().unwrap(),
        "-d",
        ds.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let findings: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!findings.is_empty());
    let page = dir.join("report.html");
    run_ok(&[
        "-q",
        "report",
        ds.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    let c = render_and_check(&page, &dir.join("report.png"));

    assert_eq!(c["scripts"], 0, "no script in the page");
    assert_eq!(c["csp"], true);
    assert!(
        c["title"].as_str().unwrap().contains("scenario.pcap.gz"),
        "{}",
        c["title"]
    );
    assert!(
        c["wide"].as_array().unwrap().is_empty(),
        "wider than the window: {}",
        c["wide"]
    );
    assert!(
        c["scrollWidth"].as_i64() <= c["clientWidth"].as_i64(),
        "{c}"
    );
    for (id, min_svgs) in [
        ("summary", 0),
        ("findings", 1),
        ("hosts", 0),
        ("traffic", 3),
        ("top", 4),
        ("dns", 1),
        ("inputs", 0),
    ] {
        let p = &c["panels"][id];
        assert!(p.is_object(), "panel {id} missing");
        assert!(
            p["height"].as_f64().unwrap() > 20.0,
            "panel {id} empty: {p}"
        );
        assert!(p["svgs"].as_u64().unwrap() >= min_svgs, "panel {id}: {p}");
    }
    // every finding triage reported, in the same order, with its evidence and pivots
    let rows = c["findings"].as_array().unwrap();
    assert_eq!(rows.len(), findings.len());
    for (n, (r, f)) in rows.iter().zip(&findings).enumerate() {
        assert_eq!(r["severity"], f["severity"], "{r}");
        assert!(r["kv"].as_u64().unwrap() >= 3, "evidence as a table: {r}");
        let pivots: Vec<&str> = r["pivots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(pivots.iter().any(|p| p.starts_with("wirehunt sql ")), "{r}");
        // numbered as triage numbers them: all the finding's connections
        let finding = format!(" --finding {} ", n + 1);
        assert!(
            pivots
                .iter()
                .any(|p| p.starts_with("wirehunt extract ") && p.contains(&finding)),
            "{r}"
        );
        if f["category"] == "beaconing" {
            assert_eq!(r["strip"], true, "a beacon's timeline: {r}");
        }
    }
    // the hash is whole, as capinfos or sha256sum prints it
    let sha = c["sha"].as_array().unwrap();
    assert_eq!(sha.len(), 1);
    assert_eq!(sha[0].as_str().unwrap().len(), 64);
    assert!(dir.join("report.png").metadata().unwrap().len() > 10_000);
    // WIREHUNT_SCREENSHOTS=DIR keeps the screenshot (docs/report.png is made this way)
    if let Some(keep) = std::env::var_os("WIREHUNT_SCREENSHOTS") {
        std::fs::copy(dir.join("report.png"), Path::new(&keep).join("report.png")).unwrap();
    }
}
