//! The flow table: canonical bidirectional 5-tuple keys, the originator (the SYN sender, else the
//! first packet's sender), deterministic `uid`s, Zeek's `conn_state` and `history`, idle timeouts and
//! a cap on concurrent flows. TCP payload goes through [`reassembly`] to the protocol analyzer chosen
//! by content; UDP datagrams go to the analyzer [`crate::proto::detect_udp`] picks.
//!
//! Expiry uses a min-heap of (deadline, slot, generation) with lazy revalidation: a popped entry
//! whose flow saw traffic since is pushed back with its new deadline. The same heap answers "which
//! flow to evict" when the table is full, so both are O(log n) per event.
pub mod community_id;
pub mod reassembly;

use crate::decode::{Packet, ipproto, tcpflags};
use crate::proto::{ConnCtx, Dir, PerDir, StreamAnalyzer, detect_tcp, profile};
use crate::record::{ConnRecord, Record, RecordSink};
use reassembly::{Chunk, Reassembler};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::sync::Arc;

/// Flow-table limits and timeouts (defaults follow Zeek: TCP 5 min, UDP and ICMP 1 min).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FlowConfig {
    pub tcp_timeout_us: i64,
    pub udp_timeout_us: i64,
    pub icmp_timeout_us: i64,
    /// After both FINs or a RST, a connection is kept this long for trailing packets.
    pub close_delay_us: i64,
    pub max_flows: usize,
    /// Out-of-order bytes buffered per stream direction.
    pub max_stream_buffer: usize,
    /// Out-of-order bytes buffered over all streams.
    pub max_total_buffer: usize,
}

impl FlowConfig {
    /// An input whose first packet at `ts` lies before the clock `now` by more than the longest
    /// timeout is from another time: the flows still open end before it (see
    /// [`FlowTable::next_input`]).
    pub fn from_another_time(&self, now: i64, ts: i64) -> bool {
        let longest = self
            .tcp_timeout_us
            .max(self.udp_timeout_us)
            .max(self.icmp_timeout_us);
        now != i64::MIN && ts.saturating_add(longest) < now
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            tcp_timeout_us: 300_000_000,
            udp_timeout_us: 60_000_000,
            icmp_timeout_us: 60_000_000,
            close_delay_us: 5_000_000,
            max_flows: 200_000,
            max_stream_buffer: 1 << 20,
            max_total_buffer: 64 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    a: IpAddr,
    b: IpAddr,
    pa: u16,
    pb: u16,
    proto: u8,
}

impl FlowKey {
    fn of(p: &Packet<'_>) -> FlowKey {
        let ((a, pa), (b, pb)) = canonical_endpoints(p.proto, (p.src, p.sport), (p.dst, p.dport));
        FlowKey {
            a,
            b,
            pa,
            pb,
            proto: p.proto,
        }
    }
}

/// The shard (of `n`) that owns `p`'s flow in a sharded ingest: a hash of the flow key, so both
/// directions reach the same shard (fragments are whole datagrams by then: decode reassembles them).
/// Fixed (FxHash, no random seed): the same packet goes to the same shard in every run.
pub fn shard_of(p: &Packet<'_>, n: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    FlowKey::of(p).hash(&mut h);
    // the high bits of an Fx hash are the mixed ones
    ((h.finish() >> 32) % n.max(1) as u64) as usize
}

/// The two endpoints of a flow in the order that makes both directions one key. TCP and UDP order
/// the (address, port) pairs. ICMP "ports" are (type, code), and decode gives an echo and its reply
/// the same pair (request type, reply type), so only the addresses are ordered: the request and its
/// reply are one connection, as in Zeek. `extract` keys its connections with this too.
///
/// The order is `IpAddr`'s (then the port's), compared as numbers: the tuples' own comparison
/// went through the enum and the address types field by field, for every packet.
pub fn canonical_endpoints(
    proto: u8,
    x: (IpAddr, u16),
    y: (IpAddr, u16),
) -> ((IpAddr, u16), (IpAddr, u16)) {
    let (kx, ky) = (addr_order(&x.0), addr_order(&y.0));
    if matches!(proto, ipproto::ICMP | ipproto::ICMPV6) {
        let (lo, hi) = if kx <= ky { (x.0, y.0) } else { (y.0, x.0) };
        ((lo, x.1), (hi, y.1))
    } else if (kx, x.1) <= (ky, y.1) {
        (x, y)
    } else {
        (y, x)
    }
}

/// An address as a key that orders as `IpAddr` does: every IPv4 address before every IPv6 one,
/// each family by its bits (big-endian, as its octets compare).
#[inline]
fn addr_order(a: &IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(v) => (false, u128::from(u32::from(*v))),
        IpAddr::V6(v) => (true, u128::from(*v)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum EpState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

#[derive(Default)]
struct Endpoint {
    state: EpState,
    pkts: u64,
    ip_bytes: u64,
    /// UDP/ICMP payload bytes.
    bytes: u64,
    letters: u32,
    ra: LazyReassembler,
    buffered: usize,
}

/// A direction's stream reassembler, allocated when first written to (a SYN, a segment): UDP and
/// ICMP flows, most of a DNS/web mix, never write one, and a flow slot without two reassemblers
/// inline is 1088 -> 448 bytes (fewer bytes written per new flow, a denser slot table). Reading an
/// unallocated one reads a fresh reassembler's state (nothing buffered, every counter 0).
#[derive(Default)]
struct LazyReassembler(Option<Box<Reassembler>>);

static NO_STREAM: Reassembler = Reassembler::new();

impl std::ops::Deref for LazyReassembler {
    type Target = Reassembler;
    fn deref(&self) -> &Reassembler {
        self.0.as_deref().unwrap_or(&NO_STREAM)
    }
}

impl std::ops::DerefMut for LazyReassembler {
    fn deref_mut(&mut self) -> &mut Reassembler {
        self.0.get_or_insert_with(|| Box::new(Reassembler::new()))
    }
}

/// The originator's data bursts (payload after [`BURST_GAP_US`] of its silence): start times (µs)
/// of the first [`MAX_BURSTS`] and their bytes. Most connections have one or two (a DNS query, a
/// request), held inline: two heap allocations fewer per connection than two `Vec`s.
#[derive(Default)]
struct Bursts {
    ts: SmallVec<[i64; 2]>,
    bytes: SmallVec<[u32; 2]>,
    last_payload: i64,
}

struct Flow {
    key: FlowKey,
    generation: u32,
    ctx: ConnCtx,
    start: i64,
    last: i64,
    ep: PerDir<Endpoint>,
    bursts: Bursts,
    history: String,
    analyzer: Option<Box<dyn StreamAnalyzer>>,
    /// Payload segments inspected for a protocol so far (later ones may start TLS after STARTTLS).
    detect_attempts: u8,
    /// Payload segments of an unrecognised stream looked at for a host profile in the clear
    /// ([`crate::proto::profile`]; the limit once infrastructure framing was seen), and the
    /// directions whose first segment was checked for that framing (bit 0 orig, bit 1 resp).
    profile_scans: u8,
    profile_dirs: u8,
    /// What each direction said about a host in the clear (allocated when something was found).
    profile: Option<Box<PerDir<Option<String>>>>,
    /// The datagram analyzer [`crate::proto::detect_udp`] chose for a UDP flow.
    datagrams: Option<Box<dyn crate::proto::DatagramAnalyzer>>,
    udp_tried: bool,
    /// Infrastructure service recognised by parsing (proto::udp_service), and datagrams checked so
    /// far (set to the limit when one failed the check: the flow stays unclassified).
    udp_service: Option<&'static str>,
    udp_checked: u8,
    vlan: Option<u16>,
    /// Frame numbers (in `ctx.source`, and in `last_source`) of the first and the latest packet.
    first_frame: u64,
    last_frame: u64,
    last_source: Arc<str>,
}

/// Counters for the manifest (`flow_stats`) and the bounded-memory test.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct FlowCounters {
    pub flows: u64,
    pub expired: u64,
    pub evicted: u64,
    pub max_concurrent: u64,
    pub reassembly_cap_hits: u64,
    pub max_buffered_bytes: u64,
}

pub struct FlowTable {
    cfg: FlowConfig,
    map: FxHashMap<FlowKey, u32>,
    slots: Vec<Option<Flow>>,
    free: Vec<u32>,
    timers: BinaryHeap<Reverse<(i64, u32, u32)>>,
    /// Ordinal of the input being read in the dataset (earlier `--append` runs' inputs count).
    input: u64,
    generation: u32,
    now: i64,
    /// The next packet is its input's first (see [`FlowTable::next_input`]).
    input_start: bool,
    buffered: usize,
    pub counters: FlowCounters,
}

/// Deterministic connection id: "C" + 17 base62 characters from a mix of the flow's first packet:
/// its input's ordinal in the dataset, its frame number there, its timestamp and the flow key. No
/// two connections share a first packet (nor, when a frame carries several, a key), and nothing in
/// it depends on the order flows were created in, so a sharded ingest (`--threads`) gives the same
/// uids as one thread.
fn make_uid(input: u64, frame: u64, ts: i64, key: &FlowKey) -> String {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e3779b97f4a7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    let addr = |a: &IpAddr| -> u128 {
        match a {
            IpAddr::V4(v) => u32::from(*v) as u128,
            IpAddr::V6(v) => u128::from(*v),
        }
    };
    let mut h = mix(input ^ 0x5752_4849_554e_5421);
    h = mix(h ^ frame);
    h = mix(h ^ ts as u64);
    h = mix(h ^ addr(&key.a) as u64 ^ (addr(&key.a) >> 64) as u64);
    h = mix(h ^ addr(&key.b) as u64 ^ (addr(&key.b) >> 64) as u64);
    h = mix(h ^ ((key.pa as u64) << 24 | (key.pb as u64) << 8 | key.proto as u64));
    let h2 = mix(h ^ input.rotate_left(32) ^ frame);
    base62_id('C', (h as u128) << 64 | h2 as u128)
}

/// Zeek-style id: `tag` + 17 base62 characters of `v` (connection uids, file fuids), least
/// significant digit first. The digits come from two 64-bit halves (v mod 62^10, then the next 7
/// digits), so a uid costs two 128-bit divisions instead of seventeen.
pub fn base62_id(tag: char, v: u128) -> String {
    const ALPHA: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const LOW: u128 = 62u128.pow(10); // < 2^64
    const HIGH: u128 = 62u128.pow(7);
    let mut s = String::with_capacity(18);
    s.push(tag);
    for (mut part, digits) in [((v % LOW) as u64, 10), (((v / LOW) % HIGH) as u64, 7)] {
        for _ in 0..digits {
            s.push(char::from(
                ALPHA.get((part % 62) as usize).copied().unwrap_or(b'0'),
            ));
            part /= 62;
        }
    }
    s
}

/// The network address of `ip`'s prefix of `len` bits (None past 32 for IPv4, 128 for IPv6).
pub fn network(ip: IpAddr, len: u32) -> Option<IpAddr> {
    let mask = |bits: u32| {
        if len == 0 {
            0
        } else {
            u128::MAX << (bits - len)
        }
    };
    match ip {
        IpAddr::V4(a) if len <= 32 => Some(IpAddr::V4(std::net::Ipv4Addr::from(
            (u128::from(u32::from(a)) & mask(32)) as u32,
        ))),
        IpAddr::V6(a) if len <= 128 => Some(IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(a) & mask(128),
        ))),
        _ => None,
    }
}

/// Private, loopback, link-local or unique-local address.
pub fn is_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.octets()[0] == 100 && (v.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v) => {
            v.is_loopback()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Payload segments inspected for a protocol before a connection is only counted.
const MAX_DETECT_ATTEMPTS: u8 = 24;

/// Originator data bursts kept per connection, and the silence that separates two bursts.
pub const MAX_BURSTS: usize = 128;
const BURST_GAP_US: i64 = 300_000;

const SERVER_UDP_PORTS: &[u16] = &[
    53, 67, 69, 123, 137, 138, 161, 389, 443, 500, 514, 1900, 3478, 4500, 5353, 5355,
];

fn proto_name(p: u8) -> &'static str {
    match p {
        ipproto::TCP => "tcp",
        ipproto::UDP => "udp",
        _ => "icmp",
    }
}

impl Flow {
    fn letter(&mut self, dir: Dir, l: u8) {
        let bit = 1u32 << (l - b'A');
        let ep = &mut self.ep[dir];
        if ep.letters & bit == 0 {
            ep.letters |= bit;
            self.history.push(if dir == Dir::Orig {
                l as char
            } else {
                (l as char).to_ascii_lowercase()
            });
        }
    }

    fn closed(&self) -> bool {
        let (o, r) = (self.ep.orig.state, self.ep.resp.state);
        o == EpState::Reset || r == EpState::Reset || (o == EpState::Closed && r == EpState::Closed)
    }

    /// Zeek's conn_state function (base/protocols/conn/main.zeek).
    fn conn_state(&self) -> &'static str {
        use EpState::*;
        let (os, rs) = (self.ep.orig.state, self.ep.resp.state);
        if self.key.proto == ipproto::TCP {
            let o_inactive = matches!(os, Inactive | Partial);
            let r_inactive = matches!(rs, Inactive | Partial);
            if rs == Reset {
                if matches!(os, SynSent | SynAckSent)
                    || (os == Reset && self.ep.orig.ra.span() == 0 && self.ep.resp.ra.span() == 0)
                {
                    "REJ"
                } else if o_inactive {
                    "RSTRH"
                } else {
                    "RSTR"
                }
            } else if os == Reset {
                if r_inactive {
                    let h = self.history.trim_start_matches('^');
                    let before_r = h.split('R').next().unwrap_or("");
                    if h.starts_with('S') && !before_r.chars().any(|c| "HAFGIQ".contains(c)) {
                        return "RSTOS0";
                    }
                    return "OTH";
                }
                "RSTO"
            } else if rs == Closed && os == Closed {
                "SF"
            } else if os == Closed {
                if r_inactive { "SH" } else { "S2" }
            } else if rs == Closed {
                if o_inactive { "SHR" } else { "S3" }
            } else if os == SynSent && rs == Inactive {
                "S0"
            } else if os == Established && rs == Established {
                "S1"
            } else {
                "OTH"
            }
        } else if self.key.proto == ipproto::UDP {
            let (o, r) = (self.ep.orig.pkts > 0, self.ep.resp.pkts > 0);
            match (o, r) {
                (true, true) => "SF",
                (true, false) => "S0",
                (false, true) => "SHR",
                _ => "OTH",
            }
        } else {
            "OTH"
        }
    }
}

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            cfg,
            map: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            timers: BinaryHeap::new(),
            input: 0,
            generation: 0,
            now: i64::MIN,
            input_start: false,
            buffered: 0,
            counters: FlowCounters::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Out-of-order bytes buffered over all streams.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    fn timeout(&self, f: &Flow) -> i64 {
        match f.key.proto {
            6 if f.closed() => self.cfg.close_delay_us,
            ipproto::TCP => self.cfg.tcp_timeout_us,
            ipproto::UDP => self.cfg.udp_timeout_us,
            _ => self.cfg.icmp_timeout_us,
        }
    }

    /// Finalize flows idle past their timeout at capture time `now`.
    pub fn expire(&mut self, now: i64, out: &mut dyn RecordSink) {
        while let Some(Reverse((deadline, slot, generation))) = self.timers.peek().copied() {
            if deadline > now {
                break;
            }
            self.timers.pop();
            let Some(Some(f)) = self.slots.get(slot as usize) else {
                continue;
            };
            if f.generation != generation {
                continue;
            }
            let actual = f.last + self.timeout(f);
            if actual > now {
                self.timers.push(Reverse((actual, slot, generation)));
                continue;
            }
            self.counters.expired += 1;
            self.remove(slot, "timeout", out);
        }
    }

    fn evict_one(&mut self, out: &mut dyn RecordSink) {
        while let Some(Reverse((deadline, slot, generation))) = self.timers.pop() {
            let Some(Some(f)) = self.slots.get(slot as usize) else {
                continue;
            };
            if f.generation != generation {
                continue;
            }
            let actual = f.last + self.timeout(f);
            if actual > deadline {
                self.timers.push(Reverse((actual, slot, generation)));
                continue;
            }
            self.counters.evicted += 1;
            self.remove(slot, "evicted", out);
            return;
        }
    }

    fn remove(&mut self, slot: u32, reason: &str, out: &mut dyn RecordSink) {
        // finalized where it lies, then dropped there: moving the flow out of its slot first
        // copied the whole struct for every connection
        let Some(entry) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if let Some(f) = entry.as_mut() {
            self.map.remove(&f.key);
            self.free.push(slot);
            self.buffered -= f.ep.orig.buffered + f.ep.resp.buffered;
            finalize(f, reason, out);
            *entry = None;
        }
    }

    /// Finalize every flow (end of input), in order of first packet for deterministic output.
    pub fn finish(&mut self, out: &mut dyn RecordSink) {
        let mut slots: Vec<(i64, u64, u32)> = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(f) = s {
                slots.push((f.start, f.generation as u64, i as u32));
            }
        }
        slots.sort();
        for (_, _, slot) in slots {
            self.remove(slot, "end_of_input", out);
        }
        self.timers.clear();
    }

    /// The next packets come from the next input. Rotated files of one sensor continue each other's
    /// connections; an input that starts earlier than the clock by more than the longest timeout
    /// is from another time (unrelated captures triaged together), so the flows still open end with
    /// their input (`end_of_input`) instead of absorbing its packets and never timing out.
    pub fn next_input(&mut self, ordinal: u64) {
        self.input = ordinal;
        self.input_start = true;
    }

    /// The next packets come from input `ordinal` (its position in the dataset, for uids), with no
    /// check of its start time: a sharded ingest decides that once for all shards
    /// ([`FlowConfig::from_another_time`], [`FlowTable::end_all`]).
    pub fn set_input(&mut self, ordinal: u64) {
        self.input = ordinal;
    }

    /// Advance the clock to `now` (another shard's packet time), ending the flows idle past their
    /// timeout as a packet at `now` would.
    pub fn advance(&mut self, now: i64, out: &mut dyn RecordSink) {
        if now > self.now {
            self.now = now;
            self.expire(now, out);
        }
    }

    /// End every open flow (`end_of_input`) and set the clock back to `ts`: the next input is from
    /// another time.
    pub fn end_all(&mut self, ts: i64, out: &mut dyn RecordSink) {
        self.finish(out);
        self.now = ts;
    }

    /// Account one decoded packet.
    pub fn packet(&mut self, p: &Packet<'_>, source: &Arc<str>, out: &mut dyn RecordSink) {
        if self.input_start {
            self.input_start = false;
            if self.cfg.from_another_time(self.now, p.ts) {
                self.end_all(p.ts, out);
            }
        }
        if p.ts > self.now {
            self.now = p.ts;
            self.expire(p.ts, out);
        }
        let key = FlowKey::of(p);
        let flags = p.tcp.map_or(0, |t| t.flags);
        let is_syn = flags & (tcpflags::SYN | tcpflags::ACK) == tcpflags::SYN;
        let mut slot = self.map.get(&key).copied();
        if let (Some(s), true) = (slot, is_syn) {
            // A new SYN on a finished connection starts a new one (port reuse).
            if let Some(Some(f)) = self.slots.get(s as usize) {
                let from_orig = p.src == f.ctx.orig_h && p.sport == f.ctx.orig_p;
                let isn_differs = f.ep.orig.state == EpState::SynSent && !from_orig;
                if f.closed() || isn_differs {
                    self.remove(s, "reused", out);
                    slot = None;
                }
            }
        }
        let slot = match slot {
            Some(s) => s,
            None => {
                if self.map.len() >= self.cfg.max_flows {
                    self.evict_one(out);
                }
                self.create(key, p, source)
            }
        };
        let max_stream = self.cfg.max_stream_buffer;
        let Some(Some(f)) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let dir = if p.src == f.ctx.orig_h && p.sport == f.ctx.orig_p {
            Dir::Orig
        } else {
            Dir::Resp
        };
        f.last = f.last.max(p.ts);
        f.last_frame = p.frame;
        if !Arc::ptr_eq(&f.last_source, source) {
            f.last_source = source.clone();
        }
        f.ep[dir].pkts += 1;
        f.ep[dir].ip_bytes += p.ip_bytes as u64;
        if dir == Dir::Orig && p.payload_len > 0 {
            let e = &mut f.bursts;
            let new_burst = e.ts.is_empty() || p.ts - e.last_payload > BURST_GAP_US;
            if new_burst {
                if e.ts.len() < MAX_BURSTS {
                    e.ts.push(p.ts);
                    e.bytes.push(p.payload_len);
                }
            } else if let Some(b) = e.bytes.last_mut() {
                *b = b.saturating_add(p.payload_len);
            }
            e.last_payload = p.ts;
        }
        let before = f.ep[dir].buffered;
        match p.tcp {
            Some(t) => tcp_packet(f, dir, p, t, max_stream, out),
            None => {
                f.ep[dir].bytes += p.payload_len as u64;
                if p.payload_len > 0 {
                    f.letter(dir, b'D');
                }
                if p.proto == ipproto::UDP {
                    udp_packet(f, dir, p, out);
                }
            }
        }
        let after = f.ep[dir].ra.buffered();
        f.ep[dir].buffered = after;
        self.buffered = self.buffered + after - before;
        if self.buffered > self.cfg.max_total_buffer {
            // over the global cap: this stream skips its holes now
            self.counters.reassembly_cap_hits += 1;
            let f = match self.slots.get_mut(slot as usize) {
                Some(Some(f)) => f,
                _ => return,
            };
            let Flow {
                ep, analyzer, ctx, ..
            } = f;
            let e = &mut ep[dir];
            e.ra.flush(&mut |c| feed(analyzer, dir, p.ts, c, ctx, out));
            out.weird(
                p.ts,
                Some(&ctx.uid),
                "reassembly_total_cap",
                "out-of-order bytes over the global cap; holes skipped",
                Some(p.frame),
            );
            self.buffered -= e.buffered;
            e.buffered = 0;
        }
        self.counters.max_buffered_bytes =
            self.counters.max_buffered_bytes.max(self.buffered as u64);
    }

    fn create(&mut self, key: FlowKey, p: &Packet<'_>, source: &Arc<str>) -> u32 {
        let flags = p.tcp.map_or(0, |t| t.flags);
        // originator: SYN sender; a SYN-ACK first means the receiver is the originator
        let mut flip = p.proto == ipproto::TCP
            && flags & (tcpflags::SYN | tcpflags::ACK) == (tcpflags::SYN | tcpflags::ACK);
        if p.proto == ipproto::UDP
            && SERVER_UDP_PORTS.contains(&p.sport)
            && !SERVER_UDP_PORTS.contains(&p.dport)
            && p.dport >= 1024
        {
            flip = true;
        }
        let ((oh, op), (rh, rp)) = if flip {
            ((p.dst, p.dport), (p.src, p.sport))
        } else {
            ((p.src, p.sport), (p.dst, p.dport))
        };
        self.generation = self.generation.wrapping_add(1);
        let uid = make_uid(self.input, p.frame, p.ts, &key);
        let ports = community_id::has_ports(p.proto).then_some((op, rp));
        let community_id = community_id::community_id(0, oh, rh, p.proto, ports);
        let mut f = Flow {
            key,
            generation: self.generation,
            ctx: ConnCtx {
                uid,
                orig_h: oh,
                orig_p: op,
                resp_h: rh,
                resp_p: rp,
                proto: p.proto,
                source: source.clone(),
                community_id,
            },
            start: p.ts,
            last: p.ts,
            ep: PerDir::default(),
            bursts: Bursts::default(),
            history: String::with_capacity(16),
            analyzer: None,
            detect_attempts: 0,
            profile_scans: 0,
            profile_dirs: 0,
            profile: None,
            datagrams: None,
            udp_tried: false,
            udp_service: None,
            udp_checked: 0,
            vlan: p.vlan,
            first_frame: p.frame,
            last_frame: p.frame,
            last_source: source.clone(),
        };
        if flip && p.proto == ipproto::TCP {
            f.history.push('^');
        }
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(slot) = self.slots.get_mut(s as usize) {
                    *slot = Some(f);
                }
                s
            }
            None => {
                self.slots.push(Some(f));
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, slot);
        self.counters.flows += 1;
        self.counters.max_concurrent = self.counters.max_concurrent.max(self.map.len() as u64);
        // The first deadline must not be later than the flow's real one can become (expiry
        // revalidates lazily): a TCP connection that closes ends after the close delay; UDP and
        // ICMP flows never close, so theirs is the timeout itself (one heap entry fewer each).
        let first = match p.proto {
            ipproto::TCP => self.cfg.tcp_timeout_us.min(self.cfg.close_delay_us),
            ipproto::UDP => self.cfg.udp_timeout_us,
            _ => self.cfg.icmp_timeout_us,
        };
        self.timers
            .push(Reverse((p.ts.saturating_add(first), slot, self.generation)));
        slot
    }
}

fn feed(
    analyzer: &mut Option<Box<dyn StreamAnalyzer>>,
    dir: Dir,
    ts: i64,
    c: Chunk<'_>,
    ctx: &ConnCtx,
    out: &mut dyn RecordSink,
) {
    if let Some(a) = analyzer.as_mut() {
        match c {
            Chunk::Data(d) => a.data(dir, ts, d, ctx, out),
            Chunk::Gap(n) => a.gap(dir, ts, n, ctx, out),
        }
    }
}

fn tcp_packet(
    f: &mut Flow,
    dir: Dir,
    p: &Packet<'_>,
    t: crate::decode::TcpInfo,
    cap: usize,
    out: &mut dyn RecordSink,
) {
    use EpState::*;
    let (syn, ack, fin, rst) = (
        t.flags & tcpflags::SYN != 0,
        t.flags & tcpflags::ACK != 0,
        t.flags & tcpflags::FIN != 0,
        t.flags & tcpflags::RST != 0,
    );
    if syn && rst {
        f.letter(dir, b'I');
    }
    if rst {
        f.letter(dir, b'R');
        f.ep[dir].state = Reset;
    } else if syn && !ack {
        f.letter(dir, b'S');
        f.ep[dir].ra.syn(t.seq);
        if f.ep[dir].state == Inactive {
            f.ep[dir].state = SynSent;
        }
    } else if syn && ack {
        f.letter(dir, b'H');
        f.ep[dir].ra.syn(t.seq);
        if matches!(f.ep[dir].state, Inactive | Partial) {
            f.ep[dir].state = SynAckSent;
        }
    } else {
        if ack && p.payload_len == 0 && !fin {
            f.letter(dir, b'A');
        }
        if f.ep[dir].state == Inactive {
            f.ep[dir].state = Partial;
        }
        // handshake completion: the SYN sender acknowledges the SYN-ACK (or sends data)
        let hs = (f.ep[dir].state == SynSent && f.ep[dir.opposite()].state == SynAckSent)
            || (f.ep[dir].state == SynAckSent && f.ep[dir.opposite()].state == SynSent);
        if hs && ack {
            f.ep[dir].state = Established;
            f.ep[dir.opposite()].state = Established;
        }
    }
    if t.window == 0 && !syn && !rst {
        f.letter(dir, b'W');
    }
    if p.payload_len > 0 && !rst {
        f.letter(dir, b'D');
        if f.analyzer.is_none() && f.detect_attempts < MAX_DETECT_ATTEMPTS && !p.payload.is_empty()
        {
            // The first payload picks any protocol; later segments may still start one that begins
            // mid-stream (proto::detect_tcp_later: TLS after STARTTLS).
            f.analyzer = if f.detect_attempts == 0 {
                detect_tcp(p.payload, dir, f.ctx.orig_p, f.ctx.resp_p)
            } else {
                crate::proto::detect_tcp_later(p.payload)
            };
            f.detect_attempts += 1;
            if f.analyzer.is_none() && f.detect_attempts >= MAX_DETECT_ATTEMPTS {
                f.ep.orig.ra.stop_data();
                f.ep.resp.ra.stop_data();
            }
        }
        if f.analyzer.is_none() && f.profile_scans < profile::SCAN_SEGMENTS {
            scan_profile(f, dir, p.payload);
        }
        let Flow {
            ep, analyzer, ctx, ..
        } = f;
        let e = &mut ep[dir];
        let retrans_before = e.ra.retransmitted;
        e.ra.segment(t.seq, p.payload, p.payload_len, cap, &mut |c| {
            feed(analyzer, dir, p.ts, c, ctx, out)
        });
        if let Some(a) = analyzer.as_mut() {
            a.count(dir, p.payload_len as u64);
            if !a.wants(dir) && e.ra.wants_data() {
                e.ra.stop_data();
            }
        }
        let retrans = e.ra.retransmitted > retrans_before;
        if retrans {
            f.letter(dir, b'T');
        }
    }
    if fin && !rst {
        f.letter(dir, b'F');
        f.ep[dir].ra.fin(t.seq);
        if f.ep[dir].state != Reset {
            f.ep[dir].state = Closed;
        }
    }
}

/// Look at one payload segment of a stream no analyzer recognised for a host profile in the clear
/// (a RAT's victim profile, a shell's banner): the first segment of each direction decides whether
/// the stream is infrastructure framing (SMB, LDAP, ...) that names operating systems by design.
fn scan_profile(f: &mut Flow, dir: Dir, payload: &[u8]) {
    if payload.is_empty() {
        return;
    }
    f.profile_scans += 1;
    let bit = if dir == Dir::Orig { 1 } else { 2 };
    if f.profile_dirs & bit == 0 {
        f.profile_dirs |= bit;
        if profile::infrastructure_framing(payload) {
            f.profile_scans = profile::SCAN_SEGMENTS;
            f.profile = None;
            return;
        }
    }
    if f.profile.as_ref().is_some_and(|p| p[dir].is_some()) {
        return;
    }
    if let Some(text) = profile::find(payload) {
        f.profile.get_or_insert_with(Default::default)[dir] = Some(text);
    }
}

fn udp_packet(f: &mut Flow, dir: Dir, p: &Packet<'_>, out: &mut dyn RecordSink) {
    if !f.udp_tried {
        f.udp_tried = true;
        f.datagrams = crate::proto::detect_udp(f.ctx.orig_p, f.ctx.resp_p, p.payload);
    }
    if let Some(a) = f.datagrams.as_mut() {
        a.datagram(dir, p, &f.ctx, out);
    } else if f.udp_checked < crate::proto::udp_service::CHECKED && !p.payload.is_empty() {
        f.udp_checked += 1;
        match crate::proto::udp_service::classify(f.ctx.orig_p, f.ctx.resp_p, p.payload) {
            Some(s) if f.udp_service.is_none_or(|t| t == s) => f.udp_service = Some(s),
            _ => {
                f.udp_service = None;
                f.udp_checked = crate::proto::udp_service::CHECKED;
            }
        }
    }
}

fn finalize(f: &mut Flow, reason: &str, out: &mut dyn RecordSink) {
    {
        let Flow {
            ep,
            analyzer,
            ctx,
            last,
            ..
        } = f;
        for dir in Dir::BOTH {
            // (a reassembler never written to holds nothing to flush: not allocated for it)
            if let Some(ra) = ep[dir].ra.0.as_deref_mut() {
                ra.flush(&mut |c| feed(analyzer, dir, *last, c, ctx, out));
            }
        }
        if let Some(a) = analyzer.as_mut() {
            a.finish(*last, ctx, out);
        }
        for (e, side) in [(&ep.orig, "originator"), (&ep.resp, "responder")] {
            if e.ra.conflicts > 0 {
                let addl = format!(
                    "{} overlapping {side} segments carried different bytes; the first data was kept",
                    e.ra.conflicts
                );
                out.weird(*last, Some(&ctx.uid), "tcp_overlap_conflict", &addl, None);
            }
            if e.ra.seq_jumps > 0 {
                let addl = format!(
                    "{} {side} segment(s) jumped more than {} MiB past the stream (forged or corrupt sequence numbers, {} bytes claimed); not counted as data, gap or volume",
                    e.ra.seq_jumps,
                    crate::flow::reassembly::MAX_SEQ_JUMP >> 20,
                    e.ra.seq_jump_bytes
                );
                out.weird(*last, Some(&ctx.uid), "tcp_seq_jump", &addl, None);
            }
            if e.ra.cap_hits > 0 {
                let addl = format!(
                    "{side} stream hit its out-of-order buffer cap {} time(s); holes were skipped",
                    e.ra.cap_hits
                );
                out.weird(*last, Some(&ctx.uid), "reassembly_stream_cap", &addl, None);
            }
        }
    }
    let mut service = f
        .analyzer
        .as_ref()
        .and_then(|a| a.service())
        .or(f.udp_service);
    if let Some(a) = f.datagrams.as_mut()
        && let Some(s) = a.finish(&f.ctx, out)
    {
        service = Some(s);
    }
    // TCP: the sequence span (Zeek's orig_bytes) and, for volume, the new data actually seen
    let (ob, rb, missed, os, rs) = if f.key.proto == ipproto::TCP {
        let (o, r) = (&f.ep.orig.ra, &f.ep.resp.ra);
        (o.span(), r.span(), o.missed + r.missed, o.seen, r.seen)
    } else {
        let (o, r) = (f.ep.orig.bytes, f.ep.resp.bytes);
        (o, r, 0, o, r)
    };
    out.record(Record::Conn(ConnRecord {
        ts: f.start,
        uid: &f.ctx.uid,
        orig_h: f.ctx.orig_h,
        orig_p: f.ctx.orig_p,
        resp_h: f.ctx.resp_h,
        resp_p: f.ctx.resp_p,
        proto: proto_name(f.key.proto),
        service,
        duration: (f.last - f.start) as f64 / 1e6,
        orig_bytes: ob,
        resp_bytes: rb,
        conn_state: f.conn_state(),
        local_orig: is_local(&f.ctx.orig_h),
        local_resp: is_local(&f.ctx.resp_h),
        missed_bytes: missed,
        history: &f.history,
        orig_pkts: f.ep.orig.pkts,
        orig_ip_bytes: f.ep.orig.ip_bytes,
        resp_pkts: f.ep.resp.pkts,
        resp_ip_bytes: f.ep.resp.ip_bytes,
        vlan: f.vlan,
        end_reason: reason,
        orig_bursts: &f.bursts.ts,
        orig_burst_bytes: &f.bursts.bytes,
        source: &f.ctx.source,
        orig_seen_bytes: os,
        resp_seen_bytes: rs,
        community_id: &f.ctx.community_id,
        first_frame: f.first_frame,
        last_frame: f.last_frame,
        last_source: &f.last_source,
        orig_profile: f.profile.as_ref().and_then(|p| p.orig.as_deref()),
        resp_profile: f.profile.as_ref().and_then(|p| p.resp.as_deref()),
    }));
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_reassembler_is_allocated_only_when_written_to() {
        let mut r = super::LazyReassembler::default();
        // read: a fresh reassembler's state, nothing allocated
        assert_eq!((r.buffered(), r.span(), r.seen, r.missed), (0, 0, 0, 0));
        assert!(r.0.is_none());
        r.syn(1000);
        assert!(r.0.is_some());
        assert_eq!(r.span(), 0);
    }

    #[test]
    fn endpoints_are_ordered_as_ip_addr_orders_them() {
        use std::net::IpAddr;
        let addrs: Vec<IpAddr> = [
            "0.0.0.0",
            "9.255.255.255",
            "10.0.0.1",
            "10.0.0.2",
            "10.0.1.0",
            "128.0.0.0",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "fe80::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        for &x in &addrs {
            for &y in &addrs {
                for (px, py) in [(0, 0), (1, 2), (2, 1), (65535, 0)] {
                    let (a, b) = ((x, px), (y, py));
                    let tuples = if a <= b { (a, b) } else { (b, a) };
                    assert_eq!(super::canonical_endpoints(6, a, b), tuples);
                    let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
                    assert_eq!(super::canonical_endpoints(1, a, b), ((lo, px), (hi, py)));
                }
            }
        }
    }

    /// The two-halves digit split gives exactly the digits of repeated division of the whole value.
    #[test]
    fn base62_ids_are_the_digits_of_the_whole_value() {
        fn naive(tag: char, mut v: u128) -> String {
            const ALPHA: &[u8; 62] =
                b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
            let mut s = String::from(tag);
            for _ in 0..17 {
                s.push(ALPHA[(v % 62) as usize] as char);
                v /= 62;
            }
            s
        }
        let mut x: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        let mut values = vec![
            0,
            1,
            61,
            62,
            u64::MAX as u128,
            u128::MAX,
            62u128.pow(10) - 1,
            62u128.pow(10),
        ];
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645)
                .wrapping_add(1);
            values.push(x);
        }
        for v in values {
            assert_eq!(super::base62_id('C', v), naive('C', v), "{v:#x}");
        }
        assert_eq!(super::base62_id('F', 0), "F00000000000000000");
    }
}
