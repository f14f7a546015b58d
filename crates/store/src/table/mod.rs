//! Table definitions: each table's columns are declared once (name, kind, one-line meaning) by the
//! [`table!`] macro, which generates the Arrow schema, typed column builders and the documentation
//! used by `wirehunt schema` and by the README's table reference (a test keeps them in sync).
//!
//! Conventions (Zeek's): `ts` is UTC microseconds, `uid` joins every row to its `conn` row, the
//! connection 4-tuple is `orig_h`, `orig_p`, `resp_h`, `resp_p`. Addresses are text so SQL stays simple.

pub mod dataset;
pub mod intel;
pub mod location;
pub mod manifest;
pub mod partition;
pub mod remote;
pub mod runs;
pub mod snapshot;
pub mod writer;

use arrow::array::*;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Append an address's text as the next value of a string column, formatted straight into the
/// column's buffer (no `String` per row). IPv4, most of every table's addresses, is written by hand:
/// `Ipv4Addr`'s `Display` (padding support through `fmt`) was 3% of a small-packet ingest.
///
/// A table's rows name few distinct addresses (a capture's hosts, their servers), so the text of
/// each IPv4 address is also kept in a small direct-mapped cache per thread (512 entries, a
/// `String` each, reused in place: no allocation after the first fill); a repeated address costs a
/// comparison instead of formatting and UTF-8 validation (1% of a small-packet ingest). A miss
/// costs what the uncached path did.
pub fn append_ip(b: &mut StringBuilder, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let key = u32::from(v4);
            V4_TEXT.with_borrow_mut(|cache| {
                // Fibonacci hashing: the top 9 bits of key * 2^32/phi
                let i = (key.wrapping_mul(0x9e37_79b9) >> (32 - V4_TEXT_BITS)) as usize;
                match cache.get_mut(i) {
                    Some((k, text)) => {
                        if *k != key {
                            text.clear();
                            text.push_str(wirehunt_wire::record::Ipv4Text::new(v4).as_str());
                            *k = key;
                        }
                        b.append_value(text.as_str());
                    }
                    None => b.append_value(wirehunt_wire::record::Ipv4Text::new(v4).as_str()),
                }
            });
        }
        std::net::IpAddr::V6(v6) => {
            use std::fmt::Write;
            let _ = write!(b, "{v6}");
            b.append_value("");
        }
    }
}

const V4_TEXT_BITS: u32 = 9;

thread_local! {
    /// (address, its text) by the address's hash; every entry starts as 0.0.0.0, which is true
    static V4_TEXT: std::cell::RefCell<Vec<(u32, String)>> = std::cell::RefCell::new(
        (0..1 << V4_TEXT_BITS)
            .map(|_| {
                let mut s = String::with_capacity(15);
                s.push_str("0.0.0.0");
                (0, s)
            })
            .collect(),
    );
}

/// Version of the table schemas; bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 8;

/// One column's documentation.
#[derive(Debug, Clone)]
pub struct ColumnDoc {
    pub name: &'static str,
    pub sql_type: &'static str,
    pub doc: &'static str,
}

/// A table's documentation.
#[derive(Debug, Clone)]
pub struct TableDoc {
    pub name: &'static str,
    pub doc: &'static str,
    pub columns: Vec<ColumnDoc>,
}

/// Column kinds: each maps to an Arrow type and a builder.
pub mod kinds {
    use super::*;
    pub trait Kind {
        type Builder: ArrayBuilder;
        const SQL: &'static str;
        fn data_type() -> DataType;
        fn builder() -> Self::Builder;
        /// An empty builder with the capacity `b` holds now (rows, and value bytes or list items):
        /// the next batch of a table is about as large as the last, so it is built without the
        /// doubling reallocations (each a copy) of an empty builder.
        fn like(b: &Self::Builder) -> Self::Builder;
    }
    /// Bytes of data a builder holds (values and offsets; validity bitmaps ignored): what a flush by
    /// size looks at.
    pub trait HeldBytes {
        fn held_bytes(&self) -> usize;
    }
    impl<T: arrow::datatypes::ArrowPrimitiveType> HeldBytes for PrimitiveBuilder<T> {
        fn held_bytes(&self) -> usize {
            std::mem::size_of_val(self.values_slice())
        }
    }
    impl HeldBytes for StringBuilder {
        fn held_bytes(&self) -> usize {
            self.values_slice().len() + std::mem::size_of_val(self.offsets_slice())
        }
    }
    impl HeldBytes for BooleanBuilder {
        fn held_bytes(&self) -> usize {
            self.len() / 8
        }
    }
    impl<T: ArrayBuilder + HeldBytes> HeldBytes for ListBuilder<T> {
        fn held_bytes(&self) -> usize {
            self.values_ref().held_bytes() + std::mem::size_of_val(self.offsets_slice())
        }
    }
    macro_rules! kind {
        ($k:ident, $b:ty, $sql:literal, $dt:expr, $new:expr, $like:expr) => {
            pub struct $k;
            impl Kind for $k {
                type Builder = $b;
                const SQL: &'static str = $sql;
                fn data_type() -> DataType {
                    $dt
                }
                fn builder() -> $b {
                    $new
                }
                fn like(b: &$b) -> $b {
                    $like(b)
                }
            }
        };
    }
    kind!(
        Ts,
        TimestampMicrosecondBuilder,
        "timestamp(us, UTC)",
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        TimestampMicrosecondBuilder::new().with_timezone("UTC"),
        |b: &TimestampMicrosecondBuilder| TimestampMicrosecondBuilder::with_capacity(b.len())
            .with_timezone("UTC")
    );
    kind!(
        Str,
        StringBuilder,
        "string",
        DataType::Utf8,
        StringBuilder::new(),
        |b: &StringBuilder| StringBuilder::with_capacity(b.len(), b.values_slice().len())
    );
    kind!(
        U8,
        UInt8Builder,
        "uint8",
        DataType::UInt8,
        UInt8Builder::new(),
        |b: &UInt8Builder| UInt8Builder::with_capacity(b.len())
    );
    kind!(
        U16,
        UInt16Builder,
        "uint16",
        DataType::UInt16,
        UInt16Builder::new(),
        |b: &UInt16Builder| UInt16Builder::with_capacity(b.len())
    );
    kind!(
        U32,
        UInt32Builder,
        "uint32",
        DataType::UInt32,
        UInt32Builder::new(),
        |b: &UInt32Builder| UInt32Builder::with_capacity(b.len())
    );
    kind!(
        U64,
        UInt64Builder,
        "uint64",
        DataType::UInt64,
        UInt64Builder::new(),
        |b: &UInt64Builder| UInt64Builder::with_capacity(b.len())
    );
    kind!(
        I64,
        Int64Builder,
        "int64",
        DataType::Int64,
        Int64Builder::new(),
        |b: &Int64Builder| Int64Builder::with_capacity(b.len())
    );
    kind!(
        F64,
        Float64Builder,
        "float64",
        DataType::Float64,
        Float64Builder::new(),
        |b: &Float64Builder| Float64Builder::with_capacity(b.len())
    );
    kind!(
        Bool,
        BooleanBuilder,
        "bool",
        DataType::Boolean,
        BooleanBuilder::new(),
        |b: &BooleanBuilder| BooleanBuilder::with_capacity(b.len())
    );
    kind!(
        StrList,
        ListBuilder<StringBuilder>,
        "list<string>",
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        ListBuilder::new(StringBuilder::new()),
        |b: &ListBuilder<StringBuilder>| {
            let v = b.values_ref();
            ListBuilder::with_capacity(
                StringBuilder::with_capacity(v.len(), v.values_slice().len()),
                b.len(),
            )
        }
    );
    kind!(
        U32List,
        ListBuilder<UInt32Builder>,
        "list<uint32>",
        DataType::List(Arc::new(Field::new("item", DataType::UInt32, true))),
        ListBuilder::new(UInt32Builder::new()),
        |b: &ListBuilder<UInt32Builder>| ListBuilder::with_capacity(
            UInt32Builder::with_capacity(b.values_ref().len()),
            b.len()
        )
    );
    kind!(
        I64List,
        ListBuilder<Int64Builder>,
        "list<int64>",
        DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
        ListBuilder::new(Int64Builder::new()),
        |b: &ListBuilder<Int64Builder>| ListBuilder::with_capacity(
            Int64Builder::with_capacity(b.values_ref().len()),
            b.len()
        )
    );
    kind!(
        U16List,
        ListBuilder<UInt16Builder>,
        "list<uint16>",
        DataType::List(Arc::new(Field::new("item", DataType::UInt16, true))),
        ListBuilder::new(UInt16Builder::new()),
        |b: &ListBuilder<UInt16Builder>| ListBuilder::with_capacity(
            UInt16Builder::with_capacity(b.values_ref().len()),
            b.len()
        )
    );

    /// Append a record field's value to its column's builder: the one conversion from the wire
    /// layers' plain values to Arrow (a field type without an impl for its column's builder is a
    /// compile error in the table's generated `append`).
    pub trait Put<T: ?Sized> {
        fn put(&mut self, v: &T);
    }
    macro_rules! put_primitive {
        ($( $b:ty => $n:ty ),*) => { $(
            impl Put<$n> for $b {
                fn put(&mut self, v: &$n) {
                    self.append_value(*v);
                }
            }
            impl Put<Option<$n>> for $b {
                fn put(&mut self, v: &Option<$n>) {
                    self.append_option(*v);
                }
            }
        )* };
    }
    put_primitive!(UInt8Builder => u8, UInt16Builder => u16, UInt32Builder => u32,
        UInt64Builder => u64, Int64Builder => i64, Float64Builder => f64,
        TimestampMicrosecondBuilder => i64);
    impl Put<bool> for BooleanBuilder {
        fn put(&mut self, v: &bool) {
            self.append_value(*v);
        }
    }
    impl Put<Option<bool>> for BooleanBuilder {
        fn put(&mut self, v: &Option<bool>) {
            self.append_option(*v);
        }
    }
    impl Put<&str> for StringBuilder {
        fn put(&mut self, v: &&str) {
            self.append_value(v);
        }
    }
    impl Put<Option<&str>> for StringBuilder {
        fn put(&mut self, v: &Option<&str>) {
            self.append_option(*v);
        }
    }
    impl Put<std::net::IpAddr> for StringBuilder {
        fn put(&mut self, v: &std::net::IpAddr) {
            super::append_ip(self, *v);
        }
    }
    impl Put<Option<std::net::IpAddr>> for StringBuilder {
        fn put(&mut self, v: &Option<std::net::IpAddr>) {
            match v {
                Some(ip) => super::append_ip(self, *ip),
                None => self.append_null(),
            }
        }
    }
    impl<S: AsRef<str>> Put<&[S]> for ListBuilder<StringBuilder> {
        fn put(&mut self, v: &&[S]) {
            for s in v.iter() {
                self.values().append_value(s.as_ref());
            }
            self.append(true);
        }
    }
    impl<S: AsRef<str>> Put<Option<&[S]>> for ListBuilder<StringBuilder> {
        fn put(&mut self, v: &Option<&[S]>) {
            match v {
                Some(v) => self.put(v),
                None => self.append_null(),
            }
        }
    }
    macro_rules! put_list {
        ($( $b:ty => $n:ty ),*) => { $(
            impl Put<&[$n]> for ListBuilder<$b> {
                fn put(&mut self, v: &&[$n]) {
                    self.values().append_slice(v);
                    self.append(true);
                }
            }
            impl Put<Option<&[$n]>> for ListBuilder<$b> {
                fn put(&mut self, v: &Option<&[$n]>) {
                    match v {
                        Some(v) => self.put(v),
                        None => self.append_null(),
                    }
                }
            }
        )* };
    }
    put_list!(UInt16Builder => u16, UInt32Builder => u32, Int64Builder => i64);
}

/// The length of a table's first column (its row count): called after every appended row, so it
/// must not visit every column (each null-buffer length is a computation, measured at 2.5% of ingest).
macro_rules! first_column_len {
    ($self:ident; $first:ident $(, $rest:ident)*) => {
        ArrayBuilder::len(&$self.$first)
    };
}

/// Declare a table: its columns once (name, kind, meaning). Generates the builders, schema and docs;
/// with `record R` also `append(&R)`, which destructures the record without `..` so the record and
/// the columns cannot drift apart.
macro_rules! table {
    ($name:ident, $tname:literal, record $rec:ident, $tdoc:literal, [ $( $col:ident : $kind:ident = $doc:literal ),* $(,)? ]) => {
        table!($name, $tname, $tdoc, [ $( $col : $kind = $doc ),* ]);
        impl $name {
            /// Append one row: every field of the record to its column.
            #[allow(non_snake_case)]
            pub fn append(&mut self, r: &wirehunt_wire::record::$rec<'_>) {
                use kinds::Put;
                let wirehunt_wire::record::$rec { $( $col ),* } = r;
                $( Put::put(&mut self.$col, $col); )*
            }
        }
    };
    ($name:ident, $tname:literal, $tdoc:literal, [ $( $col:ident : $kind:ident = $doc:literal ),* $(,)? ]) => {
        #[allow(non_snake_case)]
        pub struct $name {
            $( pub $col: <kinds::$kind as kinds::Kind>::Builder, )*
        }
        impl Default for $name {
            fn default() -> Self {
                use kinds::Kind;
                $name { $( $col: kinds::$kind::builder(), )* }
            }
        }
        impl $name {
            pub const NAME: &'static str = $tname;
            pub fn doc() -> TableDoc {
                use kinds::Kind;
                TableDoc { name: $tname, doc: $tdoc, columns: vec![ $( ColumnDoc { name: stringify!($col), sql_type: kinds::$kind::SQL, doc: $doc } ),* ] }
            }
            pub fn schema() -> SchemaRef {
                use kinds::Kind;
                Arc::new(Schema::new(vec![ $( Field::new(stringify!($col), kinds::$kind::data_type(), true) ),* ]))
            }
            /// Rows appended so far (length of the first column).
            pub fn len(&self) -> usize {
                first_column_len!(self; $( $col ),*)
            }
            pub fn is_empty(&self) -> bool { self.len() == 0 }
            /// Data bytes held by the builders (an estimate of their memory, before capacity slack).
            pub fn held_bytes(&self) -> usize {
                use kinds::HeldBytes;
                0 $( + self.$col.held_bytes() )*
            }
            /// Finish the builders into a batch (builders are replaced by empty ones of the same
            /// capacity, [`kinds::Kind::like`]).
            pub fn finish(&mut self) -> arrow::error::Result<RecordBatch> {
                use kinds::Kind;
                let cols: Vec<ArrayRef> = vec![ $( {
                    let next = kinds::$kind::like(&self.$col);
                    Arc::new(std::mem::replace(&mut self.$col, next).finish()) as ArrayRef
                } ),* ];
                RecordBatch::try_new(Self::schema(), cols)
            }
        }
    };
}

table!(ConnTable, "conn", record ConnRecord, "One row per connection (TCP, UDP or ICMP flow), with Zeek conn.log semantics.", [
    ts: Ts = "time of the first packet",
    uid: Str = "connection id, joins every other table to this row (deterministic: same input, same uids)",
    orig_h: Str = "originator address (the SYN sender, else the first packet's sender)",
    orig_p: U16 = "originator port (ICMP: type)",
    resp_h: Str = "responder address",
    resp_p: U16 = "responder port (ICMP: code, or the echo reply type)",
    proto: Str = "transport protocol: tcp, udp, icmp",
    service: Str = "protocol recognised by parsing the payload, never by port alone: dns, http, ssl, ftp, smtp (a STARTTLS session stays smtp; its handshake is in tls), quic (its handshake is in tls), ntp, dhcp, dhcpv6, ssdp, netbios-ns, netbios-dgm, stun, wireguard (null if none; a well-known port with another payload stays null)",
    duration: F64 = "seconds from first to last packet",
    orig_bytes: U64 = "payload bytes sent by the originator (TCP: sequence span, so gaps count)",
    resp_bytes: U64 = "payload bytes sent by the responder",
    conn_state: Str = "Zeek connection state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH",
    local_orig: Bool = "originator address is private / local (RFC 1918, RFC 4193, loopback, link-local)",
    local_resp: Bool = "responder address is private / local",
    missed_bytes: U64 = "bytes the reassembler never saw (content gaps)",
    history: Str = "Zeek history letters: S h A D F R T W I ^; upper case = originator",
    orig_pkts: U64 = "packets sent by the originator",
    orig_ip_bytes: U64 = "IP-level bytes sent by the originator (from IP headers)",
    resp_pkts: U64 = "packets sent by the responder",
    resp_ip_bytes: U64 = "IP-level bytes sent by the responder",
    vlan: U16 = "outermost VLAN id, if any",
    end_reason: Str = "why the row was written: closed, timeout, evicted (flow cap), end_of_input, reused",
    orig_bursts: I64List = "start times (UTC microseconds) of the originator's data bursts - payload after 0.3 s of originator silence - first 128; heartbeats inside long connections show here",
    orig_burst_bytes: U32List = "payload bytes of each of those bursts",
    source: Str = "capture file the connection started in",
    orig_seen_bytes: U64 = "payload bytes in the originator's packets actually captured (TCP: new data only - no retransmissions, no range inferred from sequence numbers, so a forged sequence jump adds nothing); volume detectors count these",
    resp_seen_bytes: U64 = "the same for the responder",
    community_id: Str = "Community ID v1 (seed 0) of the 5-tuple: joins this row with Zeek's conn.log and Suricata's eve.json records of the same flow",
    first_frame: U64 = "frame number (1-based, as in Wireshark) of the connection's first packet in source (of a reassembled datagram: the frame that completed it)",
    last_frame: U64 = "frame number of its last packet, in last_source; every packet of the connection is a frame of its 5-tuple between the two (wirehunt extract reads exactly those)",
    last_source: Str = "capture file of the connection's last packet (source, unless the connection continues into a later rotated file)",
    orig_profile: Str = "what the originator's payload says about a host in the clear, in a TCP stream no analyzer recognised (first 32 segments): an operating-system name (a remote-access trojan's victim profile: `Microsoft Windows 7 Professional`, njRAT's `Win 7 Ultimate SP1 x86`) or an interactive shell's banner or prompt (`Microsoft Windows [Version 10.0.19045.2965]`, `PS C:\\Users\\bob>`, `bash: no job control in this shell`); what names systems by design (SMB, LDAP, DCE/RPC, Kerberos, syslog, Zabbix, SIP and RTSP framing; print jobs - PJL, PostScript, LPD; BitTorrent and Delivery Optimization swarms; an IRC client's CTCP VERSION reply) is left out by content, and an operating-system name counts only in a segment that is at least 3/4 printable text; null otherwise",
    resp_profile: Str = "the same for the responder's payload (a bind shell answering its caller)",
]);

table!(DnsTable, "dns", record DnsRecord, "One row per DNS transaction: a query paired with its response by flow, transaction id and question.", [
    ts: Ts = "time of the query (of the response when there was no query)",
    uid: Str = "connection id (joins conn)",
    orig_h: Str = "client address",
    orig_p: U16 = "client port",
    resp_h: Str = "server address",
    resp_p: U16 = "server port",
    proto: Str = "udp or tcp",
    trans_id: U16 = "DNS transaction id",
    rtt: F64 = "seconds between query and response",
    query: Str = "query name exactly as on the wire (case kept; bytes outside printable ASCII, dots inside labels and backslashes escaped as \\DDD)",
    qclass: U16 = "query class code",
    qclass_name: Str = "query class name (C_INTERNET, ...)",
    qtype: U16 = "query type code",
    qtype_name: Str = "query type name (A, TXT, NULL, HTTPS, ...; TYPEnnn when unknown)",
    rcode: U8 = "response code",
    rcode_name: Str = "response code name (NOERROR, NXDOMAIN, ...)",
    AA: Bool = "authoritative answer",
    TC: Bool = "truncated",
    RD: Bool = "recursion desired",
    RA: Bool = "recursion available",
    Z: U8 = "reserved Z bit",
    answers: StrList = "answer record data as text (RFC 3597 \\# form for unknown types)",
    TTLs: U32List = "answer TTLs, seconds",
    answer_types: StrList = "answer record type names",
    rejected: Bool = "the server answered with an error code (rcode != 0)",
    query_len: U32 = "length of the query name in wire bytes (labels only)",
    label_count: U32 = "number of labels in the query name",
    max_label_len: U32 = "longest label of the query name",
    answer_count: U16 = "ANCOUNT of the response",
    authority_count: U16 = "NSCOUNT of the response",
    additional_count: U16 = "ARCOUNT of the response",
    request_bytes: U32 = "DNS message size of the query",
    response_bytes: U32 = "DNS message size of the response",
    edns_udp_size: U16 = "EDNS UDP payload size announced by the client",
    edns_do: Bool = "EDNS DNSSEC OK bit of the query",
    edns_client_subnet: Str = "EDNS client subnet option of the query (address/prefix)",
    has_query: Bool = "a query was seen",
    has_response: Bool = "a response was seen",
    damage: Str = "weird name when the query or response was malformed (dns_compression_loop, dns_label_too_long, dns_name_truncated, ...); the query then holds the best partial name",
    source: Str = "capture file the connection started in (as conn.source)",
    community_id: Str = "Community ID v1 of the connection (as conn.community_id): joins Zeek and Suricata records of the flow without going through conn",
]);

table!(HttpTable, "http", record HttpRecord, "One row per HTTP/1.x request/response transaction (Zeek http.log).", [
    ts: Ts = "time of the request",
    uid: Str = "connection id (joins conn)",
    orig_h: Str = "client address",
    orig_p: U16 = "client port",
    resp_h: Str = "server address",
    resp_p: U16 = "server port",
    trans_depth: U32 = "1-based position of the transaction in its connection",
    method: Str = "request method",
    host: Str = "Host header",
    uri: Str = "request target as sent",
    referrer: Str = "Referer header",
    version: Str = "HTTP version of the request (1.0, 1.1)",
    user_agent: Str = "User-Agent header",
    origin: Str = "Origin header",
    request_body_len: U64 = "request body bytes (after de-chunking)",
    response_body_len: U64 = "response body bytes (after de-chunking)",
    status_code: U16 = "final response status code",
    status_msg: Str = "final response reason phrase",
    info_code: U16 = "last 1xx status seen before the final response",
    username: Str = "Basic authentication user name (never the password)",
    proxied: StrList = "proxy-related headers present (Via, X-Forwarded-For, Forwarded, ...)",
    orig_content_type: Str = "Content-Type of the request",
    resp_content_type: Str = "Content-Type of the response",
    request_header_len: U32 = "bytes of the request head",
    response_header_len: U32 = "bytes of the response head",
    server: Str = "Server header",
    location: Str = "Location header",
    x_forwarded_for: Str = "X-Forwarded-For header",
    cookie_len: U32 = "length of the Cookie header",
    chunked_request: Bool = "request body used chunked transfer encoding",
    chunked_response: Bool = "response body used chunked transfer encoding",
    tunnel: Str = "CONNECT or upgrade protocol (websocket, ...) after which the stream is not parsed as HTTP",
    partial: Bool = "a body was cut by a gap or by the end of the capture",
    gap: Bool = "a content gap fell inside this transaction",
    source: Str = "capture file the connection started in (as conn.source)",
    community_id: Str = "Community ID v1 of the connection (as conn.community_id): joins Zeek and Suricata records of the flow without going through conn",
]);

table!(TlsTable, "tls", record TlsRecord, "One row per TLS/SSL handshake (Zeek ssl.log plus JA3/JA3S/JA4 and certificate facts); a QUIC connection's too, decrypted from its Initial packets (its certificate travels encrypted: no certificate facts).", [
    ts: Ts = "time of the ClientHello (or first handshake message)",
    uid: Str = "connection id (joins conn)",
    orig_h: Str = "client address",
    orig_p: U16 = "client port",
    resp_h: Str = "server address",
    resp_p: U16 = "server port",
    version: Str = "negotiated version (TLSv13 from supported_versions, TLSv12, ...)",
    cipher: Str = "negotiated cipher suite name",
    curve: Str = "key-exchange group from the ServerHello key_share or ServerKeyExchange",
    server_name: Str = "SNI of the ClientHello",
    resumed: Bool = "session resumed (session id echoed, or TLS 1.3 PSK accepted)",
    established: Bool = "handshake completed (both sides switched to encrypted records)",
    alpn_offered: StrList = "ALPN protocols offered by the client",
    alpn: Str = "ALPN protocol chosen by the server",
    client_versions: StrList = "versions offered in supported_versions (or the ClientHello version)",
    client_cipher_count: U32 = "cipher suites offered (GREASE excluded)",
    client_extension_count: U32 = "extensions offered (GREASE excluded)",
    ja3: Str = "JA3 client fingerprint (md5)",
    ja3_string: Str = "JA3 input string",
    ja3s: Str = "JA3S server fingerprint (md5)",
    ja3s_string: Str = "JA3S input string",
    ja4: Str = "JA4 client fingerprint (FoxIO; starts with t for TLS over TCP, q for QUIC)",
    cert_chain_sha256: StrList = "sha256 of each certificate the server sent, leaf first",
    subject: Str = "leaf certificate subject",
    issuer: Str = "leaf certificate issuer",
    not_valid_before: Ts = "leaf certificate validity start",
    not_valid_after: Ts = "leaf certificate validity end",
    san_dns: StrList = "leaf certificate DNS subject alternative names",
    self_signed: Bool = "leaf certificate issuer equals its subject",
    expired_at_capture_time: Bool = "leaf certificate not valid at the time of the handshake",
    orig_bytes: U64 = "bytes of TLS records sent by the client",
    resp_bytes: U64 = "bytes of TLS records sent by the server",
    source: Str = "capture file the connection started in (as conn.source)",
    community_id: Str = "Community ID v1 of the connection (as conn.community_id): joins Zeek and Suricata records of the flow without going through conn",
]);

table!(FilesTable, "files", record FileRecord, "One row per HTTP body in either direction (Zeek files.log in spirit): content encodings undone, hashes computed while streaming, MIME type sniffed from the first bytes. Join `http` on (uid, trans_depth).", [
    ts: Ts = "time of the head that announced the body",
    uid: Str = "connection id (joins conn; with trans_depth, the http row)",
    fuid: Str = "file id: F + 17 base62 characters (deterministic: same input, same fuids)",
    orig_h: Str = "client address",
    orig_p: U16 = "client port",
    resp_h: Str = "server address",
    resp_p: U16 = "server port",
    trans_depth: U32 = "the HTTP transaction in its connection (joins http.trans_depth)",
    is_orig: Bool = "the client sent it (a request body: an upload); false: a response body (a download)",
    declared_type: Str = "Content-Type the head declared",
    mime_type: Str = "MIME type sniffed from the decoded body's first bytes (infer crate's magic numbers, then wirehunt's text rules for scripts: text/x-powershell, application/x-jscript, text/vbscript, application/hta, application/x-bat; text/html, text/plain ...)",
    file_class: Str = "what the body is for triage: executable (PE, ELF, Mach-O, DEX, wasm), script, java, flash, office_macro (VBA project inside OLE or OOXML), archive_executable (a ZIP entry that runs when opened: .exe .js .vbs .hta .lnk ...), archive, document, certificate (DER: OCSP responses, CRLs, certificates), media, html, text, unknown (binary of no known magic: encrypted or custom), empty",
    filename: Str = "Content-Disposition file name, else the URI path's last segment (escaped text; never used as a path)",
    content_encoding: Str = "Content-Encoding the head declared",
    decoded: Bool = "every content encoding was undone (gzip, deflate, br, and stacked ones such as `gzip, br` - up to 3 - undone last-applied first); false: one unsupported, more than 3, or over the concurrent-decoder limit, and the hashes are of the bytes as sent; null: none declared",
    seen_bytes: U64 = "decoded body bytes seen (what the hashes cover)",
    wire_bytes: U64 = "body bytes as sent, after de-chunking, before content decoding",
    total_bytes: U64 = "Content-Length the head declared",
    missing_bytes: U64 = "body bytes lost in capture gaps",
    complete: Bool = "the whole body was seen and decoded",
    cut_reason: Str = "why it is not complete: gap, end_of_capture, decode_error, decode_cap (decoded size past 1 GiB or 1024x the bytes sent: a decompression bomb)",
    md5: Str = "md5 of the decoded body (complete bodies only)",
    sha1: Str = "sha1 of the decoded body (complete bodies only)",
    sha256: Str = "sha256 of the decoded body (complete bodies only; equals the file tshark --export-objects http writes)",
    entropy: F64 = "Shannon entropy, bits per byte, of the first 64 KiB decoded (near 8: compressed or encrypted)",
    archive_entries: StrList = "names of a ZIP body's first 32 entries, read from its local headers as it streamed",
    text_address: Str = "the one IP address a complete text response of at most 256 bytes names, markup and labels aside, other than the server's own and not as a URL's host (`203.0.113.9`, `Current IP Address: 203.0.113.9`, `{\"ip\":\"...\"}`): what an IP-echo service answers; null for anything else",
    text_encoding: Str = "hex or base64 when every byte of the first 64 KiB decoded is of that alphabet, line breaks aside (base64 mixing upper case, lower case and digits): binary data carried as text - an encoded payload or exfiltrated file; null for anything else and for bodies under 256 bytes",
    extracted: Str = "file name under --extract-files DIR (FUID-SHA256, or FUID-partial), when extracted",
    source: Str = "capture file the connection started in (as conn.source)",
    community_id: Str = "Community ID v1 of the connection (as conn.community_id): joins Zeek and Suricata records of the flow without going through conn",
]);

table!(FtpTable, "ftp", record FtpRecord, "One row per command on an FTP control connection with the server's final reply (Zeek ftp.log; every command, not only transfers). A transfer's own connection is the `conn` row with resp_h = data_h and resp_p = data_p.", [
    ts: Ts = "time of the command",
    uid: Str = "connection id of the control connection (joins conn)",
    orig_h: Str = "client address",
    orig_p: U16 = "client port",
    resp_h: Str = "server address",
    resp_p: U16 = "server port",
    user: Str = "user name of the last USER command (escaped text)",
    command: Str = "command verb, upper-cased (USER, PASS, STOR, RETR, PASV, AUTH, ...)",
    arg: Str = "its argument (escaped text); PASS shows <hidden>, except after USER anonymous or ftp",
    reply_code: U16 = "the server's final reply code (null: none seen before the connection ended)",
    reply_msg: Str = "the first line of that reply's text (escaped, at most 256 characters)",
    data_h: Str = "transfer commands (RETR STOR STOU APPE LIST NLST MLSD): the data channel's responder address - the server's from PASV/EPSV, the client's given by PORT/EPRT",
    data_p: U16 = "the data channel's responder port",
    passive: Bool = "the data channel came from PASV/EPSV (true) or PORT/EPRT (false)",
    file_size: U64 = "bytes announced: a SIZE command's 213 reply, or a transfer's `150 ... (N bytes)`",
    source: Str = "capture file the connection started in (as conn.source)",
    community_id: Str = "Community ID v1 of the control connection (as conn.community_id)",
]);

table!(SmtpTable, "smtp", record SmtpRecord, "One row per SMTP mail transaction (MAIL FROM to the reply to the end of its message; Zeek smtp.log), or one row (trans_depth 0) for a session that carried no message: greeted only, authenticated only, or switched to TLS by STARTTLS (its handshake is in `tls`; what follows is not visible).", [
    ts: Ts = "time of the MAIL command (of the session's first bytes for a trans_depth 0 row)",
    uid: Str = "connection id (joins conn)",
    orig_h: Str = "client address",
    orig_p: U16 = "client port",
    resp_h: Str = "server address",
    resp_p: U16 = "server port",
    trans_depth: U32 = "1-based position of the transaction in its session; 0: the session carried none",
    helo: Str = "argument of the client's HELO/EHLO (escaped text)",
    auth_mechanism: Str = "SASL mechanism of the client's AUTH command (LOGIN, PLAIN, CRAM-MD5, XOAUTH2, ...)",
    auth_user: Str = "user name the client authenticated as, decoded from AUTH LOGIN / PLAIN (escaped text; the password is never stored)",
    auth_success: Bool = "the server accepted the authentication (2xx) or refused it",
    tls: Bool = "the session switched to TLS (STARTTLS accepted): commands after it are not visible",
    mailfrom: Str = "envelope sender (MAIL FROM)",
    rcptto: StrList = "envelope recipients (RCPT TO), first 32",
    msg_date: Str = "Date header of the message (not `date`: a partitioned dataset's directories are the `date` and `hour` columns)",
    from: Str = "From header",
    to: StrList = "To header addresses, first 32",
    subject: Str = "Subject header (as sent: MIME encoded-words are not decoded)",
    msg_id: Str = "Message-ID header",
    x_mailer: Str = "X-Mailer or User-Agent header: the sending software",
    attachments: StrList = "file names of the message's MIME parts (filename= / name= parameters), first 32",
    msg_bytes: U64 = "bytes of the message (DATA, dot-stuffing undone, or BDAT chunks)",
    last_reply: Str = "the server's reply to the end of the message (250 ...: accepted), or to a refused MAIL/RCPT/DATA",
    source: Str = "capture file the connection started in (as conn.source)",
    community_id: Str = "Community ID v1 of the connection (as conn.community_id)",
]);

table!(WeirdTable, "weird", record WeirdRecord, "Malformed or unusual traffic, one row per event (rate-limited per file and name; totals in the manifest).", [
    ts: Ts = "time of the event",
    uid: Str = "connection id when known",
    name: Str = "event name: truncated_ip_header, fragment_overlap, unknown_linktype, pcap_record_too_large, file_truncated, dns_compression_loop, ...",
    addl: Str = "details",
    source: Str = "capture file",
    frame: U64 = "frame number in the capture file (1-based, as in Wireshark)",
]);

table!(IntelTable, "intel", "Indicators given with --intel FILE (query time, not stored in the dataset): one row per indicator.", [
    kind: Str = "ip, cidr, domain (and its subdomains), url (host/path?query, no scheme), ja3, ja3s, ja4, sha256, sha1, md5",
    value: Str = "canonical value: addresses in their shortest form, prefixes at their network address, names and hashes lower-cased, defanging undone",
    source: Str = "where the indicator came from (the file's source column, the STIX identity, else the file name)",
    note: Str = "the analyst's or the feed's note (STIX: the indicator's name or description)",
    origin: Str = "file:line it was read from (file:#n for the n-th STIX indicator)",
]);

/// The table registry: every table a dataset holds, in dataset order, and the [`Record`] variant
/// that fills it (`weird` is filled by the sink's weird events). The dataset writer's builders, the
/// flush, the schemas and docs (so `wirehunt schema`, the shell's `.tables`, the report and dataset
/// checks) all come from this one list: adding a table is one line here. A [`Record`] variant that
/// is not listed is a compile error (the match in `Builders::append` is exhaustive).
///
/// [`Record`]: wirehunt_wire::record::Record
macro_rules! registry {
    ($( $field:ident : $table:ident $(<- $variant:ident)? ),* $(,)?) => {
        /// One builder per dataset table.
        #[derive(Default)]
        pub struct Builders {
            $( pub $field: $table, )*
        }

        impl Builders {
            /// Append a record to its table.
            pub fn append(&mut self, r: &wirehunt_wire::record::Record<'_>) {
                match r {
                    $( $( wirehunt_wire::record::Record::$variant(r) => self.$field.append(r), )? )*
                }
            }

            /// Finish the non-empty tables that `pick(rows, builders)` chooses into batches
            /// (builders reset), in dataset order.
            pub fn finish_some(
                &mut self,
                mut pick: impl FnMut(usize, &dyn Fn() -> usize) -> bool,
            ) -> Vec<(&'static str, arrow::error::Result<RecordBatch>)> {
                let mut out = Vec::new();
                $(
                    let n = self.$field.len();
                    if n > 0 && pick(n, &|| self.$field.held_bytes()) {
                        out.push(($table::NAME, self.$field.finish()));
                    }
                )*
                out
            }
        }

        /// Every dataset table's schema by name, in dataset order.
        pub fn all_schemas() -> Vec<(&'static str, SchemaRef)> {
            vec![ $( ($table::NAME, $table::schema()), )* ]
        }

        /// Every dataset table's documentation, then the query-time `intel` table's.
        pub fn all_docs() -> Vec<TableDoc> {
            // intel (--intel) is query time, never in a dataset: documented with the others
            vec![ $( $table::doc(), )* IntelTable::doc() ]
        }
    };
}

registry! {
    conn: ConnTable <- Conn,
    dns: DnsTable <- Dns,
    http: HttpTable <- Http,
    tls: TlsTable <- Tls,
    files: FilesTable <- File,
    ftp: FtpTable <- Ftp,
    smtp: SmtpTable <- Smtp,
    weird: WeirdTable,
}

/// Markdown table reference (README section between markers; kept in sync by a test).
pub fn markdown_reference() -> String {
    let mut s = String::new();
    for t in all_docs() {
        s.push_str(&format!(
            "### `{}`\n\n{}\n\n| column | type | meaning |\n|---|---|---|\n",
            t.name, t.doc
        ));
        for c in &t.columns {
            s.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.name,
                c.sql_type,
                c.doc.replace('|', "\\|")
            ));
        }
        s.push('\n');
    }
    s
}

/// Append a string list (helper for the list builders).
pub fn append_str_list<S: AsRef<str>>(b: &mut ListBuilder<StringBuilder>, items: &[S]) {
    for i in items {
        b.values().append_value(i.as_ref());
    }
    b.append(true);
}

#[cfg(test)]
mod ip_text_tests {
    /// A partitioned dataset's directories are the columns `date` and `hour`: no table may have
    /// a column of that name (DataFusion refuses the duplicate and every query of the table fails).
    #[test]
    fn no_table_column_is_named_like_a_partition_column() {
        for (name, schema) in super::all_schemas() {
            for c in ["date", "hour"] {
                assert!(schema.field_with_name(c).is_err(), "{name}.{c}");
            }
        }
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        let mut b = arrow::array::StringBuilder::new();
        let ips: Vec<std::net::IpAddr> = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.9.100",
            "1.20.199.5",
            "::1",
            "2001:db8::ff00:42:8329",
            "::ffff:192.0.2.1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for ip in &ips {
            super::append_ip(&mut b, *ip);
        }
        let a = b.finish();
        for (i, ip) in ips.iter().enumerate() {
            assert_eq!(a.value(i), ip.to_string());
        }
    }
}
