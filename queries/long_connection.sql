-- id: long_connection
-- category: long_connection
-- title: Long-lived sessions to public peers (RITA's long connections)
-- description: Per (source, public peer address, port, protocol): the longest single connection and the time all
-- description: its connections cover (from the first start to the last end, connections overlapping or not). A pair
-- description: is long when a connection lasts at least min_duration_s and spans at least min_share of the capture
-- description: (first to last packet of the whole dataset). Long sessions are also what push services, websockets,
-- description: mail clients and VPNs do, so length alone is low; the score rises with evidence about the endpoint
-- description: that those services lack. Strong: a self-signed or expired certificate (+15; expiry not when the
-- description: capture's clock is off, as in suspicious_tls), a payload that names the host's operating system or is
-- description: a shell's banner or prompt in the clear (conn.orig_profile/resp_profile, +15). Weak: the peer address was
-- description: named by no DNS answer although the source uses DNS (+15), else TLS without SNI (+10: the same fact, a
-- description: client given an address, counted once), no analyzer recognised the payload (+10), a port outside the
-- description: usual long-session ones (+5; list in the SQL), the peer used by this source alone (+5). Score: 30 + 10 *
-- description: share of the capture covered + evidence; a peer 3+ sources share loses 15 (fleet software). Without
-- description: strong evidence the score is held to max_without_strong_evidence (medium): an application's own session
-- description: in its own protocol to servers its API named (music, game and meeting clients) shows the weak facts
-- description: only. Bytes are those actually seen (conn.*_seen_bytes).
-- severity: critical >= 85, high >= 65, medium >= 50, low >= 30
-- summary: {src_ip} held {connections} connection(s) to {peer} ({service_or_proto}) for {longest_s:0} s, {coverage:pct} of the capture ({bytes_up:bytes} up, {bytes_down:bytes} down). Endpoint evidence: {endpoint_evidence}
-- param: min_duration_s float = 300.0
-- param: min_share float = 0.5
-- param: max_without_strong_evidence float = 64.0
-- param: max_uids int = 20
WITH span AS (
    SELECT CAST(min(ts) AS BIGINT) AS c0, max(CAST(ts AS BIGINT) + CAST(duration * 1e6 AS BIGINT)) AS c1 FROM conn
),
c AS (
    SELECT uid, orig_h, resp_h, resp_p, proto, service, ts, duration, CAST(ts AS BIGINT) AS tus,
           CAST(ts AS BIGINT) + CAST(duration * 1e6 AS BIGINT) AS tend,
           orig_seen_bytes, resp_seen_bytes, orig_bytes, resp_bytes, orig_profile, resp_profile
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
           -- a host profile or a shell's banner in the clear (as beaconing and remote_control_in_clear)
           max(coalesce(orig_profile, resp_profile)) AS profile_text,
           array_slice(array_agg(uid ORDER BY duration DESC), 1, $max_uids) AS uids
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
           l.profile_text IS NOT NULL AS profile,
           -- where long sessions live by design: web and websockets, push (FCM 5228, APNs 5223), mail
           -- (IMAP/POP/submission over TLS), XMPP, SSH, VPNs (OpenVPN, IPsec NAT-T, WireGuard), RDP, QUIC
           l.resp_p NOT IN (80, 443, 8080, 8443, 5228, 5223, 993, 995, 465, 587, 143, 5222, 22, 1194, 4500, 51820, 3389) AS odd_port
    FROM long l
    JOIN fan f ON f.resp_h = l.resp_h AND f.resp_p = l.resp_p
    LEFT JOIN t ON t.orig_h = l.orig_h AND t.resp_h = l.resp_h AND t.resp_p = l.resp_p
    LEFT JOIN answered an ON an.addr = l.resp_h
    LEFT JOIN dns_users du ON du.src = l.orig_h
    WHERE l.longest_share >= $min_share
),
scored AS (
    SELECT *,
           bad_cert OR profile AS strong,
           least(100, greatest(0,
               30 + 10 * coverage
               + CASE WHEN unnamed_peer THEN 15 WHEN no_sni THEN 10 ELSE 0 END
               + CASE WHEN unidentified THEN 10 ELSE 0 END
               + CASE WHEN bad_cert THEN 15 ELSE 0 END
               + CASE WHEN profile THEN 15 ELSE 0 END
               + CASE WHEN odd_port THEN 5 ELSE 0 END
               + CASE WHEN sources = 1 THEN 5 WHEN sources >= 3 THEN -15 ELSE 0 END)) AS raw_score
    FROM j
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
           CASE WHEN profile THEN 'the payload names the host in the clear (' || profile_text || ': a victim profile or a shell)' END,
           CASE WHEN odd_port THEN 'port ' || CAST(resp_p AS VARCHAR) || ' is not a usual long-session port' END,
           CASE WHEN sources >= 3 THEN 'peer shared by ' || CAST(sources AS VARCHAR) || ' sources' END), ''), 'none')
       || CASE WHEN NOT strong AND raw_score > $max_without_strong_evidence
               THEN ' (weak evidence alone: capped at medium)' ELSE '' END AS endpoint_evidence,
       round(CASE WHEN strong THEN raw_score ELSE least(raw_score, $max_without_strong_evidence) END, 1) AS score
FROM scored
ORDER BY score DESC, src_ip
