//! Sharded ingest (`--threads N`): the reading thread reads and decodes (IP fragments are whole
//! datagrams once decoded) and hands each packet to the worker that owns its flow, chosen by a hash
//! of the flow key ([`wirehunt_wire::flow::shard_of`]): both directions of a connection reach the same
//! worker. Each worker owns a flow table, its analyzers and its own part files; the manifest is
//! merged by the reading thread.
//!
//! The tables hold the same rows as one thread. What makes that hold:
//! - uids come from the flow's first packet (input ordinal, frame, time, key), not from the order
//!   of creation ([`wirehunt_wire::flow`]);
//! - every packet carries the reading thread's clock (the latest time seen), and a worker advances
//!   its flow table to it before the packet: a flow idle past its timeout ends exactly where one
//!   thread would end it, even when the packets that moved the clock went to another worker;
//! - decisions about the whole table (an input from another time ends every open flow) are taken by
//!   the reading thread and sent to every worker in packet order;
//! - weird rows are chosen by time within each input (the earliest per name,
//!   [`Tables::weird`]): workers hand theirs over at the end of each input and the reading thread
//!   keeps the earliest of all.
//!
//! What can differ, only under the memory caps: the concurrent-flow cap and the out-of-order byte cap
//! are split between workers (each gets its share), so which flow is evicted or which stream skips
//! its holes when a cap is hit depends on the shard; the body decoder caps are process-wide and first
//! come, first served.

use crate::table::writer::{DatasetWriter, Tables, WeirdRow, WriteError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;
use wirehunt_wire::decode::Packet;
use wirehunt_wire::flow::{FlowConfig, FlowCounters, FlowTable};

/// Packets per batch, payload bytes per batch, and batches in flight per worker (the memory the
/// hand-over holds: workers × depth × bytes).
const BATCH_PACKETS: usize = 1024;
const BATCH_BYTES: usize = 512 << 10;
const DEPTH: usize = 8;

/// A packet without its payload (that lies in the batch's buffer) plus the clock when it was read.
struct Held {
    pkt: Packet<'static>,
    start: usize,
    len: usize,
    clock: i64,
}

#[derive(Default)]
struct Batch {
    pkts: Vec<Held>,
    data: Vec<u8>,
}

/// A worker's weird rows and counts of the input that just ended.
type Weirds = (Vec<(String, WeirdRow)>, BTreeMap<String, u64>);

enum Msg {
    /// The next packets are from input `ordinal` named `source`.
    Input {
        ordinal: u64,
        source: Arc<str>,
    },
    Packets(Batch),
    /// End every open flow; the clock is set back to the time given (an input from another time).
    EndAll(i64),
    /// The input ended with the clock at this time: advance to it, hand over the weirds.
    EndInput(i64, Sender<Weirds>),
    /// The last input ended: end every flow, hand over the weirds.
    Finish(Sender<Weirds>),
}

/// What a worker leaves when its channel closes.
struct Done {
    rows: HashMap<&'static str, u64>,
    counters: FlowCounters,
}

pub(crate) struct Shards {
    senders: Vec<SyncSender<Msg>>,
    workers: Vec<JoinHandle<Result<Done, WriteError>>>,
    batches: Vec<Batch>,
    /// Emptied batches back from the workers, for reuse.
    spare: Receiver<Batch>,
    cfg: FlowConfig,
    clock: i64,
    input_start: bool,
    /// A worker stopped taking messages (it can only have failed: its error comes with `finish`).
    broken: bool,
}

/// Counters of the whole table from the shards' (the maxima are summed: an upper bound).
fn merge(into: &mut FlowCounters, c: &FlowCounters) {
    into.flows += c.flows;
    into.expired += c.expired;
    into.evicted += c.evicted;
    into.max_concurrent += c.max_concurrent;
    into.reassembly_cap_hits += c.reassembly_cap_hits;
    into.max_buffered_bytes += c.max_buffered_bytes;
}

impl Shards {
    /// Start `n` workers writing part files `part-{prefix}s{k}-NNNNN` into `dir`.
    pub fn start(
        n: usize,
        cfg: FlowConfig,
        dir: &std::path::Path,
        prefix: &str,
        partition: crate::table::partition::Partition,
        extract: Option<Arc<wirehunt_wire::proto::files::Extract>>,
    ) -> Result<Shards, WriteError> {
        let n = n.max(1);
        // each worker gets its share of the memory caps
        let share = FlowConfig {
            max_flows: (cfg.max_flows / n).max(1),
            max_total_buffer: (cfg.max_total_buffer / n).max(cfg.max_stream_buffer),
            ..cfg
        };
        let (give_back, spare) = channel();
        let mut senders = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for k in 0..n {
            let mut writer = DatasetWriter::create(dir)?;
            writer.part_prefix = format!("{prefix}s{k}-");
            writer.empty_parts = false;
            writer.partition = partition;
            let mut tables = Tables::new(Some(writer));
            tables.extract = extract.clone();
            let (tx, rx) = sync_channel::<Msg>(DEPTH);
            let give_back = give_back.clone();
            let h = std::thread::Builder::new()
                .name(format!("wirehunt-flow-{k}"))
                .spawn(move || work(rx, share, tables, give_back))
                .map_err(|e| WriteError::Io {
                    path: "ingest worker".into(),
                    source: e,
                })?;
            senders.push(tx);
            workers.push(h);
        }
        Ok(Shards {
            senders,
            workers,
            batches: (0..n).map(|_| Batch::default()).collect(),
            spare,
            cfg,
            clock: i64::MIN,
            input_start: false,
            broken: false,
        })
    }

    fn send(&mut self, k: usize, m: Msg) {
        if let Some(tx) = self.senders.get(k)
            && tx.send(m).is_err()
        {
            self.broken = true;
        }
    }

    fn broadcast(&mut self, m: impl Fn() -> Msg) {
        for k in 0..self.senders.len() {
            self.send(k, m());
        }
    }

    /// Send every batch holding packets.
    fn flush(&mut self) {
        for k in 0..self.batches.len() {
            self.flush_one(k);
        }
    }

    fn flush_one(&mut self, k: usize) {
        let fresh = self.spare.try_recv().unwrap_or_default();
        let Some(b) = self.batches.get_mut(k) else {
            return;
        };
        if b.pkts.is_empty() {
            return;
        }
        let full = std::mem::replace(b, fresh);
        self.send(k, Msg::Packets(full));
    }

    /// The next packets are from input `ordinal` of the dataset.
    pub fn next_input(&mut self, ordinal: u64, source: &Arc<str>) {
        self.flush();
        self.input_start = true;
        self.broadcast(|| Msg::Input {
            ordinal,
            source: source.clone(),
        });
    }

    /// Hand one decoded packet to the worker owning its flow.
    pub fn packet(&mut self, p: &Packet<'_>) {
        if self.input_start {
            self.input_start = false;
            if self.cfg.from_another_time(self.clock, p.ts) {
                self.flush();
                let ts = p.ts;
                self.broadcast(|| Msg::EndAll(ts));
                self.clock = ts;
            }
        }
        self.clock = self.clock.max(p.ts);
        let k = wirehunt_wire::flow::shard_of(p, self.batches.len());
        let Some(b) = self.batches.get_mut(k) else {
            return;
        };
        let start = b.data.len();
        b.data.extend_from_slice(p.payload);
        b.pkts.push(Held {
            pkt: Packet {
                ts: p.ts,
                src: p.src,
                dst: p.dst,
                proto: p.proto,
                sport: p.sport,
                dport: p.dport,
                tcp: p.tcp,
                payload: &[],
                payload_len: p.payload_len,
                ip_bytes: p.ip_bytes,
                truncated: p.truncated,
                vlan: p.vlan,
                frame: p.frame,
            },
            start,
            len: p.payload.len(),
            clock: self.clock,
        });
        if b.pkts.len() >= BATCH_PACKETS || b.data.len() >= BATCH_BYTES {
            self.flush_one(k);
        }
    }

    /// Ask every worker for its weirds of the input (after `m`), and hand them to `tables`.
    fn collect(&mut self, m: impl Fn(Sender<Weirds>) -> Msg, tables: &mut Tables) {
        self.flush();
        let (tx, rx) = channel();
        self.broadcast(|| m(tx.clone()));
        drop(tx);
        // one answer per live worker; a failed one has dropped its sender
        for (rows, counts) in rx.iter() {
            tables.put_weirds(rows, counts);
        }
    }

    /// The current input ended: the workers catch up with the clock and hand over their weirds.
    pub fn end_input(&mut self, tables: &mut Tables) {
        let clock = self.clock;
        self.collect(|tx| Msg::EndInput(clock, tx), tables);
    }

    /// The last input ended: every flow ends and the workers close their part files. Returns the
    /// rows the workers wrote and the merged flow counters.
    pub fn finish(
        mut self,
        tables: &mut Tables,
    ) -> Result<(HashMap<&'static str, u64>, FlowCounters), WriteError> {
        self.collect(Msg::Finish, tables);
        self.senders.clear();
        let mut rows: HashMap<&'static str, u64> = HashMap::new();
        let mut counters = FlowCounters::default();
        let mut first_err = None;
        for h in self.workers.drain(..) {
            match h.join() {
                Ok(Ok(d)) => {
                    for (t, n) in d.rows {
                        *rows.entry(t).or_insert(0) += n;
                    }
                    merge(&mut counters, &d.counters);
                }
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(WriteError::Io {
                        path: "ingest worker".into(),
                        source: std::io::Error::other("an ingest worker thread failed"),
                    });
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        if self.broken {
            return Err(WriteError::Io {
                path: "ingest worker".into(),
                source: std::io::Error::other("an ingest worker stopped early"),
            });
        }
        Ok((rows, counters))
    }
}

/// A worker: its flow table and tables, fed in packet order.
fn work(
    rx: Receiver<Msg>,
    cfg: FlowConfig,
    mut tables: Tables,
    give_back: Sender<Batch>,
) -> Result<Done, WriteError> {
    let mut flows = FlowTable::new(cfg);
    let mut source: Arc<str> = Arc::from("");
    for m in rx.iter() {
        match m {
            Msg::Input { ordinal, source: s } => {
                flows.set_input(ordinal);
                tables.source = s.clone();
                source = s;
            }
            Msg::Packets(mut b) => {
                for h in &b.pkts {
                    let payload = b.data.get(h.start..h.start + h.len).unwrap_or(&[]);
                    flows.advance(h.clock, &mut tables);
                    flows.packet(&Packet { payload, ..h.pkt }, &source, &mut tables);
                }
                b.pkts.clear();
                b.data.clear();
                let _ = give_back.send(b);
            }
            Msg::EndAll(ts) => flows.end_all(ts, &mut tables),
            Msg::EndInput(clock, reply) => {
                flows.advance(clock, &mut tables);
                let _ = reply.send(tables.take_weirds());
            }
            Msg::Finish(reply) => {
                flows.finish(&mut tables);
                let _ = reply.send(tables.take_weirds());
            }
        }
    }
    let counters = flows.counters;
    let rows = tables.finish()?;
    Ok(Done { rows, counters })
}
