-- id: long_connection
-- category: long_connection
-- title: Long-lived sessions to public peers (RITA's long connections)
-- description: Per (source, public peer address, port, protocol): the longest single connection and the time all
-- description: its connections cover (from the first start to the last end, connections overlapping or not). A pair
-- description: is long when a connection lasts at least min_duration_s and spans at least min_share of the capture
-- description: (first to last packet of the whole dataset). Long sessions are also what push services, websockets,
-- description: mail clients and VPNs do, so length alone is low; the score rises with evidence about the endpoint
-- description: that those services lack: the peer address was named by no DNS answer although the source uses DNS
-- description: (+15), no analyzer recognised the payload (+10), TLS without SNI (+10), a self-signed or expired
-- description: certificate (+15; expiry not when the capture's clock is off, as in suspicious_tls), a port outside the usual long-session ones (+5; list in the SQL), the peer used by
-- description: this source alone (+5). Score: 30 + 10 * share of the capture covered + evidence; a peer 3+ sources
-- description: share loses 15 (fleet software). Bytes are those actually seen (conn.*_seen_bytes).
-- severity: critical >= 85, high >= 65, medium >= 50, low >= 30
-- summary: {src_ip} held {connections} connection(s) to {peer} ({service_or_proto}) for {longest_s:0} s, {coverage:pct} of the capture ({bytes_up:bytes} up, {bytes_down:bytes} down). Endpoint evidence: {endpoint_evidence}
-- param: min_duration_s float = 300.0
-- param: min_share float = 0.5
WITH span AS (
    SELECT CAST(min(ts) AS BIGINT) AS c0, max(CAST(ts AS BIGINT) + CAST(duration * 1e6 AS BIGINT)) AS c1 FROM conn
),
c AS (
    SELECT uid, orig_h, resp_h, resp_p, proto, service, ts, duration, CAST(ts AS BIGINT) AS tus,
           CAST(ts AS BIGINT) + CAST(duration * 1e6 AS BIGINT) AS tend,
           orig_seen_bytes, resp_seen_bytes, orig_bytes, resp_bytes
    FROM conn
    WHERE NOT local_resp AND duration IS NOT NULL
      AND proto IN ('tcp', 'udp')
      AND NOT cidr_match(resp_h, '224.0.0.0/4') AND NOT cidr_match(resp_h, 'ff00::/8')
),
pairs AS (
    SELECT orig_h, resp_h, resp_p, proto,
           count(*) AS connections, max(duration) AS longest_s,
           min(ts) AS first_seen, max(ts) AS last_seen,
           (max(tend) - min(tus)) / 1e6 AS covered_s,
           sum(orig_seen_bytes) AS bytes_up, sum(resp_seen_bytes) AS bytes_down,
           max(service) AS service,
           array_slice(array_agg(uid ORDER BY duration DESC), 1, 20) AS uids
    FROM c GROUP BY orig_h, resp_h, resp_p, proto
    HAVING max(duration) >= $min_duration_s
),
long AS (
    SELECT p.*, least(1.0, p.covered_s / greatest((s.c1 - s.c0) / 1e6, 1.0)) AS coverage,
           least(1.0, p.longest_s / greatest((s.c1 - s.c0) / 1e6, 1.0)) AS longest_share
    FROM pairs p CROSS JOIN span s
),
answered AS (
    SELECT DISTINCT a AS addr FROM (SELECT unnest(answers) AS a FROM dns WHERE answers IS NOT NULL) x
    WHERE ip_version(a) IS NOT NULL
),
dns_users AS (SELECT DISTINCT orig_h AS src FROM dns),
fan AS (SELECT resp_h, resp_p, count(DISTINCT orig_h) AS sources FROM conn GROUP BY resp_h, resp_p),
-- the capture's clock is off when most certificate-bearing peers, 3 or more, look expired: then expiry
-- is no evidence (as in suspicious_tls and beaconing)
clock AS (
    SELECT coalesce(count(DISTINCT resp_h) FILTER (WHERE expired_at_capture_time) >= 3
                    AND count(DISTINCT resp_h) FILTER (WHERE expired_at_capture_time)
                        > 0.5 * count(DISTINCT resp_h) FILTER (WHERE expired_at_capture_time IS NOT NULL), false) AS clock_off
    FROM tls
),
t AS (
    SELECT orig_h, resp_h, resp_p, bool_or(server_name IS NULL) AS no_sni, max(server_name) AS sni,
           bool_or(coalesce(self_signed, false) OR (coalesce(expired_at_capture_time, false) AND NOT c.clock_off)) AS bad_cert
    FROM tls CROSS JOIN clock c GROUP BY orig_h, resp_h, resp_p
),
j AS (
    SELECT l.*, f.sources, t.sni,
           (an.addr IS NULL AND du.src IS NOT NULL) AS unnamed_peer,
           (l.service IS NULL AND l.proto = 'tcp' AND l.bytes_up + l.bytes_down > 0) AS unidentified,
           coalesce(t.no_sni, false) AND t.sni IS NULL AS no_sni,
           coalesce(t.bad_cert, false) AS bad_cert,
           -- where long sessions live by design: web and websockets, push (FCM 5228, APNs 5223), mail
           -- (IMAP/POP/submission over TLS), XMPP, SSH, VPNs (OpenVPN, IPsec NAT-T, WireGuard), RDP, QUIC
           l.resp_p NOT IN (80, 443, 8080, 8443, 5228, 5223, 993, 995, 465, 587, 143, 5222, 22, 1194, 4500, 51820, 3389) AS odd_port
    FROM long l
    JOIN fan f ON f.resp_h = l.resp_h AND f.resp_p = l.resp_p
    LEFT JOIN t ON t.orig_h = l.orig_h AND t.resp_h = l.resp_h AND t.resp_p = l.resp_p
    LEFT JOIN answered an ON an.addr = l.resp_h
    LEFT JOIN dns_users du ON du.src = l.orig_h
    WHERE l.longest_share >= $min_share
)
SELECT orig_h AS src_ip, resp_h AS dst_ip, CAST(resp_p AS INT) AS dst_port, sni AS domain, first_seen, last_seen,
       proto, service, connections, round(longest_s, 1) AS longest_s, round(covered_s, 1) AS covered_s,
       round(coverage, 3) AS coverage, bytes_up, bytes_down, sources, uids,
       coalesce(sni, resp_h) || ':' || CAST(resp_p AS VARCHAR) AS peer,
       coalesce(service, proto || ', payload not recognised') AS service_or_proto,
       coalesce(nullif(concat_ws(', ',
           CASE WHEN unnamed_peer THEN 'peer address named by no DNS answer in the capture' END,
           CASE WHEN unidentified THEN 'payload no analyzer recognised' END,
           CASE WHEN no_sni THEN 'TLS without SNI' END,
           CASE WHEN bad_cert THEN 'self-signed or expired certificate' END,
           CASE WHEN odd_port THEN 'port ' || CAST(resp_p AS VARCHAR) || ' is not a usual long-session port' END,
           CASE WHEN sources >= 3 THEN 'peer shared by ' || CAST(sources AS VARCHAR) || ' sources' END), ''), 'none') AS endpoint_evidence,
       round(least(100, greatest(0,
           30 + 10 * coverage
           + CASE WHEN unnamed_peer THEN 15 ELSE 0 END
           + CASE WHEN unidentified THEN 10 ELSE 0 END
           + CASE WHEN no_sni THEN 10 ELSE 0 END
           + CASE WHEN bad_cert THEN 15 ELSE 0 END
           + CASE WHEN odd_port THEN 5 ELSE 0 END
           + CASE WHEN sources = 1 THEN 5 WHEN sources >= 3 THEN -15 ELSE 0 END)), 1) AS score
FROM j
ORDER BY score DESC, src_ip
