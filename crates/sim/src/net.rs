//! Simulator plumbing: a deterministic RNG, a classic-pcap writer fed from a time-ordered packet heap,
//! and TCP/UDP conversation builders with correct handshakes, MSS segmentation, ACKs, teardown and
//! checksums (etherparse's `PacketBuilder` writes the headers and checksums).

use etherparse::{PacketBuilder, TcpOptionElement};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::net::IpAddr;
use wirehunt_wire::capture::write::CaptureWriter;

/// splitmix64: tiny, fast and deterministic across platforms.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x243f_6a88_85a3_08d3)
    }
    pub fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    pub fn f64(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.u64() % (hi - lo)
        }
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.range(0, v.len() as u64) as usize]
    }
    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).max(1e-12).ln()
    }
    /// Log-normal around `median` with spread `sigma`.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        // Box-Muller
        let (u1, u2) = (self.f64().max(1e-12), self.f64());
        let n = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        median * (sigma * n).exp()
    }
    /// Log-uniform in [lo, hi].
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.f64()).exp()
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.u64().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    ts: i64,
    seq: u64,
    frame: Vec<u8>,
}

/// Writes a classic pcap (Ethernet, microseconds) in timestamp order.
pub struct PcapOut<W: Write> {
    out: CaptureWriter<W>,
    heap: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    pub packets: u64,
    pub bytes: u64,
}

impl<W: Write> PcapOut<W> {
    pub fn new(out: W) -> std::io::Result<Self> {
        let out = CaptureWriter::pcap(out, 1, 65535)?;
        let bytes = out.bytes;
        Ok(PcapOut {
            out,
            heap: BinaryHeap::new(),
            seq: 0,
            packets: 0,
            bytes,
        })
    }

    pub fn push(&mut self, ts: i64, frame: Vec<u8>) {
        self.seq += 1;
        self.heap.push(Reverse(Queued {
            ts,
            seq: self.seq,
            frame,
        }));
    }

    /// Write every queued packet earlier than `t`.
    pub fn flush_until(&mut self, t: i64) -> std::io::Result<()> {
        while self.heap.peek().is_some_and(|Reverse(q)| q.ts < t) {
            if let Some(Reverse(q)) = self.heap.pop() {
                self.out
                    .write(q.ts, 1, &q.frame, q.frame.len() as u32)
                    .map_err(std::io::Error::other)?;
                self.packets = self.out.packets;
                self.bytes = self.out.bytes;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.flush_until(i64::MAX)?;
        self.out.finish()
    }
}

/// One side of a conversation.
#[derive(Clone, Copy, Debug)]
pub struct Ep {
    pub ip: IpAddr,
    pub port: u16,
    pub mac: [u8; 6],
}

pub fn mac_for(ip: &IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            [0x02, 0x42, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(v) => {
            let o = v.octets();
            [0x02, 0x66, o[12], o[13], o[14], o[15]]
        }
    }
}

/// The router's MAC: frames to and from outside addresses carry it.
pub const GATEWAY_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x01, 0x01];

fn ip_builder(src: &Ep, dst: &Ep) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    let e = PacketBuilder::ethernet2(src.mac, dst.mac);
    match (src.ip, dst.ip) {
        (IpAddr::V4(a), IpAddr::V4(b)) => e.ipv4(a.octets(), b.octets(), 64),
        (IpAddr::V6(a), IpAddr::V6(b)) => e.ipv6(a.octets(), b.octets(), 64),
        (a, b) => {
            // mixed families never happen in the simulator; map to v6
            let a6 = match a {
                IpAddr::V4(x) => x.to_ipv6_mapped(),
                IpAddr::V6(x) => x,
            };
            let b6 = match b {
                IpAddr::V4(x) => x.to_ipv6_mapped(),
                IpAddr::V6(x) => x,
            };
            e.ipv6(a6.octets(), b6.octets(), 64)
        }
    }
}

pub fn udp_frame(src: &Ep, dst: &Ep, payload: &[u8]) -> Vec<u8> {
    let b = ip_builder(src, dst).udp(src.port, dst.port);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    let _ = b.write_to_vec(&mut v, payload);
    v
}

pub const MSS: usize = 1460;

#[derive(Clone, Copy)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub psh: bool,
    pub rst: bool,
}

#[allow(clippy::too_many_arguments)]
pub fn tcp_frame(
    src: &Ep,
    dst: &Ep,
    seq: u32,
    ack: u32,
    f: Flags,
    window: u16,
    payload: &[u8],
) -> Vec<u8> {
    let base = || ip_builder(src, dst).tcp(src.port, dst.port, seq, window);
    let mut b = if f.syn {
        base()
            .options(&[
                TcpOptionElement::MaximumSegmentSize(MSS as u16),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ])
            .unwrap_or_else(|_| base())
            .syn()
    } else {
        base()
    };
    if f.ack {
        b = b.ack(ack);
    }
    if f.fin {
        b = b.fin();
    }
    if f.psh {
        b = b.psh();
    }
    if f.rst {
        b = b.rst();
    }
    let mut v = Vec::with_capacity(b.size(payload.len()));
    let _ = b.write_to_vec(&mut v, payload);
    v
}

/// A TCP conversation between a client and a server, written into a [`PcapOut`].
pub struct Tcp {
    pub c: Ep,
    pub s: Ep,
    cseq: u32,
    sseq: u32,
    pub t: i64,
    /// Round-trip time, µs.
    pub rtt: i64,
    /// Pacing: µs per 1000 bytes of payload.
    pub us_per_kb: i64,
}

const FL: Flags = Flags {
    syn: false,
    ack: true,
    fin: false,
    psh: false,
    rst: false,
};

impl Tcp {
    pub fn new(rng: &mut Rng, c: Ep, s: Ep, t: i64, rtt: i64, us_per_kb: i64) -> Self {
        Tcp {
            c,
            s,
            cseq: rng.u64() as u32,
            sseq: rng.u64() as u32,
            t,
            rtt: rtt.max(200),
            us_per_kb: us_per_kb.max(1),
        }
    }

    /// A segment from the client (`from_client`) or the server, with the current sequence numbers.
    fn seg(&self, from_client: bool, f: Flags, window: u16, payload: &[u8]) -> Vec<u8> {
        if from_client {
            tcp_frame(&self.c, &self.s, self.cseq, self.sseq, f, window, payload)
        } else {
            tcp_frame(&self.s, &self.c, self.sseq, self.cseq, f, window, payload)
        }
    }

    fn advance(&mut self, from_client: bool, n: u32) {
        if from_client {
            self.cseq = self.cseq.wrapping_add(n);
        } else {
            self.sseq = self.sseq.wrapping_add(n);
        }
    }

    /// SYN, SYN-ACK, ACK.
    pub fn open<W: Write>(&mut self, out: &mut PcapOut<W>) {
        out.push(
            self.t,
            self.seg(
                true,
                Flags {
                    syn: true,
                    ack: false,
                    ..FL
                },
                64240,
                &[],
            ),
        );
        self.advance(true, 1);
        self.t += self.rtt / 2;
        out.push(
            self.t,
            self.seg(false, Flags { syn: true, ..FL }, 65160, &[]),
        );
        self.advance(false, 1);
        self.t += self.rtt / 2;
        out.push(self.t, self.seg(true, FL, 502, &[]));
        self.t += 50;
    }

    /// Send `data` from the client (`from_client`) or the server, MSS-segmented and paced, with an ACK
    /// from the receiver every second segment and after the last.
    pub fn send<W: Write>(&mut self, out: &mut PcapOut<W>, from_client: bool, data: &[u8]) {
        let n = data.chunks(MSS).count();
        for (i, chunk) in data.chunks(MSS).enumerate() {
            let last = i + 1 == n;
            out.push(
                self.t,
                self.seg(from_client, Flags { psh: last, ..FL }, 502, chunk),
            );
            self.advance(from_client, chunk.len() as u32);
            self.t += (chunk.len() as i64 * self.us_per_kb / 1000).max(10);
            if i % 2 == 1 || last {
                out.push(self.t + self.rtt / 2, self.seg(!from_client, FL, 502, &[]));
            }
        }
        self.t += self.rtt / 2 + 100;
    }

    /// Wait (idle) for `us`.
    pub fn idle(&mut self, us: i64) {
        self.t += us.max(0);
    }

    /// FIN from the client, FIN-ACK from the server, final ACK.
    pub fn close<W: Write>(&mut self, out: &mut PcapOut<W>) {
        out.push(self.t, self.seg(true, Flags { fin: true, ..FL }, 502, &[]));
        self.advance(true, 1);
        self.t += self.rtt / 2;
        out.push(self.t, self.seg(false, Flags { fin: true, ..FL }, 502, &[]));
        self.advance(false, 1);
        self.t += self.rtt / 2;
        out.push(self.t, self.seg(true, FL, 502, &[]));
    }
}
