//! What the wire layers produce: one plain record per row of a table, handed to a [`RecordSink`].
//!
//! The flow table and the protocol analyzers know nothing of Arrow, Parquet or files: they build a
//! record (borrowing the analyzer's own strings, so no row costs an allocation it did not cost
//! before) and give it to the sink. The store implements the sink with one table per record kind;
//! its `table!` declaration destructures the record without `..`, so a column without a field, or a
//! field without a column, is a compile error instead of a ragged batch at flush time.
//!
//! Field types are the column's value: `&str`/`Option<&str>` for text, [`IpAddr`] for an address
//! column (the store writes its text), `i64` microseconds for a timestamp, slices for list columns
//! (`Option<&[_]>` where a missing list is NULL rather than empty).

use std::net::IpAddr;

/// One `conn` row: a connection (TCP, UDP or ICMP flow) that ended.
#[derive(Debug, Clone)]
pub struct ConnRecord<'a> {
    pub ts: i64,
    pub uid: &'a str,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub proto: &'static str,
    pub service: Option<&'static str>,
    pub duration: f64,
    pub orig_bytes: u64,
    pub resp_bytes: u64,
    pub conn_state: &'static str,
    pub local_orig: bool,
    pub local_resp: bool,
    pub missed_bytes: u64,
    pub history: &'a str,
    pub orig_pkts: u64,
    pub orig_ip_bytes: u64,
    pub resp_pkts: u64,
    pub resp_ip_bytes: u64,
    pub vlan: Option<u16>,
    pub end_reason: &'a str,
    pub orig_bursts: &'a [i64],
    pub orig_burst_bytes: &'a [u32],
    pub source: &'a str,
    pub orig_seen_bytes: u64,
    pub resp_seen_bytes: u64,
    pub community_id: &'a str,
    pub first_frame: u64,
    pub last_frame: u64,
    pub last_source: &'a str,
    /// What the originator's / responder's payload said about a host in the clear, in a stream no
    /// analyzer recognised (`proto::profile`).
    pub orig_profile: Option<&'a str>,
    pub resp_profile: Option<&'a str>,
}

/// One `dns` row: a query paired with its response (either may be missing).
#[allow(non_snake_case)]
#[derive(Debug, Clone)]
pub struct DnsRecord<'a> {
    pub ts: i64,
    pub uid: &'a str,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub proto: &'static str,
    pub trans_id: u16,
    pub rtt: Option<f64>,
    pub query: Option<&'a str>,
    pub qclass: Option<u16>,
    pub qclass_name: Option<&'a str>,
    pub qtype: Option<u16>,
    pub qtype_name: Option<&'a str>,
    pub rcode: Option<u8>,
    pub rcode_name: Option<&'a str>,
    pub AA: Option<bool>,
    pub TC: Option<bool>,
    pub RD: bool,
    pub RA: Option<bool>,
    pub Z: u8,
    pub answers: Option<&'a [String]>,
    pub TTLs: Option<&'a [u32]>,
    pub answer_types: Option<&'a [std::borrow::Cow<'static, str>]>,
    pub rejected: Option<bool>,
    pub query_len: Option<u32>,
    pub label_count: Option<u32>,
    pub max_label_len: Option<u32>,
    pub answer_count: Option<u16>,
    pub authority_count: Option<u16>,
    pub additional_count: Option<u16>,
    pub request_bytes: Option<u32>,
    pub response_bytes: Option<u32>,
    pub edns_udp_size: Option<u16>,
    pub edns_do: Option<bool>,
    pub edns_client_subnet: Option<&'a str>,
    pub has_query: bool,
    pub has_response: bool,
    pub damage: Option<&'a str>,
    pub source: &'a str,
    pub community_id: &'a str,
}

/// One `http` row: a request/response transaction.
#[derive(Debug, Clone)]
pub struct HttpRecord<'a> {
    pub ts: i64,
    pub uid: &'a str,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub trans_depth: u32,
    pub method: Option<&'a str>,
    pub host: Option<&'a str>,
    pub uri: Option<&'a str>,
    pub referrer: Option<&'a str>,
    pub version: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub request_body_len: u64,
    pub response_body_len: u64,
    pub status_code: Option<u16>,
    pub status_msg: Option<&'a str>,
    pub info_code: Option<u16>,
    pub username: Option<&'a str>,
    pub proxied: &'a [String],
    pub orig_content_type: Option<&'a str>,
    pub resp_content_type: Option<&'a str>,
    pub request_header_len: Option<u32>,
    pub response_header_len: Option<u32>,
    pub server: Option<&'a str>,
    pub location: Option<&'a str>,
    pub x_forwarded_for: Option<&'a str>,
    pub cookie_len: Option<u32>,
    pub chunked_request: bool,
    pub chunked_response: bool,
    pub tunnel: Option<&'a str>,
    pub partial: bool,
    pub gap: bool,
    pub source: &'a str,
    pub community_id: &'a str,
}

/// One `tls` row: a handshake and the certificate facts of its leaf.
#[derive(Debug, Clone)]
pub struct TlsRecord<'a> {
    pub ts: i64,
    pub uid: &'a str,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub version: Option<&'a str>,
    pub cipher: Option<&'a str>,
    pub curve: Option<&'a str>,
    pub server_name: Option<&'a str>,
    pub resumed: bool,
    pub established: bool,
    pub alpn_offered: &'a [String],
    pub alpn: Option<&'a str>,
    pub client_versions: &'a [std::borrow::Cow<'static, str>],
    pub client_cipher_count: Option<u32>,
    pub client_extension_count: Option<u32>,
    pub ja3: Option<&'a str>,
    pub ja3_string: Option<&'a str>,
    pub ja3s: Option<&'a str>,
    pub ja3s_string: Option<&'a str>,
    pub ja4: Option<&'a str>,
    pub cert_chain_sha256: &'a [String],
    pub subject: Option<&'a str>,
    pub issuer: Option<&'a str>,
    pub not_valid_before: Option<i64>,
    pub not_valid_after: Option<i64>,
    pub san_dns: &'a [String],
    pub self_signed: Option<bool>,
    pub expired_at_capture_time: Option<bool>,
    pub orig_bytes: u64,
    pub resp_bytes: u64,
    pub source: &'a str,
    pub community_id: &'a str,
}

/// One `files` row: an HTTP body in either direction.
#[derive(Debug, Clone)]
pub struct FileRecord<'a> {
    pub ts: i64,
    pub uid: &'a str,
    pub fuid: &'a str,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub trans_depth: u32,
    pub is_orig: bool,
    pub declared_type: Option<&'a str>,
    pub mime_type: Option<&'a str>,
    pub file_class: &'a str,
    pub filename: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub decoded: Option<bool>,
    pub seen_bytes: u64,
    pub wire_bytes: u64,
    pub total_bytes: Option<u64>,
    pub missing_bytes: u64,
    pub complete: bool,
    pub cut_reason: Option<&'a str>,
    pub md5: Option<&'a str>,
    pub sha1: Option<&'a str>,
    pub sha256: Option<&'a str>,
    pub entropy: Option<f64>,
    pub archive_entries: &'a [String],
    /// The one IP address a short text body names (an IP-echo answer); see `proto::files::text_address`.
    pub text_address: Option<IpAddr>,
    /// `hex` or `base64`: the body's first 64 KiB is all of that alphabet (binary carried as text).
    pub text_encoding: Option<&'static str>,
    pub extracted: Option<&'a str>,
    pub source: &'a str,
    pub community_id: &'a str,
}

/// One `ftp` row: a command on an FTP control connection and the server's final reply to it.
#[derive(Debug, Clone)]
pub struct FtpRecord<'a> {
    pub ts: i64,
    pub uid: &'a str,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub user: Option<&'a str>,
    pub command: &'a str,
    pub arg: Option<&'a str>,
    pub reply_code: Option<u16>,
    pub reply_msg: Option<&'a str>,
    pub data_h: Option<IpAddr>,
    pub data_p: Option<u16>,
    pub passive: Option<bool>,
    pub file_size: Option<u64>,
    pub source: &'a str,
    pub community_id: &'a str,
}

/// One `smtp` row: a mail transaction (MAIL FROM to the end of its message), or the session when
/// it carried none.
#[derive(Debug, Clone)]
pub struct SmtpRecord<'a> {
    pub ts: i64,
    pub uid: &'a str,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub trans_depth: u32,
    pub helo: Option<&'a str>,
    pub auth_mechanism: Option<&'a str>,
    pub auth_user: Option<&'a str>,
    pub auth_success: Option<bool>,
    pub tls: bool,
    pub mailfrom: Option<&'a str>,
    pub rcptto: &'a [String],
    pub msg_date: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: &'a [String],
    pub subject: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    pub x_mailer: Option<&'a str>,
    pub attachments: &'a [String],
    pub msg_bytes: u64,
    pub last_reply: Option<&'a str>,
    pub source: &'a str,
    pub community_id: &'a str,
}

/// One `weird` row, as the store writes it (events reach the sink through
/// [`RecordSink::weird`], which counts and rate-limits them).
#[derive(Debug, Clone)]
pub struct WeirdRecord<'a> {
    pub ts: i64,
    pub uid: Option<&'a str>,
    pub name: &'a str,
    pub addl: &'a str,
    pub source: &'a str,
    pub frame: Option<u64>,
}

/// A row for one of the tables. Adding a protocol with a table of its own adds a record struct
/// above and a variant here; the store's table registry maps the variant to its table.
#[derive(Debug, Clone)]
pub enum Record<'a> {
    Conn(ConnRecord<'a>),
    Dns(DnsRecord<'a>),
    Http(HttpRecord<'a>),
    Tls(TlsRecord<'a>),
    File(FileRecord<'a>),
    Ftp(FtpRecord<'a>),
    Smtp(SmtpRecord<'a>),
}

/// Where the flow table and the analyzers send what they find.
pub trait RecordSink {
    /// One finished row.
    fn record(&mut self, r: Record<'_>);
    /// Something malformed or unusual (a `weird` event). Every event is counted; the sink decides
    /// which become rows (the store keeps the earliest per name and input).
    fn weird(&mut self, ts: i64, uid: Option<&str>, name: &str, addl: &str, frame: Option<u64>);
    /// `--extract-files`: where HTTP bodies are written, when asked for.
    fn extract_files(&self) -> Option<&std::sync::Arc<crate::proto::files::Extract>> {
        None
    }
}

/// A sink that keeps every record's kind count and every weird name's count: for tests and
/// benchmarks of the wire layers without a store.
#[derive(Debug, Default)]
pub struct Counter {
    pub conn: u64,
    pub dns: u64,
    pub http: u64,
    pub tls: u64,
    pub files: u64,
    pub ftp: u64,
    pub smtp: u64,
    pub weird: std::collections::BTreeMap<String, u64>,
}

impl RecordSink for Counter {
    fn record(&mut self, r: Record<'_>) {
        match r {
            Record::Conn(_) => self.conn += 1,
            Record::Dns(_) => self.dns += 1,
            Record::Http(_) => self.http += 1,
            Record::Tls(_) => self.tls += 1,
            Record::File(_) => self.files += 1,
            Record::Ftp(_) => self.ftp += 1,
            Record::Smtp(_) => self.smtp += 1,
        }
    }
    fn weird(&mut self, _ts: i64, _uid: Option<&str>, name: &str, _addl: &str, _f: Option<u64>) {
        *self.weird.entry(name.to_string()).or_insert(0) += 1;
    }
}

/// The dotted-quad text of an IPv4 address, made without `fmt`: `Ipv4Addr`'s `Display` goes
/// through the formatting machinery (for its padding support), which cost 3% of a small-packet
/// ingest in the conn rows' addresses and about 1% more in DNS A answers. Same text as `Display`.
pub struct Ipv4Text {
    buf: [u8; 15],
    len: usize,
}

impl Ipv4Text {
    #[inline]
    pub fn new(ip: std::net::Ipv4Addr) -> Ipv4Text {
        let mut buf = [0u8; 15];
        let mut len = 0;
        let mut push = |c: u8| {
            if let Some(b) = buf.get_mut(len) {
                *b = c;
                len += 1;
            }
        };
        for (i, o) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                push(b'.');
            }
            if o >= 100 {
                push(b'0' + o / 100);
            }
            if o >= 10 {
                push(b'0' + o / 10 % 10);
            }
            push(b'0' + o % 10);
        }
        Ipv4Text { buf, len }
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        // digits and dots only: always UTF-8
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::Ipv4Text;
    use std::net::Ipv4Addr;

    #[test]
    fn ipv4_text_is_displays_text() {
        let edges = [0u8, 1, 9, 10, 11, 99, 100, 101, 199, 200, 249, 250, 255];
        for a in edges {
            for b in edges {
                for (c, d) in [(0, 255), (255, 0), (10, 100), (99, 9)] {
                    let ip = Ipv4Addr::new(a, b, c, d);
                    assert_eq!(Ipv4Text::new(ip).as_str(), ip.to_string());
                }
            }
        }
    }
}
