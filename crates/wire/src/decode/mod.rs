//! Link layers and IP: a [`Frame`](crate::capture::Frame) becomes a [`Packet`] (addresses, ports, TCP
//! fields, a borrowed transport payload) or a counted skip with a reason.
//!
//! Link types: Ethernet (802.1Q/802.1ad stacks through etherparse; PPPoE session and MPLS by hand, they
//! are a few bytes each), Linux SLL and SLL2, raw IP (101, 228, 229 and the DLT_RAW values 12/14), BSD
//! null/loopback (0, 108), PPP (9) and NFLOG (239). Anything else is a skip naming the link type.
//!
//! IPv4/IPv6 through etherparse's lax slicing, so a packet cut by the snap length still counts: the
//! transport payload is whatever was captured, and `payload_len` is what the headers claim.
//! Fragments are reassembled in a bounded pool (entries, bytes and a timeout); overlaps are reported.
use crate::bytes::{array, be16, le16, tail};
use crate::capture::Frame;
use etherparse::defrag::IpDefragBuf;
use etherparse::{IpNumber, LaxNetSlice, LaxSlicedPacket, TcpSlice, TransportSlice, UdpSlice};
use rustc_hash::FxHashMap;
use std::fmt;
use std::net::IpAddr;

/// IP protocol numbers (IANA) the decoder and flow table name.
pub mod ipproto {
    pub const ICMP: u8 = 1;
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;
}

/// EtherTypes (IEEE) the decoder unwraps.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const PPPOE_SESSION: u16 = 0x8864;
    pub const MPLS_UNICAST: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
}

/// PPP protocol numbers (inside PPP and PPPoE).
mod pppproto {
    pub const IPV4: u16 = 0x0021;
    pub const IPV6: u16 = 0x0057;
}

/// Link types (tcpdump.org LINKTYPE_*) the decoder reads.
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const PPP: u32 = 9;
    /// DLT_RAW as some systems number it.
    pub const RAW_12: u32 = 12;
    pub const RAW_14: u32 = 14;
    pub const PPP_HDLC: u32 = 50;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const NFLOG: u32 = 239;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

pub mod tcpflags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
}

/// A decoded IP packet with its transport header.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ts: i64,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub proto: u8,
    /// Ports; for ICMP, type and code.
    pub sport: u16,
    pub dport: u16,
    pub tcp: Option<TcpInfo>,
    /// Captured transport payload.
    pub payload: &'a [u8],
    /// Transport payload length according to the headers (>= `payload.len()` when cut by snaplen).
    pub payload_len: u32,
    /// IP total length according to the header.
    pub ip_bytes: u32,
    /// The captured payload is shorter than a header claims (snap length, or a UDP length field
    /// larger than the IP datagram: fuzzed or damaged traffic).
    pub truncated: bool,
    pub vlan: Option<u16>,
    pub frame: u64,
}

impl<'a> Packet<'a> {
    /// A packet with addresses and lengths set and no transport fields yet.
    fn bare(
        frame: &Frame<'_>,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        ip_bytes: u32,
        vlan: Option<u16>,
    ) -> Self {
        Packet {
            ts: frame.ts,
            src,
            dst,
            proto,
            sport: 0,
            dport: 0,
            tcp: None,
            payload: &[],
            payload_len: 0,
            ip_bytes,
            truncated: false,
            vlan,
            frame: frame.number,
        }
    }

    /// Ports, flags and payload from etherparse's transport slice (`claimed`: the IP payload length
    /// the headers state).
    fn with_transport_slice(mut self, t: &TransportSlice<'a>, claimed: usize) -> Option<Self> {
        match t {
            TransportSlice::Tcp(tcp) => fill_tcp(&mut self, tcp, claimed),
            TransportSlice::Udp(udp) => fill_udp(&mut self, udp, claimed),
            TransportSlice::Icmpv4(i) => {
                (self.sport, self.dport) = icmp_ports(i.type_u8(), i.code_u8(), false);
                self.payload = i.payload();
                self.payload_len = claimed.saturating_sub(8) as u32;
            }
            TransportSlice::Icmpv6(i) => {
                (self.sport, self.dport) = icmp_ports(i.type_u8(), i.code_u8(), true);
                self.payload = i.payload();
                self.payload_len = claimed.saturating_sub(8) as u32;
            }
            _ => return None,
        }
        Some(self)
    }

    /// Ports, flags and payload parsed from the IP payload bytes, by `self.proto`.
    fn with_transport_bytes(mut self, bytes: &'a [u8], claimed: usize) -> Option<Self> {
        match self.proto {
            6 => fill_tcp(&mut self, &TcpSlice::from_slice(bytes).ok()?, claimed),
            17 => fill_udp(&mut self, &UdpSlice::from_slice_lax(bytes).ok()?, claimed),
            ipproto::ICMP | ipproto::ICMPV6 => {
                let (t, c) = (*bytes.first()?, *bytes.get(1)?);
                (self.sport, self.dport) = icmp_ports(t, c, self.proto == ipproto::ICMPV6);
                self.payload = bytes.get(8..).unwrap_or(&[]);
                self.payload_len = claimed.saturating_sub(8) as u32;
            }
            _ => return None,
        }
        Some(self)
    }
}

/// Why a frame did not become a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    UnknownLinktype(u32),
    NonIp(u16),
    Arp,
    TruncatedLink,
    TruncatedIp,
    BadIpHeader,
    TruncatedTransport,
    IpProto(u8),
    FragmentDropped,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::UnknownLinktype(crate::capture::NO_INTERFACE) => write!(f, "no_interface"),
            Skip::UnknownLinktype(l) => write!(f, "unknown_linktype_{l}"),
            Skip::NonIp(t) => write!(f, "non_ip_ethertype_0x{t:04x}"),
            Skip::Arp => write!(f, "arp"),
            Skip::TruncatedLink => write!(f, "truncated_link_header"),
            Skip::TruncatedIp => write!(f, "truncated_ip_header"),
            Skip::BadIpHeader => write!(f, "bad_ip_header"),
            Skip::TruncatedTransport => write!(f, "truncated_transport_header"),
            Skip::IpProto(p) => write!(f, "ip_proto_{p}"),
            Skip::FragmentDropped => write!(f, "fragment_dropped"),
        }
    }
}

impl Skip {
    /// The weird name for skips that mean malformed traffic (None for benign skips such as ARP).
    pub fn weird_name(&self) -> Option<&'static str> {
        match self {
            Skip::UnknownLinktype(_) => Some("unknown_linktype"),
            Skip::TruncatedLink => Some("truncated_link_header"),
            Skip::TruncatedIp => Some("truncated_ip_header"),
            Skip::BadIpHeader => Some("bad_ip_header"),
            Skip::TruncatedTransport => Some("truncated_transport_header"),
            Skip::FragmentDropped => Some("fragment_dropped"),
            _ => None,
        }
    }
}

/// Result of decoding one frame.
pub enum Outcome {
    /// The packet callback was called (once).
    Decoded,
    /// A fragment was stored, waiting for the rest of its datagram.
    FragmentHeld,
    Skipped(Skip),
}

/// Events the decoder reports besides the outcome (become weird rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeEvent {
    /// A fragment entirely inside data already held: dropped, the first data kept.
    FragmentOverlap,
    /// A fragment partly overlapping data already held: merged (in the overlap the buffer keeps
    /// the later bytes).
    FragmentOverlapMerged,
    FragmentError(String),
    FragmentTimeout(usize),
    FragmentPoolFull,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

struct FragEntry {
    buf: IpDefragBuf,
    /// Frame numbers of the fragments kept (for [`Decoder::reassembled_from`]).
    frames: Vec<u64>,
    first_ts: i64,
    bytes: usize,
    vlan: Option<u16>,
}

/// Limits for fragment reassembly.
#[derive(Debug, Clone, Copy)]
pub struct FragLimits {
    pub max_datagrams: usize,
    pub max_bytes: usize,
    pub timeout_us: i64,
}

impl Default for FragLimits {
    fn default() -> Self {
        FragLimits {
            max_datagrams: 8192,
            max_bytes: 64 << 20,
            timeout_us: 60_000_000,
        }
    }
}

/// Stateful decoder (holds the fragment pool).
pub struct Decoder {
    frags: FxHashMap<FragKey, FragEntry>,
    /// Datagram keys in arrival order (entries already completed or expired are skipped lazily):
    /// when the pool is full the oldest incomplete datagram is evicted, so a flood of fragments
    /// that never complete cannot lock out a later, legitimate fragmented datagram.
    frag_order: std::collections::VecDeque<(FragKey, i64)>,
    frag_bytes: usize,
    limits: FragLimits,
    pub events: Vec<DecodeEvent>,
    scratch: Vec<u8>,
    depth: u8,
    reassembled_from: Vec<u64>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(FragLimits::default())
    }
}

fn ip_payload_after_link(linktype: u32, data: &[u8]) -> Result<LinkOut<'_>, Skip> {
    match linktype {
        linktype::ETHERNET => Ok(LinkOut::Ethernet(data)),
        // raw IP: LINKTYPE_RAW, DLT_RAW (12 / 14 on some systems), LINKTYPE_IPV4, LINKTYPE_IPV6
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 | linktype::IPV4 | linktype::IPV6 => {
            Ok(LinkOut::Ip(data))
        }
        linktype::NULL | linktype::LOOP => {
            // BSD null (host byte order) / loopback (network byte order) address family
            let fam: [u8; 4] = array(data, 0).ok_or(Skip::TruncatedLink)?;
            let (le, be) = (u32::from_le_bytes(fam), u32::from_be_bytes(fam));
            let af = if linktype == linktype::LOOP {
                be
            } else if le < 256 {
                le
            } else {
                be
            };
            match af {
                2 | 24 | 28 | 30 => Ok(LinkOut::Ip(tail(data, 4))),
                other => Err(Skip::NonIp(other as u16)),
            }
        }
        linktype::LINUX_SLL => {
            // Linux cooked v1: 16-byte header, protocol at 14..16
            let p = be16(data, 14).ok_or(Skip::TruncatedLink)?;
            Ok(LinkOut::EtherType(p, tail(data, 16)))
        }
        linktype::LINUX_SLL2 => {
            // Linux cooked v2: 20-byte header, protocol at 0..2
            let p = be16(data, 0).ok_or(Skip::TruncatedLink)?;
            if data.len() < 20 {
                return Err(Skip::TruncatedLink);
            }
            Ok(LinkOut::EtherType(p, tail(data, 20)))
        }
        linktype::PPP | linktype::PPP_HDLC => {
            // PPP (optionally with HDLC address/control ff 03)
            let d = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
            match be16(d, 0).ok_or(Skip::TruncatedLink)? {
                pppproto::IPV4 | pppproto::IPV6 => Ok(LinkOut::Ip(tail(d, 2))),
                other => Err(Skip::NonIp(other)),
            }
        }
        linktype::NFLOG => {
            // NFLOG: 4-byte header then TLVs (length and type little-endian); type 9 is the payload.
            let mut off = 4usize;
            if data.len() < 4 {
                return Err(Skip::TruncatedLink);
            }
            while let (Some(len), Some(typ)) = (le16(data, off), le16(data, off + 2)) {
                let len = usize::from(len);
                if len < 4 {
                    break;
                }
                if typ == 9 {
                    let end = (off + len).min(data.len());
                    return Ok(LinkOut::Ip(data.get(off + 4..end).unwrap_or(&[])));
                }
                off += (len + 3) & !3;
            }
            Err(Skip::TruncatedLink)
        }
        other => Err(Skip::UnknownLinktype(other)),
    }
}

enum LinkOut<'a> {
    Ethernet(&'a [u8]),
    EtherType(u16, &'a [u8]),
    Ip(&'a [u8]),
}

/// Strip PPPoE session / MPLS encapsulations that etherparse does not decode.
fn unwrap_ethertype(mut ether_type: u16, mut data: &[u8]) -> Result<(u16, &[u8]), Skip> {
    for _ in 0..8 {
        match ether_type {
            ethertype::PPPOE_SESSION => {
                // PPPoE session: 6-byte header, then PPP protocol
                ether_type = match be16(data, 6).ok_or(Skip::TruncatedLink)? {
                    pppproto::IPV4 => ethertype::IPV4,
                    pppproto::IPV6 => ethertype::IPV6,
                    other => return Err(Skip::NonIp(other)),
                };
                data = tail(data, 8);
            }
            ethertype::MPLS_UNICAST | ethertype::MPLS_MULTICAST => {
                // MPLS: pop labels to the bottom of stack, then guess IP by version nibble
                loop {
                    let l: [u8; 4] = array(data, 0).ok_or(Skip::TruncatedLink)?;
                    data = tail(data, 4);
                    if l[2] & 1 == 1 {
                        break;
                    }
                }
                ether_type = match data.first().map(|b| b >> 4) {
                    Some(4) => ethertype::IPV4,
                    Some(6) => ethertype::IPV6,
                    _ => return Err(Skip::NonIp(ethertype::MPLS_UNICAST)),
                };
            }
            _ => return Ok((ether_type, data)),
        }
    }
    Err(Skip::TruncatedLink)
}

impl Decoder {
    pub fn new(limits: FragLimits) -> Self {
        Decoder {
            frags: FxHashMap::default(),
            frag_order: std::collections::VecDeque::new(),
            frag_bytes: 0,
            limits,
            events: Vec::new(),
            scratch: Vec::new(),
            depth: 0,
            reassembled_from: Vec::new(),
        }
    }

    /// After a [`Decoder::decode`] that completed a fragmented datagram: the frame numbers of its
    /// fragments (the last one included), in arrival order; empty otherwise. `extract` writes them
    /// all for a connection it slices.
    pub fn reassembled_from(&self) -> &[u64] {
        &self.reassembled_from
    }

    /// Fragments currently held.
    pub fn held_fragments(&self) -> (usize, usize) {
        (self.frags.len(), self.frag_bytes)
    }

    /// Drop incomplete datagrams older than the timeout.
    pub fn expire(&mut self, now: i64) {
        let timeout = self.limits.timeout_us;
        let before = self.frags.len();
        let mut freed = 0;
        self.frags.retain(|_, e| {
            let keep = now - e.first_ts <= timeout;
            if !keep {
                freed += e.bytes;
            }
            keep
        });
        self.frag_bytes -= freed;
        let n = before - self.frags.len();
        if n > 0 {
            self.events.push(DecodeEvent::FragmentTimeout(n));
        }
    }

    /// Decode one frame; calls `on_packet` at most once.
    pub fn decode<F: FnMut(&Packet<'_>)>(&mut self, frame: &Frame<'_>, on_packet: F) -> Outcome {
        match self.decode_inner(frame, on_packet) {
            Ok(o) => o,
            Err(s) => Outcome::Skipped(s),
        }
    }

    fn decode_inner<F: FnMut(&Packet<'_>)>(
        &mut self,
        frame: &Frame<'_>,
        mut on_packet: F,
    ) -> Result<Outcome, Skip> {
        if !self.reassembled_from.is_empty() {
            self.reassembled_from.clear();
        }
        if let Some(pkt) = fast_ethernet_ip(frame) {
            on_packet(&pkt);
            return Ok(Outcome::Decoded);
        }
        self.decode_general(frame, on_packet)
    }

    /// Every link type and layering, through etherparse's lax slicing.
    fn decode_general<F: FnMut(&Packet<'_>)>(
        &mut self,
        frame: &Frame<'_>,
        on_packet: F,
    ) -> Result<Outcome, Skip> {
        let sliced = match ip_payload_after_link(frame.linktype, frame.data)? {
            LinkOut::Ethernet(d) => {
                let p = LaxSlicedPacket::from_ethernet(d).map_err(|_| Skip::TruncatedLink)?;
                if p.net.is_none()
                    && let Some(ep) = p.ether_payload()
                {
                    let et = ep.ether_type.0;
                    if matches!(
                        et,
                        ethertype::PPPOE_SESSION
                            | ethertype::MPLS_UNICAST
                            | ethertype::MPLS_MULTICAST
                    ) {
                        let (et2, inner) = unwrap_ethertype(et, ep.payload)?;
                        let vlan = p.vlan_ids().first().map(|v| v.value());
                        let q = LaxSlicedPacket::from_ether_type(etherparse::EtherType(et2), inner);
                        return self.decode_sliced(frame, &q, vlan, on_packet);
                    }
                }
                let vlan = p.vlan_ids().first().map(|v| v.value());
                return self.decode_sliced(frame, &p, vlan, on_packet);
            }
            LinkOut::EtherType(et, d) => {
                let (et, d) = unwrap_ethertype(et, d)?;
                LaxSlicedPacket::from_ether_type(etherparse::EtherType(et), d)
            }
            LinkOut::Ip(d) => match d.first().map(|b| b >> 4) {
                Some(4) | Some(6) => LaxSlicedPacket::from_ip(d).map_err(|_| Skip::BadIpHeader)?,
                None => return Err(Skip::TruncatedIp),
                Some(_) => return Err(Skip::BadIpHeader),
            },
        };
        self.decode_sliced(frame, &sliced, None, on_packet)
    }

    fn decode_sliced<F: FnMut(&Packet<'_>)>(
        &mut self,
        frame: &Frame<'_>,
        p: &LaxSlicedPacket<'_>,
        vlan: Option<u16>,
        mut on_packet: F,
    ) -> Result<Outcome, Skip> {
        let net = match &p.net {
            Some(n) => n,
            None => {
                if let Some(ep) = p.ether_payload() {
                    return Err(match ep.ether_type.0 {
                        0x0806 => Skip::Arp,
                        ethertype::IPV4 | ethertype::IPV6 => {
                            if p.stop_err.is_some() {
                                Skip::TruncatedIp
                            } else {
                                Skip::BadIpHeader
                            }
                        }
                        t => Skip::NonIp(t),
                    });
                }
                return Err(if p.stop_err.is_some() {
                    Skip::TruncatedIp
                } else {
                    Skip::TruncatedLink
                });
            }
        };
        let (src, dst, ip_bytes, frag) = match net {
            LaxNetSlice::Ipv4(v4) => {
                let h = v4.header();
                let frag = if v4.is_payload_fragmented() {
                    Some((
                        h.identification() as u32,
                        h.fragments_offset(),
                        h.more_fragments(),
                    ))
                } else {
                    None
                };
                (
                    IpAddr::from(h.source()),
                    IpAddr::from(h.destination()),
                    h.total_len() as u32,
                    frag,
                )
            }
            LaxNetSlice::Ipv6(v6) => {
                let h = v6.header();
                let mut frag = None;
                if v6.is_payload_fragmented() {
                    // walked with checked reads: etherparse 0.21's extension iterator reads out of
                    // bounds (unchecked, UB) on some lax-sliced chains the mutation fuzzer built
                    frag = ipv6_fragment_header(h.next_header().0, v6.extensions().slice())
                        .and_then(|(id, off, more)| {
                            Some((id, etherparse::IpFragOffset::try_new(off).ok()?, more))
                        });
                }
                (
                    IpAddr::from(h.source()),
                    IpAddr::from(h.destination()),
                    h.payload_length() as u32 + 40,
                    frag,
                )
            }
            LaxNetSlice::Arp(_) => return Err(Skip::Arp),
        };
        let ipp = match net {
            LaxNetSlice::Ipv4(v4) => v4.payload(),
            LaxNetSlice::Ipv6(v6) => v6.payload(),
            LaxNetSlice::Arp(_) => return Err(Skip::Arp),
        };
        let proto = ipp.ip_number.0;
        if matches!(proto, ipproto::IPIP | ipproto::IPV6) && frag.is_none() && self.depth < 2 {
            // IP-in-IP (IPv4 or IPv6 inside IPv4/IPv6): decode the inner packet
            self.depth += 1;
            let inner = LaxSlicedPacket::from_ip(ipp.payload);
            let r = match inner {
                Ok(q) => self.decode_sliced(frame, &q, vlan, on_packet),
                Err(_) => Err(Skip::BadIpHeader),
            };
            self.depth -= 1;
            return r;
        }
        if !matches!(
            proto,
            ipproto::TCP | ipproto::UDP | ipproto::ICMP | ipproto::ICMPV6
        ) {
            return Err(Skip::IpProto(proto));
        }
        let claimed_ip_payload = match net {
            LaxNetSlice::Ipv4(v4) => {
                let h = v4.header();
                (h.total_len() as usize).saturating_sub(h.ihl() as usize * 4)
            }
            LaxNetSlice::Ipv6(v6) => (v6.header().payload_length() as usize)
                .saturating_sub(v6.extensions().slice().len()),
            LaxNetSlice::Arp(_) => 0,
        }
        .max(ipp.payload.len());
        if let Some((id, offset, more)) = frag {
            let key = FragKey {
                src,
                dst,
                id,
                proto,
            };
            return self.add_fragment(
                frame,
                key,
                offset,
                more,
                ipp.payload,
                vlan,
                ip_bytes,
                on_packet,
            );
        }
        // Not fragmented: use etherparse's transport slice when it parsed one.
        let bare = Packet::bare(frame, src, dst, proto, ip_bytes, vlan);
        let pkt = match &p.transport {
            Some(t) => bare.with_transport_slice(t, claimed_ip_payload),
            None => bare.with_transport_bytes(ipp.payload, claimed_ip_payload),
        }
        .ok_or(Skip::TruncatedTransport)?;
        on_packet(&pkt);
        Ok(Outcome::Decoded)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_fragment<F: FnMut(&Packet<'_>)>(
        &mut self,
        frame: &Frame<'_>,
        key: FragKey,
        offset: etherparse::IpFragOffset,
        more: bool,
        payload: &[u8],
        vlan: Option<u16>,
        _ip_bytes: u32,
        mut on_packet: F,
    ) -> Result<Outcome, Skip> {
        if !self.frags.contains_key(&key) {
            if self.frags.len() >= self.limits.max_datagrams
                || self.frag_bytes + payload.len() > self.limits.max_bytes
            {
                self.expire(frame.ts);
                // still full: evict the oldest incomplete datagrams to make room
                let mut evicted = 0u64;
                while (self.frags.len() >= self.limits.max_datagrams
                    || self.frag_bytes + payload.len() > self.limits.max_bytes)
                    && let Some((k, t)) = self.frag_order.pop_front()
                {
                    if let Some(e) = self.frags.get(&k)
                        && e.first_ts == t
                        && let Some(e) = self.frags.remove(&k)
                    {
                        self.frag_bytes -= e.bytes;
                        evicted += 1;
                    }
                }
                if evicted > 0 {
                    self.events.push(DecodeEvent::FragmentPoolFull);
                }
                if self.frags.len() >= self.limits.max_datagrams
                    || self.frag_bytes + payload.len() > self.limits.max_bytes
                {
                    return Err(Skip::FragmentDropped);
                }
            }
            self.frag_order.push_back((key, frame.ts));
            if self.frag_order.len() > 4 * self.limits.max_datagrams {
                // drop keys of datagrams that completed or expired long ago
                let live = &self.frags;
                self.frag_order
                    .retain(|(k, t)| live.get(k).is_some_and(|e| e.first_ts == *t));
            }
            self.frags.insert(
                key,
                FragEntry {
                    buf: IpDefragBuf::new(IpNumber(key.proto), Vec::new(), Vec::new()),
                    frames: Vec::new(),
                    first_ts: frame.ts,
                    bytes: 0,
                    vlan,
                },
            );
        }
        let entry = match self.frags.get_mut(&key) {
            Some(e) => e,
            None => return Err(Skip::FragmentDropped),
        };
        let start = offset.byte_offset() as u32;
        let end = start + payload.len() as u32;
        let sections = entry.buf.sections();
        if sections
            .iter()
            .any(|s| (s.start as u32) < end && start < s.end as u32)
        {
            // a fragment entirely inside data already held is dropped: the first data wins (as
            // tshark shows it) and a flood of copies of one fragment costs nothing in the pool,
            // which is charged per distinct byte
            let covered: u32 = sections
                .iter()
                .map(|s| {
                    (s.end as u32)
                        .min(end)
                        .saturating_sub((s.start as u32).max(start))
                })
                .sum();
            let last_new =
                !more && !entry.buf.is_complete() && sections.iter().all(|s| (s.end as u32) <= end);
            let duplicate = covered >= end - start && !last_new;
            if duplicate {
                self.events.push(DecodeEvent::FragmentOverlap);
                return Ok(Outcome::FragmentHeld);
            }
            self.events.push(DecodeEvent::FragmentOverlapMerged);
        }
        if let Err(e) = entry.buf.add(offset, more, payload) {
            self.events.push(DecodeEvent::FragmentError(format!("{e}")));
            let bytes = entry.bytes;
            self.frags.remove(&key);
            self.frag_bytes -= bytes;
            return Err(Skip::FragmentDropped);
        }
        entry.bytes += payload.len();
        entry.frames.push(frame.number);
        self.frag_bytes += payload.len();
        if !entry.buf.is_complete() {
            return Ok(Outcome::FragmentHeld);
        }
        let Some(entry) = self.frags.remove(&key) else {
            return Err(Skip::FragmentDropped);
        };
        self.frag_bytes -= entry.bytes;
        self.reassembled_from = entry.frames;
        let (data, _) = entry.buf.take_bufs();
        self.scratch = data;
        let hdr = if key.src.is_ipv4() { 20 } else { 40 };
        let total = self.scratch.len();
        let pkt = Packet::bare(
            frame,
            key.src,
            key.dst,
            key.proto,
            (total + hdr) as u32,
            entry.vlan.or(vlan),
        )
        .with_transport_bytes(&self.scratch, total)
        .ok_or(Skip::TruncatedTransport)?;
        on_packet(&pkt);
        Ok(Outcome::Decoded)
    }
}

#[allow(clippy::too_many_arguments)]
fn fill_tcp<'a>(pkt: &mut Packet<'a>, tcp: &TcpSlice<'a>, claimed: usize) {
    pkt.sport = tcp.source_port();
    pkt.dport = tcp.destination_port();
    let mut flags = 0u8;
    if tcp.fin() {
        flags |= tcpflags::FIN;
    }
    if tcp.syn() {
        flags |= tcpflags::SYN;
    }
    if tcp.rst() {
        flags |= tcpflags::RST;
    }
    if tcp.psh() {
        flags |= tcpflags::PSH;
    }
    if tcp.ack() {
        flags |= tcpflags::ACK;
    }
    pkt.tcp = Some(TcpInfo {
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        window: tcp.window_size(),
    });
    pkt.payload = tcp.payload();
    pkt.payload_len = claimed
        .saturating_sub(tcp.header_slice().len())
        .max(pkt.payload.len()) as u32;
    pkt.truncated = pkt.payload.len() < pkt.payload_len as usize;
}

fn fill_udp<'a>(pkt: &mut Packet<'a>, udp: &UdpSlice<'a>, claimed: usize) {
    pkt.sport = udp.source_port();
    pkt.dport = udp.destination_port();
    pkt.payload = udp.payload();
    pkt.payload_len = claimed.saturating_sub(8).max(pkt.payload.len()) as u32;
    pkt.truncated = pkt.payload.len() < pkt.payload_len as usize
        || (udp.length() as usize).saturating_sub(8) > pkt.payload.len();
}

/// ICMP "ports": echo request and reply map to the same pair so both directions share one flow.
fn icmp_ports(typ: u8, code: u8, v6: bool) -> (u16, u16) {
    let (req, rep) = if v6 { (128u8, 129u8) } else { (8u8, 0u8) };
    if typ == req || typ == rep {
        (req as u16, rep as u16)
    } else {
        (typ as u16, code as u16)
    }
}

/// The common case, decoded without building etherparse's whole `LaxSlicedPacket` (several hundred
/// bytes written and moved per packet, about a tenth of the single-core ingest time): Ethernet II
/// (optionally one 802.1Q tag) to IPv4 (not fragmented) or IPv6 (no extension headers), lengths within
/// the capture, TCP or
/// UDP with a readable header. It gives the same `Packet` as the general path (a unit test compares
/// both on generated and damaged frames); anything else returns `None` and takes the general path,
/// which also decides skips.
fn fast_ethernet_ip<'a>(frame: &Frame<'a>) -> Option<Packet<'a>> {
    let d = frame.data;
    if frame.linktype != linktype::ETHERNET || d.len() < 14 {
        return None;
    }
    let (ether_type, vlan, ip) = match be16(d, 12)? {
        // one 802.1Q tag (a SPAN or trunk port); stacked tags take the general path
        ethertype::VLAN if d.len() >= 18 => {
            (be16(d, 16)?, Some(be16(d, 14)? & 0x0fff), tail(d, 18))
        }
        t => (t, None, tail(d, 14)),
    };
    let (src, dst, proto, ip_bytes, payload) = match ether_type {
        ethertype::IPV4 => {
            let h = etherparse::Ipv4HeaderSlice::from_slice(ip).ok()?;
            let hl = h.slice().len();
            let total = h.total_len() as usize;
            if total < hl
                || total > ip.len()
                || h.more_fragments()
                || h.fragments_offset().value() != 0
            {
                return None;
            }
            (
                IpAddr::from(h.source()),
                IpAddr::from(h.destination()),
                h.protocol().0,
                total,
                ip.get(hl..total)?,
            )
        }
        ethertype::IPV6 => {
            let h = etherparse::Ipv6HeaderSlice::from_slice(ip).ok()?;
            let len = h.payload_length() as usize;
            // 0: a jumbogram or a TSO capture; the general path decides
            if len == 0 || 40 + len > ip.len() {
                return None;
            }
            (
                IpAddr::from(h.source()),
                IpAddr::from(h.destination()),
                h.next_header().0,
                40 + len,
                ip.get(40..40 + len)?,
            )
        }
        _ => return None,
    };
    if !matches!(proto, ipproto::TCP | ipproto::UDP) {
        return None;
    }
    Packet::bare(frame, src, dst, proto, ip_bytes as u32, vlan)
        .with_transport_bytes(payload, payload.len())
}

/// The fragment header's (identification, offset in 8-byte units, more fragments) from an IPv6
/// extension header chain (`first` = the IPv6 header's next header), read with checked indexing
/// only: hop-by-hop (0), routing (43) and destination options (60) are (len + 1) * 8 bytes, AH (51)
/// (len + 2) * 4, the fragment header (44) 8; anything else ends the chain.
pub fn ipv6_fragment_header(first: u8, exts: &[u8]) -> Option<(u32, u16, bool)> {
    let mut nh = first;
    let mut rest = exts;
    for _ in 0..16 {
        let len = match nh {
            0 | 43 | 60 => (usize::from(*rest.get(1)?) + 1) * 8,
            51 => (usize::from(*rest.get(1)?) + 2) * 4,
            44 => {
                let b = rest.get(..8)?;
                let off = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
                let id = u32::from_be_bytes([*b.get(4)?, *b.get(5)?, *b.get(6)?, *b.get(7)?]);
                return Some((id, off >> 3, off & 1 == 1));
            }
            _ => return None,
        };
        nh = *rest.first()?;
        rest = rest.get(len..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(linktype: u32, data: &[u8]) -> Frame<'_> {
        Frame {
            ts: 1_000_000,
            linktype,
            data,
            orig_len: data.len() as u32,
            number: 1,
        }
    }

    /// IPv4 UDP 10.0.0.1:1234 -> 10.0.0.2:53 with 4 payload bytes, checksum unset.
    const IPV4_UDP: [u8; 32] = [
        0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
        0x04, 0xd2, 0, 53, 0, 12, 0, 0, // UDP
        b'a', b'b', b'c', b'd',
    ];

    /// (src, dst, sport, dport, payload, vlan) of a decoded packet
    type Decoded = (IpAddr, IpAddr, u16, u16, Vec<u8>, Option<u16>);

    fn decode_one(linktype: u32, data: &[u8]) -> Result<Decoded, Skip> {
        let mut d = Decoder::default();
        let mut got = None;
        match d.decode(&frame(linktype, data), |p| {
            got = Some((p.src, p.dst, p.sport, p.dport, p.payload.to_vec(), p.vlan))
        }) {
            Outcome::Decoded => Ok(got.unwrap()),
            Outcome::Skipped(s) => Err(s),
            Outcome::FragmentHeld => panic!("held"),
        }
    }

    /// The fast path gives exactly the general path's packet, on generated traffic and on damaged
    /// variants of it (every truncation of the headers, bytes of the IP and transport headers set
    /// to boundary values).
    #[test]
    fn fast_path_matches_the_general_path() {
        let cap = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/scenario.pcap.gz");
        let mut frames: Vec<Vec<u8>> = Vec::new();
        let mut v6 = 0;
        crate::capture::read_capture(std::fs::File::open(cap).unwrap(), |f| {
            // the first 2,700 frames and up to 300 IPv6 ones from anywhere in the capture
            let is_v6 = f.data.get(12..14) == Some(&[0x86, 0xdd][..]);
            if f.linktype == 1
                && (frames.len() < 2700 || (is_v6 && v6 < 300 && frames.len() < 3000))
            {
                v6 += usize::from(is_v6);
                frames.push(f.data.to_vec());
            }
        })
        .unwrap();
        assert!(
            frames.len() >= 2700 && v6 > 0,
            "{} frames, {v6} IPv6",
            frames.len()
        );
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            variants.push(f.clone());
            // the same frame behind one 802.1Q tag (priority bits set on some), and behind two
            let tci = (i as u16).wrapping_mul(2654) & 0xefff;
            let mut tagged = f[..12].to_vec();
            tagged.extend_from_slice(&[0x81, 0x00]);
            tagged.extend_from_slice(&tci.to_be_bytes());
            tagged.extend_from_slice(&f[12..]);
            if i % 7 == 0 {
                let mut qinq = tagged[..12].to_vec();
                qinq.extend_from_slice(&[0x88, 0xa8, 0x00, 0x05]);
                qinq.extend_from_slice(&tagged[12..]);
                variants.push(qinq);
            }
            variants.push(tagged);
            if i % 10 == 0 {
                for cut in 0..f.len().min(80) {
                    variants.push(f[..cut].to_vec());
                }
                for pos in 14..f.len().min(80) {
                    for v in [0u8, 1, 0x45, 0x4f, 0x7f, 0x80, 0xff] {
                        let mut g = f.clone();
                        g[pos] = v;
                        variants.push(g);
                    }
                }
            }
        }
        let (mut fast_hits, mut v6_hits, mut vlan_hits, mut checked) = (0, 0, 0, 0);
        for v in &variants {
            let fr = frame(1, v);
            let fast = fast_ethernet_ip(&fr).map(|p| format!("{p:?}"));
            let mut general = None;
            let mut d = Decoder::default();
            let _ = d.decode_general(&fr, |p| general = Some(format!("{p:?}")));
            if let Some(f) = fast {
                fast_hits += 1;
                if v[12..14] == [0x86, 0xdd] {
                    v6_hits += 1;
                }
                if v[12..14] == [0x81, 0x00] {
                    vlan_hits += 1;
                }
                assert_eq!(Some(f), general, "frame {v:02x?}");
            }
            checked += 1;
        }
        eprintln!("fast path: {fast_hits} of {checked} variants, {v6_hits} IPv6, {vlan_hits} VLAN");
        // most generated frames are plain IPv4/IPv6 TCP/UDP; the damaged ones mostly are not
        assert!(fast_hits > frames.len() / 2, "{fast_hits} of {checked}");
        assert!(v6_hits > 0, "no IPv6 frame took the fast path");
        assert!(
            vlan_hits > frames.len() / 2,
            "{vlan_hits} VLAN frames on the fast path"
        );
    }

    #[test]
    fn raw_ip_and_null_and_sll() {
        let r = decode_one(101, &IPV4_UDP).unwrap();
        assert_eq!(r.0, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!((r.2, r.3), (1234, 53));
        assert_eq!(r.4, b"abcd");
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(&IPV4_UDP);
        assert_eq!(decode_one(0, &null).unwrap().3, 53);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&IPV4_UDP);
        assert_eq!(decode_one(113, &sll).unwrap().3, 53);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&IPV4_UDP);
        assert_eq!(decode_one(276, &sll2).unwrap().3, 53);
    }

    #[test]
    fn ethernet_vlan_stack_and_pppoe() {
        let mut e = vec![0u8; 12];
        e.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        e.extend_from_slice(&IPV4_UDP);
        let r = decode_one(1, &e).unwrap();
        assert_eq!(r.5, Some(10));
        assert_eq!(r.4, b"abcd");
        let mut p = vec![0u8; 12];
        p.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x00, 0x01, 0x00, 34, 0x00, 0x21]);
        p.extend_from_slice(&IPV4_UDP);
        assert_eq!(decode_one(1, &p).unwrap().3, 53);
    }

    #[test]
    fn unknown_linktype_and_arp_are_named_skips() {
        assert_eq!(
            decode_one(147, &IPV4_UDP).unwrap_err(),
            Skip::UnknownLinktype(147)
        );
        assert_eq!(
            Skip::UnknownLinktype(147).to_string(),
            "unknown_linktype_147"
        );
        let mut arp = vec![0xffu8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&[0u8; 20]);
        assert_eq!(decode_one(1, &arp).unwrap_err(), Skip::Arp);
    }

    #[test]
    fn snaplen_cut_packet_keeps_claimed_length() {
        let mut d = Decoder::default();
        let cut = &IPV4_UDP[..30];
        let mut got = None;
        d.decode(&frame(101, cut), |p| {
            got = Some((p.payload.len(), p.payload_len, p.ip_bytes))
        });
        assert_eq!(got, Some((2, 4, 32)));
    }

    #[test]
    fn ipv4_fragments_reassemble_and_overlaps_are_reported() {
        // UDP datagram with 16 payload bytes split in two fragments of 16 and 8 bytes.
        let udp: Vec<u8> = [&[0x04, 0xd2, 0, 53, 0, 24, 0, 0][..], &[b'x'; 16][..]].concat();
        let frag = |off: u16, more: bool, body: &[u8]| -> Vec<u8> {
            let total = 20 + body.len() as u16;
            let fo = (off / 8) | if more { 0x2000 } else { 0 };
            let mut v = vec![
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                7,
                (fo >> 8) as u8,
                fo as u8,
                64,
                17,
                0,
                0,
                10,
                0,
                0,
                1,
                10,
                0,
                0,
                2,
            ];
            v.extend_from_slice(body);
            v
        };
        let mut d = Decoder::default();
        let f1 = frag(0, true, &udp[..16]);
        let f2 = frag(16, false, &udp[16..]);
        let mut n = 0;
        assert!(matches!(
            d.decode(&frame(101, &f1), |_| n += 1),
            Outcome::FragmentHeld
        ));
        let mut payload = Vec::new();
        assert!(matches!(
            d.decode(&frame(101, &f2), |p| payload = p.payload.to_vec()),
            Outcome::Decoded
        ));
        assert_eq!(payload, vec![b'x'; 16]);
        assert_eq!(d.held_fragments(), (0, 0));
        // overlap
        let f3 = frag(0, true, &udp[..16]);
        let f4 = frag(8, true, &udp[8..24]);
        d.decode(&frame(101, &f3), |_| {});
        d.decode(&frame(101, &f4), |_| {});
        assert!(d.events.contains(&DecodeEvent::FragmentOverlapMerged));
        // exact copies of a held fragment: dropped (first data wins), each counted, and the pool
        // is charged per distinct byte, so a flood of copies cannot fill it
        let held = d.held_fragments();
        d.events.clear();
        for _ in 0..1000 {
            d.decode(&frame(101, &f3), |_| {});
        }
        assert_eq!(
            d.events
                .iter()
                .filter(|e| **e == DecodeEvent::FragmentOverlap)
                .count(),
            1000
        );
        assert_eq!(d.held_fragments(), held);
        d.expire(1_000_000 + 61_000_000);
        assert_eq!(d.held_fragments().0, 0);
    }

    #[test]
    fn ipv6_fragment_header_walks_the_chain_with_checked_reads() {
        // hop-by-hop (8 bytes, next = fragment), then fragment: offset 185 (x8), more, id 0xdeadbeef
        let mut exts = vec![44u8, 0, 1, 4, 0, 0, 0, 0];
        exts.extend_from_slice(&[17, 0, 0x05, 0xc9, 0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(
            ipv6_fragment_header(0, &exts),
            Some((0xdead_beef, 185, true))
        );
        // a length that points past the end, a truncated fragment header, a loop of options
        assert_eq!(ipv6_fragment_header(0, &[44, 200, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(ipv6_fragment_header(44, &[17, 0, 0, 1]), None);
        assert_eq!(
            ipv6_fragment_header(60, &[60u8, 0, 0, 0, 0, 0, 0, 0].repeat(40)),
            None
        );
        assert_eq!(ipv6_fragment_header(0, &[]), None);
    }
}
