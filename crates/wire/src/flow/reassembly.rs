//! One direction of a TCP byte stream: out-of-order segments, retransmissions, overlaps (first data
//! wins), sequence wrap-around (wrapping arithmetic only) and gaps, under a byte cap.
//!
//! The reassembler hands the consumer [`Chunk`]s in stream order: in-order segments are passed through
//! without copying; only out-of-order data is copied into the pending map. Once the consumer needs no
//! more bytes, [`Reassembler::stop_data`] switches to counting: ranges are still tracked (for
//! `missed_bytes` and the byte counts) but no bytes are kept.
//!
//! Offsets are u64 stream positions (0 = first byte after the SYN, or the first byte seen when the
//! SYN was missed); a 32-bit sequence number is mapped to the offset closest to the next expected one.

use std::collections::BTreeMap;

/// Bookkeeping charged per out-of-order segment against the stream's cap, on top of its bytes: a
/// map entry costs memory even when no bytes are kept (after [`Reassembler::stop_data`], or for a
/// segment cut to its headers), so a flood of tiny or byte-less segments after a hole reaches the
/// cap and is skipped like any other instead of growing without bound.
pub const ENTRY_COST: usize = 64;

/// A segment starting more than this past the highest offset seen is taken for a forged or corrupt
/// sequence number (receive windows in practice are a few MiB; 16 MiB is several times the Linux
/// default maximum): it is counted in `seq_jumps` (a `tcp_seq_jump` weird row), never as volume,
/// gap or retransmission. A capture that really lost that much of a stream is recognised by what
/// follows: [`RESYNC_RUN`] segments continuing each other past the jump resynchronise the stream
/// (the skipped range then counts as missed bytes, as any hole).
pub const MAX_SEQ_JUMP: u64 = 16 << 20;

/// Delivered chunks remembered for conflicting-retransmission checks.
pub const RECENT: usize = 8;

/// Bytes of a delivered chunk that its fingerprint covers (with its length): the start of a segment is where an
/// insertion attack changes meaning (a request line, a header), and hashing every body byte of every
/// analysed stream would cost ingest speed on bulk transfers.
pub const FINGERPRINT_BYTES: usize = 64;

fn fingerprint(b: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(b.get(..FINGERPRINT_BYTES).unwrap_or(b));
    h.write_usize(b.len());
    h.finish()
}

/// Contiguous segments past a jump that make it a real continuation of the stream.
pub const RESYNC_RUN: u32 = 3;

/// What the consumer receives, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    Data(&'a [u8]),
    /// `n` bytes that will never be seen.
    Gap(u64),
}

#[derive(Debug)]
struct Pending {
    /// Claimed length of the segment (>= data.len(); the tail was cut by the snap length).
    len: u64,
    data: Vec<u8>,
}

#[derive(Debug)]
pub struct Reassembler {
    base: Option<u32>,
    next: u64,
    max_end: u64,
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    keep_data: bool,
    pub missed: u64,
    pub retransmitted: u64,
    pub conflicts: u64,
    pub cap_hits: u64,
    /// Segments dropped as beyond any window ([`MAX_SEQ_JUMP`]), and their claimed bytes.
    pub seq_jumps: u64,
    pub seq_jump_bytes: u64,
    /// End offset of the last segment dropped as a jump, and how many in a row continued it.
    jump_end: i64,
    jump_run: u32,
    /// The last [`RECENT`] chunks delivered (offset, length, hash), while bytes are kept: a
    /// retransmission of one of them that carries other bytes (`GET /good` resent as `GET /evil`,
    /// an insertion attack on whoever reads the second copy) is a conflict.
    recent: [(u64, u32, u64); RECENT],
    recent_at: usize,
    /// Payload bytes of the segments actually seen (their headers' lengths, so a capture snapped to
    /// headers still counts them), new data only: no retransmission, and nothing inferred from
    /// sequence numbers - one forged segment adds at most its own length. What volume detectors count.
    pub seen: u64,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Reassembler {
    pub const fn new() -> Self {
        Reassembler {
            base: None,
            next: 0,
            max_end: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            keep_data: true,
            missed: 0,
            retransmitted: 0,
            conflicts: 0,
            cap_hits: 0,
            seq_jumps: 0,
            seq_jump_bytes: 0,
            jump_end: -1,
            jump_run: 0,
            recent: [(u64::MAX, 0, 0); RECENT],
            recent_at: 0,
            seen: 0,
        }
    }

    /// The SYN's sequence number: stream offset 0 is `isn + 1`.
    pub fn syn(&mut self, isn: u32) {
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    /// A FIN at `seq`: fixes the stream's origin when neither a SYN nor data was seen.
    pub fn fin(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(seq);
        }
    }

    /// Stop keeping bytes; only ranges are tracked from now on.
    pub fn stop_data(&mut self) {
        self.keep_data = false;
        for p in self.pending.values_mut() {
            p.data = Vec::new();
        }
        self.pending_bytes = self.pending.len() * ENTRY_COST;
    }

    pub fn wants_data(&self) -> bool {
        self.keep_data
    }

    /// Highest stream offset seen (payload bytes spanned, gaps included).
    pub fn span(&self) -> u64 {
        self.max_end
    }

    /// Bytes currently buffered out of order.
    pub fn buffered(&self) -> usize {
        self.pending_bytes
    }

    fn offset_of(&self, seq: u32) -> i64 {
        let base = self.base.unwrap_or(seq);
        let rel = seq.wrapping_sub(base);
        let diff = rel.wrapping_sub(self.next as u32) as i32 as i64;
        self.next as i64 + diff
    }

    /// Add a segment: `data` is what was captured, `claimed` the length the headers say.
    /// `cap` bounds the bytes held out of order for this stream; `out` receives in-order chunks.
    pub fn segment(
        &mut self,
        seq: u32,
        data: &[u8],
        claimed: u32,
        cap: usize,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let claimed = (claimed as u64).max(data.len() as u64);
        if claimed == 0 {
            return;
        }
        if self.base.is_none() {
            self.base = Some(seq);
        }
        let off = self.offset_of(seq);
        let end = off + claimed as i64;
        // beyond any window past what was seen - or so far behind the stream that no retransmission
        // could be it (a jump of more than 2 GiB wraps to "behind" in 32-bit sequence space): a
        // forged jump, not data, not a hole, not a retransmission
        let ahead = off > self.max_end.max(self.next) as i64 + MAX_SEQ_JUMP as i64;
        let behind = end < self.next as i64 - MAX_SEQ_JUMP as i64;
        if ahead || behind {
            self.jump_run = if off == self.jump_end {
                self.jump_run + 1
            } else {
                1
            };
            self.jump_end = end;
            if self.jump_run < RESYNC_RUN {
                self.seq_jumps += 1;
                self.seq_jump_bytes += claimed;
                return;
            }
            // a run of segments continuing each other: the capture lost part of a real stream
            self.jump_run = 0;
            self.jump_end = -1;
        }
        if end <= self.next as i64 {
            self.retransmitted += claimed;
            self.check_resent(off, data);
            return;
        }
        if end as u64 > self.max_end {
            self.max_end = end as u64;
        }
        // trim what was already delivered (first data wins)
        let (off, data, claimed) = if off < self.next as i64 {
            let skip = (self.next as i64 - off) as u64;
            self.check_resent(
                off,
                data.get(..(skip as usize).min(data.len())).unwrap_or(&[]),
            );
            self.retransmitted += skip;
            let d = crate::bytes::tail(data, skip as usize);
            (self.next, d, claimed - skip)
        } else {
            (off as u64, data, claimed)
        };
        if off == self.next {
            self.seen += claimed;
            self.deliver(data, claimed, out);
            self.drain(out);
        } else {
            match self.pending.get(&off) {
                Some(p) => {
                    // duplicate of a pending segment: keep the first; note conflicting bytes
                    let n = p.data.len().min(data.len());
                    if self.keep_data && p.data.get(..n) != data.get(..n) {
                        self.conflicts += 1;
                    }
                    if claimed > p.len {
                        // the longer tail is new; store it as its own segment
                        let extra_off = off + p.len;
                        let cut = (p.len as usize).min(data.len());
                        let tail = crate::bytes::tail(data, cut);
                        let tail_len = claimed - p.len;
                        self.insert(extra_off, tail, tail_len);
                    }
                }
                None => {
                    self.seen += claimed;
                    self.check_pending_overlap(off, data);
                    self.insert(off, data, claimed)
                }
            }
            if self.pending_bytes > cap {
                self.cap_hits += 1;
                self.skip_to_first_pending(out);
            }
        }
    }

    fn insert(&mut self, off: u64, data: &[u8], claimed: u64) {
        let data = if self.keep_data {
            data.to_vec()
        } else {
            Vec::new()
        };
        self.pending_bytes += data.len() + ENTRY_COST;
        self.pending.insert(off, Pending { len: claimed, data });
    }

    /// A retransmission starting at `off` with `data` (the part already delivered): compare it
    /// with the delivered chunk it repeats, when that chunk is still remembered.
    fn check_resent(&mut self, off: i64, data: &[u8]) {
        if !self.keep_data || data.is_empty() || off < 0 {
            return;
        }
        let off = off as u64;
        if let Some(&(_, len, h)) = self
            .recent
            .iter()
            .find(|(o, l, _)| *o == off && *l as usize == data.len())
            && len > 0
            && fingerprint(data) != h
        {
            self.conflicts += 1;
        }
    }

    /// A new out-of-order segment that partly overlaps held ones at other offsets: the bytes in
    /// the overlap must agree.
    fn check_pending_overlap(&mut self, off: u64, data: &[u8]) {
        if !self.keep_data || data.is_empty() {
            return;
        }
        let end = off + data.len() as u64;
        let before = self.pending.range(..off).next_back().map(|(o, p)| (*o, p));
        let after = self.pending.range(off..end);
        let conflict = before
            .into_iter()
            .chain(after.map(|(o, p)| (*o, p)))
            .any(|(po, p)| {
                let (a, b) = (po.max(off), (po + p.data.len() as u64).min(end));
                a < b
                    && match (
                        data.get((a - off) as usize..(b - off) as usize),
                        p.data.get((a - po) as usize..(b - po) as usize),
                    ) {
                        (Some(mine), Some(theirs)) => mine != theirs,
                        _ => false,
                    }
            });
        if conflict {
            self.conflicts += 1;
        }
    }

    fn deliver(&mut self, data: &[u8], claimed: u64, out: &mut dyn FnMut(Chunk<'_>)) {
        if self.keep_data && !data.is_empty() {
            if let Some(r) = self.recent.get_mut(self.recent_at) {
                *r = (self.next, data.len() as u32, fingerprint(data));
            }
            self.recent_at = (self.recent_at + 1) % RECENT;
            out(Chunk::Data(data));
        }
        let cut = claimed - data.len() as u64;
        if cut > 0 {
            self.missed += cut;
            if self.keep_data {
                out(Chunk::Gap(cut));
            }
        }
        self.next += claimed;
    }

    fn drain(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let off = *entry.key();
            if off > self.next {
                break;
            }
            let p = entry.remove();
            self.pending_bytes = self.pending_bytes.saturating_sub(p.data.len() + ENTRY_COST);
            let end = off + p.len;
            if end <= self.next {
                self.retransmitted += p.len;
                continue;
            }
            let skip = self.next - off;
            let d = crate::bytes::tail(&p.data, skip as usize);
            self.deliver(d, p.len - skip, out);
        }
    }

    fn skip_to_first_pending(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        if let Some((&off, _)) = self.pending.first_key_value() {
            if off > self.next {
                let gap = off - self.next;
                self.missed += gap;
                if self.keep_data {
                    out(Chunk::Gap(gap));
                }
                self.next = off;
            }
            self.drain(out);
        }
    }

    /// End of stream: deliver everything still pending, skipping holes (each hole is a gap).
    pub fn flush(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while !self.pending.is_empty() {
            self.skip_to_first_pending(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(segs: &[(u32, Vec<u8>)], isn: Option<u32>, cap: usize) -> (Vec<u8>, u64, Reassembler) {
        let mut r = Reassembler::new();
        if let Some(i) = isn {
            r.syn(i);
        }
        let mut got = Vec::new();
        let mut gaps = 0;
        for (seq, d) in segs {
            r.segment(*seq, d, d.len() as u32, cap, &mut |c| match c {
                Chunk::Data(b) => got.extend_from_slice(b),
                Chunk::Gap(n) => gaps += n,
            });
        }
        r.flush(&mut |c| match c {
            Chunk::Data(b) => got.extend_from_slice(b),
            Chunk::Gap(n) => gaps += n,
        });
        (got, gaps, r)
    }

    #[test]
    fn in_order_out_of_order_and_retransmission() {
        let isn = 1000u32;
        let segs = vec![
            (1001, b"hello ".to_vec()),
            (1013, b"!".to_vec()),
            (1007, b"world ".to_vec()),
            (1001, b"HELLO ".to_vec()),
        ];
        let (got, gaps, r) = run(&segs, Some(isn), 1 << 20);
        assert_eq!(got, b"hello world !");
        assert_eq!(gaps, 0);
        assert_eq!(r.retransmitted, 6);
        assert_eq!(r.span(), 13);
    }

    #[test]
    fn sequence_wraparound() {
        let isn = u32::MAX - 3;
        let segs = vec![
            (u32::MAX - 2, b"abc".to_vec()),
            (0, b"def".to_vec()),
            (3, b"ghi".to_vec()),
        ];
        let (got, _, _) = run(&segs, Some(isn), 1 << 20);
        assert_eq!(got, b"abcdefghi");
    }

    #[test]
    fn gap_is_reported_exactly_and_does_not_stall() {
        let segs = vec![(1, b"aaaa".to_vec()), (9, b"cccc".to_vec())];
        let (got, gaps, r) = run(&segs, Some(0), 1 << 20);
        assert_eq!(got, b"aaaacccc");
        assert_eq!(gaps, 4);
        assert_eq!(r.missed, 4);
    }

    #[test]
    fn cap_forces_a_gap() {
        let mut segs = vec![(1, b"a".to_vec())];
        for i in 0..10 {
            segs.push((100 + i * 10, vec![b'x'; 10]));
        }
        let mut r = Reassembler::new();
        r.syn(0);
        let mut gaps = 0;
        for (s, d) in &segs {
            r.segment(*s, d, d.len() as u32, 25, &mut |c| {
                if let Chunk::Gap(n) = c {
                    gaps += n
                }
            });
            assert!(r.buffered() <= 25 + 10);
        }
        assert!(r.cap_hits > 0);
        assert_eq!(gaps, 98);
    }

    #[test]
    fn snaplen_cut_segment_becomes_a_gap() {
        let mut r = Reassembler::new();
        r.syn(0);
        let mut got = Vec::new();
        let mut gaps = 0;
        r.segment(1, b"abcd", 10, 1 << 20, &mut |c| match c {
            Chunk::Data(b) => got.extend_from_slice(b),
            Chunk::Gap(n) => gaps += n,
        });
        r.segment(11, b"efgh", 4, 1 << 20, &mut |c| match c {
            Chunk::Data(b) => got.extend_from_slice(b),
            Chunk::Gap(n) => gaps += n,
        });
        assert_eq!(got, b"abcdefgh");
        assert_eq!(gaps, 6);
        assert_eq!(r.span(), 14);
    }

    #[test]
    fn conflicting_duplicate_is_counted_first_wins() {
        let segs = vec![
            (1, b"aa".to_vec()),
            (5, b"cc".to_vec()),
            (5, b"XX".to_vec()),
            (3, b"bb".to_vec()),
        ];
        let (got, _, r) = run(&segs, Some(0), 1 << 20);
        assert_eq!(got, b"aabbcc");
        assert_eq!(r.conflicts, 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Random segmentation, reordering and duplication reassemble to the original stream.
        #[test]
        fn random_segmentation_reassembles(
            data in proptest::collection::vec(any::<u8>(), 1..3000),
            cuts in proptest::collection::vec(1usize..200, 1..60),
            isn in any::<u32>(),
            order in proptest::collection::vec(any::<u32>(), 0..80),
            dups in proptest::collection::vec(any::<u16>(), 0..20),
        ) {
            let mut segs = Vec::new();
            let mut pos = 0usize;
            let mut i = 0;
            while pos < data.len() {
                let l = cuts[i % cuts.len()].min(data.len() - pos);
                segs.push((isn.wrapping_add(1).wrapping_add(pos as u32), data[pos..pos + l].to_vec()));
                pos += l;
                i += 1;
            }
            for d in &dups {
                let k = *d as usize % segs.len();
                let s = segs[k].clone();
                segs.push(s);
            }
            // shuffle deterministically by the `order` keys, but keep the first segment first
            // so the stream starts where the SYN said (reordering across the start is still exercised
            // for everything after it)
            let n = segs.len();
            for (j, k) in order.iter().enumerate() {
                let a = 1 + j % (n.max(2) - 1);
                let b = 1 + (*k as usize) % (n.max(2) - 1);
                if a < n && b < n { segs.swap(a, b); }
            }
            let (got, gaps, _) = run(&segs, Some(isn), 1 << 24);
            prop_assert_eq!(gaps, 0);
            prop_assert_eq!(got, data);
        }

        /// Dropping segments: the gaps reported equal exactly the bytes no surviving segment covers.
        #[test]
        fn gaps_are_exact(
            data in proptest::collection::vec(any::<u8>(), 1..2000),
            cuts in proptest::collection::vec(1usize..100, 1..30),
            drop in proptest::collection::vec(any::<bool>(), 1..50),
        ) {
            let mut segs = Vec::new();
            let mut covered = vec![false; data.len()];
            let mut pos = 0usize;
            let mut i = 0;
            let mut last_kept_end = 0;
            while pos < data.len() {
                let l = cuts[i % cuts.len()].min(data.len() - pos);
                let dropped = drop[i % drop.len()] && pos > 0;
                if !dropped {
                    segs.push((1 + pos as u32, data[pos..pos + l].to_vec()));
                    for c in covered.iter_mut().skip(pos).take(l) { *c = true; }
                    last_kept_end = pos + l;
                }
                pos += l;
                i += 1;
            }
            let expected_missing = covered[..last_kept_end].iter().filter(|c| !**c).count() as u64;
            let expected: Vec<u8> = data[..last_kept_end].iter().zip(&covered).filter(|(_, c)| **c).map(|(b, _)| *b).collect();
            let (got, gaps, r) = run(&segs, Some(0), 1 << 24);
            prop_assert_eq!(gaps, expected_missing);
            prop_assert_eq!(r.missed, expected_missing);
            prop_assert_eq!(got, expected);
        }
    }
}
