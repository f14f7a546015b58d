-- id: scan
-- category: scan
-- title: Scans and floods (one source to many addresses or ports, or a flood of one destination)
-- description: Three shapes over conn. Horizontal: one source to at least min_targets distinct addresses on one
-- description: (protocol, port) - worms and ransomware fan-out (UDP too). Vertical: one source to at least min_ports
-- description: distinct ports of one address. Flood: one source sending at least min_flood_packets packets to one
-- description: address at min_flood_pps or more over min_flood_connections+ connections (a bulk transfer is one
-- description: connection with full packets, not a flood). A failed attempt is a TCP connection that never completed
-- description: its handshake (conn_state S0, REJ, RSTOS0, RSTRH, SH, SHR, OTH) or a UDP/ICMP flow nothing answered;
-- description: browsing reaches many addresses too, but they answer, so the failed share carries most of the score.
-- description: Score (horizontal, vertical): 30 + 40 * failed share + 10 * log2(breadth / minimum) (at most 30)
-- description: + 10 when most targets are local addresses (internal spread); a shape with a failed share under
-- description: min_failed_share is dropped. Flood: 45 + 10 * log10(packets / min_flood_packets) (at most 25) + 10
-- description: when the destination answered less than a tenth of the packets. Fan-in: min_flood_sources+ distinct sources to one
-- description: (address, port) at min_flood_pps, 80%+ failed (a SYN flood from spoofed sources): 50 + 10 * log10(sources /
-- description: min_flood_sources) (at most 25) + 20 * failed share; its src_ip reads '(N sources)'.
-- severity: critical >= 85, high >= 70, medium >= 50, low >= 35
-- materialize: c
-- summary: {src_ip} {shape}: {breadth} {unit} in {attempts} attempt(s) over {duration_s:1} s, {failed_share:pct} failed ({detail})
-- param: min_targets int = 50
-- param: min_ports int = 50
-- param: min_failed_share float = 0.2
-- param: min_flood_packets int = 10000
-- param: min_flood_pps float = 1000.0
-- param: min_flood_connections int = 20
-- param: min_flood_sources int = 1000
-- param: max_uids int = 20
WITH c AS (
    SELECT uid, orig_h, resp_h, resp_p, proto, ts, CAST(ts AS BIGINT) AS tus, duration, local_resp, orig_pkts, resp_pkts,
           CASE WHEN proto = 'tcp' THEN conn_state IN ('S0', 'REJ', 'RSTOS0', 'RSTRH', 'SH', 'SHR', 'OTH')
                ELSE resp_pkts = 0 END AS failed
    FROM conn
    WHERE proto IN ('tcp', 'udp', 'icmp')
      -- broadcast and multicast discovery reaches no one in particular
      AND NOT cidr_match(resp_h, '224.0.0.0/4') AND NOT cidr_match(resp_h, 'ff00::/8')
      AND resp_h <> '255.255.255.255' AND resp_h NOT LIKE '%.255'
),
-- breadth first, by a two-level aggregate that spills: a flood of a million one-off sources costs one
-- small group each, and only groups past the minimum go on to the costlier statistics and samples
hk AS (
    SELECT orig_h, resp_p, proto, count(*) AS breadth
    FROM (SELECT DISTINCT orig_h, resp_p, proto, resp_h FROM c) d
    GROUP BY orig_h, resp_p, proto HAVING count(*) >= $min_targets
),
vk AS (
    SELECT orig_h, resp_h, proto, count(*) AS breadth
    FROM (SELECT DISTINCT orig_h, resp_h, proto, resp_p FROM c WHERE proto IN ('tcp', 'udp')) d
    GROUP BY orig_h, resp_h, proto HAVING count(*) >= $min_ports
),
-- fan-in: many sources to one (address, port), mostly failing - a SYN flood from spoofed sources
fk AS (
    SELECT resp_h, resp_p, proto, count(*) AS breadth
    FROM (SELECT DISTINCT resp_h, resp_p, proto, orig_h FROM c) d
    GROUP BY resp_h, resp_p, proto HAVING count(*) >= $min_flood_sources
),
fanin AS (
    SELECT '(' || CAST(max(k.breadth) AS VARCHAR) || ' sources)' AS src, c.resp_h AS dst, c.resp_p AS port, c.proto, 'fan-in' AS kind,
           max(k.breadth) AS breadth, count(*) AS attempts, avg(CASE WHEN c.failed THEN 1.0 ELSE 0.0 END) AS failed_share,
           avg(CASE WHEN c.local_resp THEN 1.0 ELSE 0.0 END) AS local_share, min(c.ts) AS first_seen, max(c.ts) AS last_seen,
           greatest((max(c.tus) - min(c.tus)) / 1e6, 0.001) AS duration_s, sum(c.orig_pkts) AS packets, sum(c.resp_pkts) AS answers,
           make_array(min(c.orig_h), max(c.orig_h)) AS sample_targets,
           -- floods have millions of rows: two connection ids, not an aggregate of all of them
           make_array(min(c.uid), max(c.uid)) AS uids
    FROM fk k JOIN c ON c.resp_h = k.resp_h AND c.resp_p = k.resp_p AND c.proto = k.proto
    GROUP BY c.resp_h, c.resp_p, c.proto
),
horiz AS (
    SELECT c.orig_h AS src, CAST(NULL AS VARCHAR) AS dst, c.resp_p AS port, c.proto, 'horizontal' AS kind,
           max(k.breadth) AS breadth, count(*) AS attempts, avg(CASE WHEN c.failed THEN 1.0 ELSE 0.0 END) AS failed_share,
           avg(CASE WHEN c.local_resp THEN 1.0 ELSE 0.0 END) AS local_share, min(c.ts) AS first_seen, max(c.ts) AS last_seen,
           (max(c.tus) - min(c.tus)) / 1e6 AS duration_s, sum(c.orig_pkts) AS packets, sum(c.resp_pkts) AS answers,
           array_slice(array_agg(DISTINCT c.resp_h ORDER BY c.resp_h), 1, 10) AS sample_targets,
           array_slice(array_agg(DISTINCT c.uid ORDER BY c.uid), 1, $max_uids) AS uids
    FROM hk k JOIN c ON c.orig_h = k.orig_h AND c.resp_p = k.resp_p AND c.proto = k.proto
    GROUP BY c.orig_h, c.resp_p, c.proto
),
vert AS (
    SELECT c.orig_h AS src, c.resp_h AS dst, CAST(NULL AS INT) AS port, c.proto, 'vertical' AS kind,
           max(k.breadth) AS breadth, count(*) AS attempts, avg(CASE WHEN c.failed THEN 1.0 ELSE 0.0 END) AS failed_share,
           avg(CASE WHEN c.local_resp THEN 1.0 ELSE 0.0 END) AS local_share, min(c.ts) AS first_seen, max(c.ts) AS last_seen,
           (max(c.tus) - min(c.tus)) / 1e6 AS duration_s, sum(c.orig_pkts) AS packets, sum(c.resp_pkts) AS answers,
           array_slice(array_agg(DISTINCT CAST(c.resp_p AS VARCHAR) ORDER BY CAST(c.resp_p AS VARCHAR)), 1, 10) AS sample_targets,
           array_slice(array_agg(DISTINCT c.uid ORDER BY c.uid), 1, $max_uids) AS uids
    FROM vk k JOIN c ON c.orig_h = k.orig_h AND c.resp_h = k.resp_h AND c.proto = k.proto
    GROUP BY c.orig_h, c.resp_h, c.proto
),
fl AS (
    SELECT orig_h AS src, resp_h AS dst, CAST(NULL AS INT) AS port, max(proto) AS proto, 'flood' AS kind,
           sum(orig_pkts) AS breadth, count(*) AS attempts, avg(CASE WHEN failed THEN 1.0 ELSE 0.0 END) AS failed_share,
           avg(CASE WHEN local_resp THEN 1.0 ELSE 0.0 END) AS local_share, min(ts) AS first_seen, max(ts) AS last_seen,
           greatest((max(tus) - min(tus)) / 1e6 + max(duration), 0.001) AS duration_s, sum(orig_pkts) AS packets, sum(resp_pkts) AS answers,
           make_array(CAST(min(resp_p) AS VARCHAR) || '..' || CAST(max(resp_p) AS VARCHAR)) AS sample_targets,
           make_array(min(uid), max(uid)) AS uids
    FROM c GROUP BY orig_h, resp_h
    HAVING sum(orig_pkts) >= $min_flood_packets AND count(*) >= $min_flood_connections
),
shapes AS (
    SELECT * FROM horiz WHERE failed_share >= $min_failed_share
    UNION ALL
    SELECT * FROM vert WHERE failed_share >= $min_failed_share
    UNION ALL
    SELECT * FROM fl WHERE packets / duration_s >= $min_flood_pps
    UNION ALL
    SELECT * FROM fanin WHERE failed_share >= 0.8 AND packets / duration_s >= $min_flood_pps
)
SELECT src AS src_ip, dst AS dst_ip, CAST(port AS INT) AS dst_port, proto, kind, first_seen, last_seen, breadth, attempts,
       round(failed_share, 3) AS failed_share, round(local_share, 3) AS local_share, round(duration_s, 1) AS duration_s,
       packets, answers, sample_targets, uids,
       CASE kind WHEN 'horizontal' THEN 'swept ' || proto || '/' || CAST(port AS VARCHAR) || ' across many addresses'
                 WHEN 'vertical' THEN 'probed many ' || proto || ' ports of ' || dst
                 WHEN 'fan-in' THEN 'flooded ' || dst || ':' || CAST(port AS VARCHAR) || '/' || proto || ' from many sources (spoofed?)' 
                 ELSE 'flooded ' || dst END AS shape,
       CASE kind WHEN 'horizontal' THEN 'addresses' WHEN 'vertical' THEN 'ports' WHEN 'fan-in' THEN 'sources' ELSE 'packets' END AS unit,
       CASE WHEN kind IN ('flood', 'fan-in') THEN CAST(round(packets / duration_s) AS VARCHAR) || ' packets/s, ' || CAST(answers AS VARCHAR) || ' answered'
                 ELSE 'e.g. ' || array_to_string(sample_targets, ' ') END AS detail,
       least(100, greatest(0, CASE WHEN kind = 'fan-in' THEN
               50 + least(25, 10 * log10(breadth / $min_flood_sources)) + 20 * failed_share
           WHEN kind = 'flood' THEN
               45 + least(25, 10 * log10(packets / $min_flood_packets)) + CASE WHEN answers * 10 < packets THEN 10 ELSE 0 END
           ELSE
               30 + 40 * failed_share
               + least(30, 10 * log2(breadth / CAST(CASE WHEN kind = 'horizontal' THEN $min_targets ELSE $min_ports END AS DOUBLE)))
               + CASE WHEN local_share >= 0.5 THEN 10 ELSE 0 END
           END)) AS score
FROM shapes
ORDER BY score DESC, src_ip
