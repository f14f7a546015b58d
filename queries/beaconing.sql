-- id: beaconing
-- category: beaconing
-- title: Periodic check-ins (beaconing)
-- description: Events are the client's data bursts (conn.orig_bursts: new connections, requests inside kept-alive
-- description: connections, heartbeats inside long-lived C2 sessions; connections without client data count once at
-- description: their start; DNS excluded), grouped per (source, peer) where peer is the TLS SNI or HTTP Host when known (a C2 that
-- description: rotates addresses stays one group), else dst ip:port. Time is relative to the capture, never to now.
-- description: Gaps come from LAG over each group; gaps under min_gap_s collapse bursts into one check-in. The period
-- description: is the median gap; hit_share is the share of gaps within +-tolerance of it, compared with the 17.4%
-- description: expected of Poisson (random) arrivals as a z-score; multi_share also counts gaps near 2-5 periods
-- description: (missed beats) against the 33.7% Poisson expectation; bounded_share (gaps within 0.2-2 periods, 62.1%
-- description: under Poisson, near 100% for a timer even with heavy jitter) gives a third z, weighted 0.7 as the
-- description: weakest evidence; z is the largest. Also: size regularity
-- description: (MAD/median of bytes per event), coverage of the capture span, and fan-in (how many sources talk to
-- description: the peer). Score: 20 + 8*z (at most 40) + 15*coverage + 10*size regularity + 10 single source
-- description: (-10 two; three or more: -(20 + 12*log2(sources/3)), at most -50, so a fleet-wide agent such as NTP or
-- description: monitoring falls while a C2 shared by a few infected hosts stays high) + 5 for 20+ events, - 2 per
-- description: event under 12 (a short series is weak evidence)
-- description: - 25 for NTP and DHCP (udp/123, 67, 68: clocks and address leases, not channels).
-- severity: critical >= 85, high >= 70, medium >= 50, low >= 35
-- summary: {src_ip} contacted {peer} {events} times with a median period of {period_s:1} s ({hit_share:pct} of gaps within tolerance, {missed_beats} missed beats, z {z:1} vs random; bytes per check-in median {size_median:0}, dispersion {size_dispersion:2}; {coverage:pct} of the capture; peer used by {sources} source(s))
-- param: min_events int = 6
-- param: min_z float = 3.0
-- param: tolerance float = 0.25
-- param: min_gap_s float = 0.5
WITH names AS (
    SELECT uid, max(server_name) AS name FROM tls GROUP BY uid
    UNION ALL
    SELECT uid, max(host) AS name FROM http GROUP BY uid
),
nm AS (SELECT uid, max(name) AS name FROM names GROUP BY uid),
c AS (
    SELECT c.*, nm.name FROM conn c LEFT JOIN nm ON nm.uid = c.uid
    WHERE coalesce(c.service, '') <> 'dns' AND c.proto IN ('tcp', 'udp')
      -- broadcast and multicast cannot carry a session to a controller
      AND NOT cidr_match(c.resp_h, '224.0.0.0/4') AND NOT cidr_match(c.resp_h, 'ff00::/8')
      AND c.resp_h <> '255.255.255.255' AND c.resp_h NOT LIKE '%.255'
),
ev0 AS (
    -- series 1: connection starts, plus further requests inside kept-alive HTTP connections
    SELECT orig_h AS src, resp_h AS dst, resp_p AS dport, proto, name, 'connections' AS series, source,
           CAST(ts AS BIGINT) AS tus, CAST(orig_bytes + resp_bytes AS DOUBLE) AS bytes
    FROM c
    UNION ALL
    SELECT h.orig_h, h.resp_h, h.resp_p, 'tcp', h.host, 'connections', h.source, CAST(h.ts AS BIGINT),
           CAST(h.request_body_len + h.response_body_len AS DOUBLE)
    FROM http h WHERE h.trans_depth > 1
    UNION ALL
    -- series 2: the client's data bursts inside one long-lived session (heartbeats of a persistent C2)
    SELECT src, dst, dport, proto, name, series, source, b AS tus, CAST(bb AS DOUBLE) AS bytes
    FROM (SELECT orig_h AS src, resp_h AS dst, resp_p AS dport, proto, name, 'session ' || uid AS series, source,
                 unnest(orig_bursts) AS b, unnest(orig_burst_bytes) AS bb
          FROM c WHERE cardinality(orig_bursts) >= $min_events) x
),
ev1 AS (
    SELECT src, coalesce(name, dst || ':' || CAST(dport AS VARCHAR)) AS peer, dst, dport, proto, name, series,
           source, to_timestamp_micros(tus) AS ts, tus / 1e6 AS t, bytes
    FROM ev0
),
-- a group is (source, peer, series); the peer's fan-in counts sources over all series
ev AS (SELECT src, peer || '|' || series AS peer, peer AS peer_name, series, source, dst, dport, proto, name, ts, t, bytes FROM ev1),
-- the time span of each capture file: coverage is measured against the files a group's events come
-- from (a dataset may hold unrelated captures; rotated files of one sensor still add up)
file_span AS (SELECT source, min(CAST(ts AS BIGINT)) / 1e6 AS lo, max(CAST(ts AS BIGINT) / 1e6 + duration) AS hi FROM conn GROUP BY source),
group_span AS (
    SELECT e.src, e.peer, min(f.lo) AS c0, max(f.hi) AS c1
    FROM (SELECT DISTINCT src, peer, source FROM ev) e JOIN file_span f ON f.source = e.source
    GROUP BY e.src, e.peer
),
gaps AS (SELECT src, peer, t - lag(t) OVER (PARTITION BY src, peer ORDER BY t) AS gap FROM ev),
g AS (SELECT src, peer, gap FROM gaps WHERE gap IS NOT NULL AND gap >= $min_gap_s),
per AS (SELECT src, peer, median(gap) AS period, count(*) AS n_gaps FROM g GROUP BY src, peer),
gp AS (SELECT g.src, g.peer, g.gap, p.period, p.n_gaps, g.gap / p.period AS r FROM g JOIN per p ON p.src = g.src AND p.peer = g.peer),
hits AS (
    SELECT src, peer, max(period) AS period, max(n_gaps) AS n_gaps,
           avg(CASE WHEN abs(r - 1) <= $tolerance THEN 1.0 ELSE 0.0 END) AS hit_share,
           avg(CASE WHEN round(r) BETWEEN 1 AND 5 AND abs(r - round(r)) <= $tolerance THEN 1.0 ELSE 0.0 END) AS multi_share,
           sum(CASE WHEN round(r) BETWEEN 2 AND 5 AND abs(r - round(r)) <= $tolerance THEN 1 ELSE 0 END) AS missed_beats,
           avg(CASE WHEN r >= 0.2 AND r <= 2.0 THEN 1.0 ELSE 0.0 END) AS bounded_share,
           make_array(
               sum(CASE WHEN r < 0.2 THEN 1 ELSE 0 END), sum(CASE WHEN r >= 0.2 AND r < 0.4 THEN 1 ELSE 0 END),
               sum(CASE WHEN r >= 0.4 AND r < 0.6 THEN 1 ELSE 0 END), sum(CASE WHEN r >= 0.6 AND r < 0.8 THEN 1 ELSE 0 END),
               sum(CASE WHEN r >= 0.8 AND r < 1.0 THEN 1 ELSE 0 END), sum(CASE WHEN r >= 1.0 AND r < 1.2 THEN 1 ELSE 0 END),
               sum(CASE WHEN r >= 1.2 AND r < 1.4 THEN 1 ELSE 0 END), sum(CASE WHEN r >= 1.4 AND r < 1.6 THEN 1 ELSE 0 END),
               sum(CASE WHEN r >= 1.6 AND r < 1.8 THEN 1 ELSE 0 END), sum(CASE WHEN r >= 1.8 THEN 1 ELSE 0 END)
           ) AS interval_histogram
    FROM gp GROUP BY src, peer
),
sz AS (SELECT src, peer, median(bytes) AS size_median FROM ev GROUP BY src, peer),
szmad AS (
    SELECT e.src, e.peer, median(abs(e.bytes - s.size_median)) AS size_mad
    FROM ev e JOIN sz s ON s.src = e.src AND s.peer = e.peer GROUP BY e.src, e.peer
),
info AS (
    SELECT src, peer, max(peer_name) AS peer_name, max(series) AS series, count(*) AS events, min(ts) AS first_seen, max(ts) AS last_seen, min(dst) AS dst,
           count(DISTINCT dst) AS distinct_dsts, min(dport) AS dport, max(name) AS name, max(proto) AS proto,
           min(t) AS t0, max(t) AS t1
    FROM ev GROUP BY src, peer
),
fan AS (SELECT peer_name, count(DISTINCT src) AS sources FROM ev GROUP BY peer_name),
stats AS (
    SELECT i.*, h.period, h.n_gaps, h.hit_share, h.multi_share, h.bounded_share, h.missed_beats, h.interval_histogram,
           s.size_median, m.size_mad / greatest(s.size_median, 1) AS size_dispersion, f.sources,
           (i.t1 - i.t0) / greatest(sp.c1 - sp.c0, 1) AS coverage,
           greatest((h.hit_share - 0.174) / sqrt(0.174 * 0.826 / h.n_gaps),
                    (h.multi_share - 0.337) / sqrt(0.337 * 0.663 / h.n_gaps),
                    0.7 * (h.bounded_share - 0.621) / sqrt(0.621 * 0.379 / h.n_gaps)) AS z
    FROM info i
    JOIN hits h ON h.src = i.src AND h.peer = i.peer
    JOIN sz s ON s.src = i.src AND s.peer = i.peer
    JOIN szmad m ON m.src = i.src AND m.peer = i.peer
    JOIN fan f ON f.peer_name = i.peer_name
    JOIN group_span sp ON sp.src = i.src AND sp.peer = i.peer
),
scored AS (
    SELECT src AS src_ip, dst AS dst_ip, dport AS dst_port, name AS domain, peer_name AS peer, series, proto,
           first_seen, last_seen, events, distinct_dsts, round(period, 2) AS period_s, n_gaps,
           round(hit_share, 3) AS hit_share, round(multi_share, 3) AS multi_share,
           round(bounded_share, 3) AS bounded_share, missed_beats, round(z, 2) AS z, size_median,
           round(size_dispersion, 3) AS size_dispersion, round(least(1.0, coverage), 3) AS coverage, sources, interval_histogram,
           least(100, greatest(0,
               20 + least(40, 8 * z)
               + 15 * least(1.0, coverage)
               + 10 * greatest(0, 1 - size_dispersion)
               + CASE WHEN sources = 1 THEN 10 WHEN sources = 2 THEN -10 ELSE -least(50, 20 + 12 * log2(sources / 3.0)) END
               + CASE WHEN events >= 20 THEN 5 ELSE 0 END
               - 2 * greatest(0, 12 - events)
               - CASE WHEN proto = 'udp' AND dport IN (123, 67, 68) THEN 25 ELSE 0 END
           )) AS score
    FROM stats
    WHERE events >= $min_events AND z >= $min_z
),
best AS (SELECT *, row_number() OVER (PARTITION BY src_ip, peer ORDER BY score DESC, series) AS rank FROM scored)
SELECT src_ip, dst_ip, dst_port, domain, peer, series, proto, first_seen, last_seen, events, distinct_dsts, period_s,
       n_gaps, hit_share, multi_share, bounded_share, missed_beats, z, size_median, size_dispersion, coverage, sources,
       interval_histogram, score
FROM best WHERE rank = 1
ORDER BY score DESC, src_ip, peer
