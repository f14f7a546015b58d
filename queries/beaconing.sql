-- id: beaconing
-- category: beaconing
-- title: Periodic check-ins (beaconing)
-- description: Events are connection starts (conn, DNS excluded) plus further HTTP requests inside kept-alive
-- description: connections, grouped per (source, peer) where peer is the TLS SNI or HTTP Host when known (a C2 that
-- description: rotates addresses stays one group), else dst ip:port. Time is relative to the capture, never to now.
-- description: Gaps come from LAG over each group; gaps under min_gap_s collapse bursts into one check-in. The period
-- description: is the median gap; hit_share is the share of gaps within +-tolerance of it, compared with the 17.4%
-- description: expected of Poisson (random) arrivals as a z-score; multi_share also counts gaps near 2-5 periods
-- description: (missed beats) against the 33.7% Poisson expectation; z is the larger. Also: size regularity
-- description: (MAD/median of bytes per event), coverage of the capture span, and fan-in (how many sources talk to
-- description: the peer). Score: 20 + 8*z (at most 40) + 15*coverage + 10*size regularity + 10 single source
-- description: (-10 two; three or more: -(20 + 12*log2(sources/3)), at most -50, so a fleet-wide agent such as NTP or
-- description: monitoring falls while a C2 shared by a few infected hosts stays high) + 5 for 20+ events
-- description: - 25 for NTP (udp/123, a clock, not a channel).
-- severity: critical >= 85, high >= 70, medium >= 50, low >= 35
-- summary: {src_ip} contacted {peer} {events} times with a median period of {period_s:1} s ({hit_share:pct} of gaps within tolerance, {missed_beats} missed beats, z {z:1} vs random; bytes per check-in median {size_median:0}, dispersion {size_dispersion:2}; {coverage:pct} of the capture; peer used by {sources} source(s))
-- param: min_events int = 6
-- param: min_z float = 3.0
-- param: tolerance float = 0.25
-- param: min_gap_s float = 1.0
WITH names AS (
    SELECT uid, max(server_name) AS name FROM tls GROUP BY uid
    UNION ALL
    SELECT uid, max(host) AS name FROM http GROUP BY uid
),
nm AS (SELECT uid, max(name) AS name FROM names GROUP BY uid),
ev0 AS (
    SELECT c.orig_h AS src, c.resp_h AS dst, c.resp_p AS dport, c.proto, nm.name, c.ts,
           CAST(c.orig_bytes + c.resp_bytes AS DOUBLE) AS bytes
    FROM conn c LEFT JOIN nm ON nm.uid = c.uid
    WHERE coalesce(c.service, '') <> 'dns' AND c.proto IN ('tcp', 'udp')
    UNION ALL
    SELECT h.orig_h, h.resp_h, h.resp_p, 'tcp', h.host, h.ts,
           CAST(h.request_body_len + h.response_body_len AS DOUBLE)
    FROM http h WHERE h.trans_depth > 1
),
ev AS (
    SELECT src, coalesce(name, dst || ':' || CAST(dport AS VARCHAR)) AS peer, dst, dport, proto, name, ts,
           CAST(ts AS BIGINT) / 1e6 AS t, bytes
    FROM ev0
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
    SELECT src, peer, count(*) AS events, min(ts) AS first_seen, max(ts) AS last_seen, min(dst) AS dst,
           count(DISTINCT dst) AS distinct_dsts, min(dport) AS dport, max(name) AS name, max(proto) AS proto,
           min(t) AS t0, max(t) AS t1
    FROM ev GROUP BY src, peer
),
span AS (SELECT min(CAST(ts AS BIGINT)) / 1e6 AS c0, max(CAST(ts AS BIGINT)) / 1e6 AS c1 FROM conn),
fan AS (SELECT peer, count(DISTINCT src) AS sources FROM ev GROUP BY peer),
stats AS (
    SELECT i.*, h.period, h.n_gaps, h.hit_share, h.multi_share, h.missed_beats, h.interval_histogram,
           s.size_median, m.size_mad / greatest(s.size_median, 1) AS size_dispersion, f.sources,
           (i.t1 - i.t0) / greatest(sp.c1 - sp.c0, 1) AS coverage,
           greatest((h.hit_share - 0.174) / sqrt(0.174 * 0.826 / h.n_gaps),
                    (h.multi_share - 0.337) / sqrt(0.337 * 0.663 / h.n_gaps)) AS z
    FROM info i
    JOIN hits h ON h.src = i.src AND h.peer = i.peer
    JOIN sz s ON s.src = i.src AND s.peer = i.peer
    JOIN szmad m ON m.src = i.src AND m.peer = i.peer
    JOIN fan f ON f.peer = i.peer
    CROSS JOIN span sp
)
SELECT src AS src_ip, dst AS dst_ip, dport AS dst_port, name AS domain, peer, proto, first_seen, last_seen, events,
       distinct_dsts, round(period, 2) AS period_s, n_gaps, round(hit_share, 3) AS hit_share,
       round(multi_share, 3) AS multi_share, missed_beats, round(z, 2) AS z, size_median,
       round(size_dispersion, 3) AS size_dispersion, round(coverage, 3) AS coverage, sources, interval_histogram,
       least(100, greatest(0,
           20 + least(40, 8 * z)
           + 15 * least(1.0, coverage)
           + 10 * greatest(0, 1 - size_dispersion)
           + CASE WHEN sources = 1 THEN 10 WHEN sources = 2 THEN -10 ELSE -least(50, 20 + 12 * log2(sources / 3.0)) END
           + CASE WHEN events >= 20 THEN 5 ELSE 0 END
           - CASE WHEN proto = 'udp' AND dport = 123 THEN 25 ELSE 0 END
       )) AS score
FROM stats
WHERE events >= $min_events AND z >= $min_z
ORDER BY score DESC, src_ip, peer
