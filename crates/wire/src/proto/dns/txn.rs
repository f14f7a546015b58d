//! Transaction state: queries waiting for their response (bounded), paired by transaction id and
//! question, each pair (or lone message) emitted as one `dns` record.

use super::render::{qclass_name, qtype_name, rcode_name};
use super::wire::{Msg, parse_msg};
use crate::proto::ConnCtx;
use crate::record::{DnsRecord, Record, RecordSink};

/// One transaction in progress.
#[derive(Debug, Clone)]
struct Txn {
    ts: i64,
    q: Option<Msg>,
    r: Option<Msg>,
    r_ts: i64,
}

/// Pending queries kept per flow before the oldest is written unanswered.
const MAX_PENDING: usize = 256;

/// One DNS message as carried: a UDP datagram's payload (with its frame number, and whether the
/// capture cut it short) or one length-prefixed message of a TCP stream.
pub(super) struct Wire<'a> {
    pub ts: i64,
    pub frame: Option<u64>,
    pub bytes: &'a [u8],
    pub truncated: bool,
}

/// Per-flow DNS state shared by UDP and TCP.
#[derive(Default)]
pub struct DnsState {
    pending: Vec<Txn>,
    pub rows: u64,
}

impl DnsState {
    pub(super) fn message(
        &mut self,
        msg: Wire<'_>,
        proto: &'static str,
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) {
        let Wire {
            ts,
            frame,
            bytes: b,
            truncated,
        } = msg;
        let Some(mut m) = parse_msg(b, true) else {
            out.weird(
                ts,
                Some(&ctx.uid),
                "dns_message_too_short",
                &format!("{} bytes", b.len()),
                frame,
            );
            return;
        };
        if truncated && m.weird.is_none() {
            m.weird = Some((
                "dns_truncated_message",
                format!("{} bytes captured of a longer datagram", b.len()),
            ));
        }
        if let Some((w, addl)) = &m.weird {
            out.weird(
                ts,
                Some(&ctx.uid),
                w,
                &crate::proto::escape_bytes(addl.as_bytes()),
                frame,
            );
        }
        if !m.qr {
            if self.pending.len() >= MAX_PENDING {
                let t = self.pending.remove(0);
                self.emit(t, proto, ctx, out);
            }
            self.pending.push(Txn {
                ts,
                q: Some(m),
                r: None,
                r_ts: 0,
            });
        } else {
            let qn = m.qname.as_ref().map(|n| n.text.as_str());
            let found = self.pending.iter().position(|t| {
                t.q.as_ref().is_some_and(|q| {
                    q.id == m.id
                        && q.qname.as_ref().map(|n| n.text.as_str()) == qn
                        && q.qtype == m.qtype
                })
            });
            match found {
                Some(i) => {
                    let mut t = self.pending.remove(i);
                    t.r = Some(m);
                    t.r_ts = ts;
                    self.emit(t, proto, ctx, out);
                }
                None => self.emit(
                    Txn {
                        ts,
                        q: None,
                        r: Some(m),
                        r_ts: ts,
                    },
                    proto,
                    ctx,
                    out,
                ),
            }
        }
    }

    fn emit(&mut self, t: Txn, proto: &'static str, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        self.rows += 1;
        let Some(main) = t.q.as_ref().or(t.r.as_ref()) else {
            return;
        };
        let qn = main.qname.as_ref();
        let has_q = qn.is_some();
        let r = t.r.as_ref();
        let edns = t.q.as_ref().and_then(|q| q.edns.as_ref());
        let qclass = has_q.then(|| qclass_name(main.qclass));
        let qtype = has_q.then(|| qtype_name(main.qtype));
        let damage =
            t.q.as_ref()
                .and_then(|q| q.weird.as_ref())
                .or_else(|| r.and_then(|r| r.weird.as_ref()))
                .map(|w| w.0);
        out.record(Record::Dns(DnsRecord {
            ts: t.ts,
            uid: &ctx.uid,
            orig_h: ctx.orig_h,
            orig_p: ctx.orig_p,
            resp_h: ctx.resp_h,
            resp_p: ctx.resp_p,
            proto,
            trans_id: main.id,
            rtt: (t.q.is_some() && t.r.is_some()).then(|| (t.r_ts - t.ts) as f64 / 1e6),
            query: qn.map(|n| n.text.as_str()),
            qclass: has_q.then_some(main.qclass),
            qclass_name: qclass.as_deref(),
            qtype: has_q.then_some(main.qtype),
            qtype_name: qtype.as_deref(),
            rcode: r.map(|r| r.rcode),
            rcode_name: r.map(|r| rcode_name(r.rcode)),
            AA: r.map(|r| r.aa),
            TC: r.map(|r| r.tc),
            RD: main.rd,
            RA: r.map(|r| r.ra),
            Z: main.z,
            answers: r.map(|r| r.answers.as_slice()),
            TTLs: r.map(|r| r.ttls.as_slice()),
            answer_types: r.map(|r| r.answer_types.as_slice()),
            rejected: r.map(|r| r.rcode != 0),
            query_len: qn.map(|n| n.len),
            label_count: qn.map(|n| n.labels),
            max_label_len: qn.map(|n| n.max_label),
            answer_count: r.map(|r| r.counts[1]),
            authority_count: r.map(|r| r.counts[2]),
            additional_count: r.map(|r| r.counts[3]),
            request_bytes: t.q.as_ref().map(|q| q.size),
            response_bytes: r.map(|r| r.size),
            edns_udp_size: edns.map(|e| e.udp_size),
            edns_do: edns.map(|e| e.do_bit),
            edns_client_subnet: edns.and_then(|e| e.client_subnet.as_deref()),
            has_query: t.q.is_some(),
            has_response: t.r.is_some(),
            damage,
            source: &ctx.source,
            community_id: &ctx.community_id,
        }));
    }

    pub(super) fn finish(&mut self, proto: &'static str, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        for t in std::mem::take(&mut self.pending) {
            self.emit(t, proto, ctx, out);
        }
    }
}
