-- id: beaconing
-- category: beaconing
-- title: Periodic check-ins (beaconing)
-- description: Events are the client's data bursts (conn.orig_bursts: new connections, requests inside kept-alive
-- description: connections, heartbeats inside long-lived C2 sessions; connections without client data count once at
-- description: their start; DNS excluded), grouped per (source, peer) where peer is the TLS SNI or HTTP Host when known (a C2 that
-- description: rotates addresses stays one group), else dst ip:port. Time is relative to the capture, never to now.
-- description: Groups with fewer than min_events events are dropped before any window or median is computed (a flood of
-- description: one-off sources costs one counter each). Gaps come from LAG over each group; gaps under min_gap_s collapse
-- description: bursts into one check-in. A series spanning less than min_burst_span_s, or less than min_span_s with fewer than
-- description: min_events_short events, is a burst (a page load, an ad refresh), not a beacon. The period
-- description: is the median gap; hit_share is the share of gaps within +-tolerance of it, compared with the 17.4%
-- description: expected of Poisson (random) arrivals as a z-score; multi_share also counts gaps near 2-5 periods
-- description: (missed beats) against the 33.7% Poisson expectation; bounded_share (gaps within 0.2-2 periods, 62.1%
-- description: under Poisson, near 100% for a timer even with heavy jitter) gives a third z, weighted 0.7 as the
-- description: weakest evidence; z is the largest. Also: size regularity
-- description: (MAD/median of bytes per event), coverage of the capture span, and fan-in (how many sources talk to
-- description: the peer). Periodicity score: 20 + 8*z (at most 40) + 15*coverage + 10*size regularity + 10 single source
-- description: (-10 two; three or more: -(20 + 12*log2(sources/3)), at most -50, so a fleet-wide agent falls while a C2
-- description: shared by a few infected hosts stays high) + 5 for 20+ events, - 2 per event under 12.
-- description: Periodicity alone is capped at medium (max_without_evidence): high needs evidence about the endpoint that
-- description: benign periodic services lack - strong (1 each): a self-signed, expired (unless the capture's clock is off:
-- description: most certificate-bearing peers, 3+, look expired) or name-mismatched certificate, an IP literal as
-- description: HTTP Host, a well-known infrastructure port whose payload is not that protocol (udp/123 that is not NTP),
-- description: a payload no analyzer recognised that names the host's operating system or is a shell's banner or prompt
-- description: (conn.orig_profile/resp_profile: a RAT's victim profile, as remote_control_in_clear reports);
-- description: an HTTP client's TLS or QUIC ClientHello (ALPN offering h2, http/1.1 or h3) that names no server (SNI): HTTPS
-- description: to an address, the encrypted side of an IP literal as HTTP Host (browsers and HTTP libraries send the name
-- description: of every origin; HTTP/3 is reached through a name's Alt-Svc or HTTPS record) - except to a public
-- description: DNS-over-HTTPS resolver's address (doh_resolvers: a resolver is configured by address by design, as
-- description: `https://1.1.1.1/dns-query`; there it is the weak "given an address" below; the list holds the anycast
-- description: addresses Cloudflare, Google Public DNS, Quad9, OpenDNS and AdGuard document for their resolvers, as of
-- description: 2026-12; `--param beaconing.doh_resolvers=A,B,...` replaces it);
-- description: weak (0.5 each): a public peer address no DNS answer in the capture named although the source uses DNS, a
-- description: TCP payload no analyzer recognised, a TLS client fingerprint (JA4) or User-Agent the source uses for this
-- description: peer only (while it has 3+ peers), tasking (idle check-ins of at most 2 KB and some of 8x that and 4 KB
-- description: or more), a protocol on a port not registered for it (TLS on 4444, HTTP on 7080, QUIC on 4443; the lists are in the SQL),
-- description: a TLS or QUIC ClientHello without a server name that offers no HTTP ALPN or goes to a DoH resolver (SNI: browsers and SDKs send one for every name; a client
-- description: configured with an address sends none; devices' own protocols to a hard-coded cloud address do too). An unnamed peer
-- description: and a ClientHello without SNI are one fact seen twice (the client was given an address) and count 0.5 together.
-- description: High needs at least 1 point (one strong or two weak); each point adds 6. For a local (RFC 1918) peer only the
-- description: port mismatch and a host profile in the clear count (LAN devices are found by discovery, not DNS, and ship self-signed certificates). A keepalive - tiny constant bursts inside one long session (websocket/MQTT/push
-- description: heartbeats, cast devices) - without any evidence is capped at low, and with weak evidence alone, however much, at medium
-- description: (an application's own long session to servers its API named, not DNS, in its own protocol or TLS stack shows
-- description: an unnamed peer, an unknown payload and a rare fingerprint: weak pieces only); infrastructure recognised by parsing
-- description: (conn.service ntp, dhcp, dhcpv6, ssdp, netbios) is capped at low, and so is a schedule to a peer 3+ sources
-- description: share without 1 point of evidence (fleet software: agents, update and connectivity checks); clocks, leases and discovery are periodic
-- description: by design. A plain-HTTP check whose every answer is one and the same IP address and nothing else
-- description: (files.text_address: an IP-echo check - dynamic-DNS updaters, VPN clients) is capped at low
-- description: (max_ip_echo_without_evidence) without 1 point of evidence: the peer only told the caller its own address, so
-- description: nothing was tasked through it in the capture. The summary names the evidence; for a series capped at
-- description: medium it also names what the capture could not tell (unchecked: no DNS from the source, no certificate in
-- description: the clear, fewer than 3 TLS or HTTP peers to compare a fingerprint or User-Agent with), so that "none" is
-- description: read as "not seen in this capture", not as "checked and clean".
-- severity: critical >= 85, high >= 70, medium >= 50, low >= 35
-- materialize: ev
-- summary: {src_ip} contacted {peer} {events} times over {span_s:0} s with a median period of {period_s:1} s ({hit_share:pct} of gaps within tolerance, {missed_beats} missed beats, z {z:1} vs random; bytes per check-in median {size_median:0}, dispersion {size_dispersion:2}; {shape}; peer used by {sources} source(s)). Endpoint evidence: {endpoint_evidence}
-- param: min_events int = 6
-- param: min_z float = 3.0
-- param: tolerance float = 0.25
-- param: min_gap_s float = 0.5
-- param: min_span_s float = 60.0
-- param: min_events_short int = 20
-- param: min_burst_span_s float = 30.0
-- param: max_without_evidence float = 69.0
-- param: max_keepalive_without_evidence float = 49.0
-- param: max_infrastructure float = 40.0
-- param: max_fleet_without_evidence float = 45.0
-- param: max_ip_echo_without_evidence float = 49.0
-- param: doh_resolvers string = 1.1.1.1,1.0.0.1,8.8.8.8,8.8.4.4,9.9.9.9,149.112.112.112,208.67.222.222,208.67.220.220,94.140.14.14,94.140.15.15,2606:4700:4700::1111,2606:4700:4700::1001,2001:4860:4860::8888,2001:4860:4860::8844,2620:fe::fe,2620:fe::9
-- param: max_uids int = 20
WITH names AS (
    SELECT uid, max(server_name) AS name FROM tls GROUP BY uid
    UNION ALL
    SELECT uid, max(host) AS name FROM http GROUP BY uid
),
nm AS (SELECT uid, max(name) AS name FROM names GROUP BY uid),
-- only the columns used, and the small side of each join first (DataFusion builds its hash table
-- from the left input): a flood of a million connections is streamed, not held
c0 AS (
    SELECT uid, ts, orig_h, resp_h, resp_p, proto, source, orig_seen_bytes, resp_seen_bytes, orig_bursts, orig_burst_bytes
    FROM conn
    WHERE coalesce(service, '') <> 'dns' AND proto IN ('tcp', 'udp')
      -- broadcast and multicast cannot carry a session to a controller
      AND NOT cidr_match(resp_h, '224.0.0.0/4') AND NOT cidr_match(resp_h, 'ff00::/8')
      AND resp_h <> '255.255.255.255' AND resp_h NOT LIKE '%.255'
),
c AS (SELECT c0.*, nm.name FROM nm RIGHT JOIN c0 ON nm.uid = c0.uid),
ev0 AS (
    -- series 1: connection starts, plus further requests inside kept-alive HTTP connections
    SELECT orig_h AS src, resp_h AS dst, resp_p AS dport, proto, name, 'connections' AS series, source, uid,
           CAST(ts AS BIGINT) AS tus, CAST(orig_seen_bytes + resp_seen_bytes AS DOUBLE) AS bytes
    FROM c
    UNION ALL
    SELECT h.orig_h, h.resp_h, h.resp_p, 'tcp', h.host, 'connections', h.source, h.uid, CAST(h.ts AS BIGINT),
           CAST(h.request_body_len + h.response_body_len AS DOUBLE)
    FROM http h WHERE h.trans_depth > 1
    UNION ALL
    -- series 2: the client's data bursts inside one long-lived session (heartbeats of a persistent C2)
    SELECT src, dst, dport, proto, name, series, source, uid, b AS tus, CAST(bb AS DOUBLE) AS bytes
    FROM (SELECT orig_h AS src, resp_h AS dst, resp_p AS dport, proto, name, 'session ' || uid AS series, source, uid,
                 unnest(orig_bursts) AS b, unnest(orig_burst_bytes) AS bb
          FROM c WHERE cardinality(orig_bursts) >= $min_events) x
),
ev1 AS (
    SELECT src, coalesce(name, dst || ':' || CAST(dport AS VARCHAR)) AS peer, dst, dport, proto, name, series,
           source, uid, to_timestamp_micros(tus) AS ts, tus / 1e6 AS t, bytes
    FROM ev0
),
-- a group is (source, peer, series); the peer's fan-in counts sources over all series
ev_all AS (SELECT src, peer || '|' || series AS peer, peer AS peer_name, series, source, uid, dst, dport, proto, name, ts, t, bytes FROM ev1),
fan AS (SELECT peer_name, count(DISTINCT src) AS sources FROM ev_all GROUP BY peer_name),
-- bounded memory on floods: only groups long enough to be a series go on to windows and medians
big AS (SELECT src, peer FROM ev_all GROUP BY src, peer HAVING count(*) >= $min_events),
ev AS (SELECT e.* FROM big b JOIN ev_all e ON b.src = e.src AND b.peer = e.peer),
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
sz AS (SELECT src, peer, median(bytes) AS size_median, max(bytes) AS size_max FROM ev GROUP BY src, peer),
szmad AS (
    SELECT e.src, e.peer, median(abs(e.bytes - s.size_median)) AS size_mad
    FROM ev e JOIN sz s ON s.src = e.src AND s.peer = e.peer GROUP BY e.src, e.peer
),
info AS (
    SELECT src, peer, max(peer_name) AS peer_name, max(series) AS series, count(*) AS events, min(ts) AS first_seen, max(ts) AS last_seen, min(dst) AS dst,
           count(DISTINCT dst) AS distinct_dsts, min(dport) AS dport, max(name) AS name, max(proto) AS proto,
           min(t) AS t0, max(t) AS t1,
           -- up to 20 connection ids to pivot from the finding to its rows (and packets)
           array_slice(array_agg(DISTINCT uid ORDER BY uid), 1, $max_uids) AS uids
    FROM ev GROUP BY src, peer
),
-- ---- evidence about the endpoint, per group (over the group's connections) ----
guid AS (SELECT DISTINCT src, peer, uid FROM ev),
gconn AS (
    SELECT g.src, g.peer,
           max(c.service) AS service,
           bool_or(c.local_resp) AS local_peer,
           -- payload that was captured (not snapped to headers) and that no analyzer recognised
           bool_or(c.proto = 'tcp' AND c.service IS NULL AND c.orig_seen_bytes + c.resp_seen_bytes > 0
                   AND c.missed_bytes < c.orig_seen_bytes + c.resp_seen_bytes) AS unidentified_payload,
           -- a host profile or a shell's banner in the clear (conn.orig_profile: a RAT's registration)
           max(coalesce(c.orig_profile, c.resp_profile)) AS profile_text
    FROM guid g JOIN conn c ON c.uid = g.uid GROUP BY g.src, g.peer
),
-- the capture's clock is off (a replay, a wrong sensor clock) when most certificate-bearing peers, 3 or
-- more, look expired: then expiry is no evidence (as in suspicious_tls)
clock AS (
    SELECT coalesce(count(DISTINCT resp_h) FILTER (WHERE expired_at_capture_time) >= 3
                    AND count(DISTINCT resp_h) FILTER (WHERE expired_at_capture_time)
                        > 0.5 * count(DISTINCT resp_h) FILTER (WHERE expired_at_capture_time IS NOT NULL), false) AS clock_off
    FROM tls
),
gtls AS (
    SELECT g.src, g.peer, bool_or(coalesce(t.self_signed, false)) AS self_signed,
           bool_or(coalesce(t.expired_at_capture_time, false) AND NOT c.clock_off) AS expired,
           -- an SNI the leaf's names do not cover (SAN, a wildcard for one label, else the subject CN)
           bool_or(CASE WHEN t.server_name IS NULL OR (coalesce(array_length(t.san_dns), 0) = 0 AND t.subject IS NULL) THEN false
                        ELSE NOT (array_has(t.san_dns, lower(t.server_name))
                                  OR array_has(t.san_dns, '*.' || regexp_replace(lower(t.server_name), '^[^.]+\.', ''))
                                  OR (coalesce(array_length(t.san_dns), 0) = 0
                                      AND strpos(lower(t.subject), 'cn=' || lower(t.server_name)) > 0)) END) AS mismatch,
           -- a ClientHello (TLS or QUIC) that names no server: a client given an address, not a name
           -- (the TLS side of an IP literal as HTTP Host)
           bool_or(t.server_name IS NULL AND t.ja3 IS NOT NULL) AS no_sni,
           -- ... and it offered HTTP (h2, http/1.1, h3 and its drafts): HTTPS to an IP literal
           bool_or(t.server_name IS NULL AND t.ja3 IS NOT NULL
                   AND (array_has(t.alpn_offered, 'h2') OR array_has(t.alpn_offered, 'http/1.1')
                        OR array_has(t.alpn_offered, 'h3') OR array_to_string(t.alpn_offered, ',') LIKE '%h3-%')) AS https_no_sni,
           max(t.ja4) AS ja4,
           -- no handshake of the group showed a certificate (TLS 1.3 encrypts it; a resumed session
           -- sends none): what the certificate would say cannot be told
           bool_and(t.self_signed IS NULL) AS no_cert
    FROM guid g JOIN tls t ON t.uid = g.uid CROSS JOIN clock c GROUP BY g.src, g.peer
),
ghttp AS (
    SELECT g.src, g.peer, bool_or(ip_version(split_part(h.host, ':', 1)) IS NOT NULL OR h.host LIKE '[%') AS ip_host,
           max(h.user_agent) AS user_agent
    FROM guid g JOIN http h ON h.uid = g.uid GROUP BY g.src, g.peer
),
-- every HTTP answer of the group is the same IP address and nothing else (an IP-echo service's answer)
gecho AS (
    SELECT g.src, g.peer,
           count(*) > 0 AND count(f.text_address) = count(*) AND count(DISTINCT f.text_address) = 1 AS ip_echo
    FROM guid g JOIN http h ON h.uid = g.uid
    LEFT JOIN files f ON f.uid = h.uid AND f.trans_depth = h.trans_depth AND NOT f.is_orig
    GROUP BY g.src, g.peer
),
answered AS (
    SELECT DISTINCT a AS addr FROM (SELECT unnest(answers) AS a FROM dns WHERE answers IS NOT NULL) x
    WHERE ip_version(a) IS NOT NULL
),
dns_users AS (SELECT DISTINCT orig_h AS src FROM dns),
-- how many peers a source reaches with one TLS fingerprint / User-Agent, and how many peers in all
ja4_use AS (SELECT orig_h AS src, ja4, count(DISTINCT coalesce(server_name, resp_h)) AS peers FROM tls WHERE ja4 IS NOT NULL GROUP BY orig_h, ja4),
tls_peers AS (SELECT orig_h AS src, count(DISTINCT coalesce(server_name, resp_h)) AS peers FROM tls GROUP BY orig_h),
ua_use AS (SELECT orig_h AS src, user_agent, count(DISTINCT coalesce(host, resp_h)) AS peers FROM http WHERE user_agent IS NOT NULL GROUP BY orig_h, user_agent),
http_peers AS (SELECT orig_h AS src, count(DISTINCT coalesce(host, resp_h)) AS peers FROM http GROUP BY orig_h),
-- the browser a source browses with: browser User-Agents it sends to 3+ peers
browsers AS (SELECT src, count(*) AS uas FROM ua_use WHERE user_agent LIKE 'Mozilla/%' AND peers >= 3 GROUP BY src),
stats AS (
    SELECT i.*, h.period, h.n_gaps, h.hit_share, h.multi_share, h.bounded_share, h.missed_beats, h.interval_histogram,
           s.size_median, m.size_mad / greatest(s.size_median, 1) AS size_dispersion, f.sources,
           (i.t1 - i.t0) AS span_s,
           (i.t1 - i.t0) / greatest(sp.c1 - sp.c0, 1) AS coverage,
           greatest((h.hit_share - 0.174) / sqrt(0.174 * 0.826 / h.n_gaps),
                    (h.multi_share - 0.337) / sqrt(0.337 * 0.663 / h.n_gaps),
                    0.7 * (h.bounded_share - 0.621) / sqrt(0.621 * 0.379 / h.n_gaps)) AS z,
           gc.service, coalesce(gc.local_peer, false) AS local_peer,
           coalesce(gc.unidentified_payload, false) AS unidentified_payload,
           gc.profile_text,
           coalesce(gt.self_signed, false) AS self_signed, coalesce(gt.expired, false) AS expired,
           coalesce(gt.mismatch, false) AS name_mismatch,
           coalesce(gh.ip_host, false) AS ip_host,
           coalesce(gt.no_sni, false) AS no_sni,
           -- HTTPS to an address, unless the address is a public DoH resolver's (configured by address)
           coalesce(gt.https_no_sni, false) AND NOT array_has(string_to_array($doh_resolvers, ','), i.dst) AS https_no_sni,
           coalesce(ge.ip_echo, false) AS ip_echo,
           (an.addr IS NULL AND du.src IS NOT NULL) AS unnamed_peer,
           (ju.peers = 1 AND coalesce(tp.peers, 0) >= 3) AS rare_ja4,
           (uu.peers = 1 AND coalesce(hp.peers, 0) >= 3) AS rare_ua,
           -- a browser User-Agent for this peer only while the host browses with another: a string
           -- hard-coded in an implant (Empire, Cobalt Strike and Metasploit ship fixed IE/Chrome strings)
           (uu.peers = 1 AND gh.user_agent LIKE 'Mozilla/%' AND coalesce(br.uas, 0) >= 1) AS foreign_browser_ua,
           -- tasking: small idle check-ins, and some that carried much more (commands, payloads)
           (i.series = 'connections' AND s.size_median <= 2048 AND s.size_max >= greatest(8 * s.size_median, 4096)) AS tasking,
           -- what this capture cannot tell about the endpoint (said in the summary of a capped series,
           -- so that "none" reads as "not seen here", not as "checked and clean"); nothing for a LAN
           -- peer, for which none of these counts as evidence
           CASE WHEN coalesce(gc.local_peer, false) THEN '' ELSE concat_ws('; ',
               CASE WHEN du.src IS NULL THEN 'whether a DNS answer named the peer (the source sent no DNS)' END,
               CASE WHEN coalesce(gt.no_cert, false) THEN 'the certificate (none in the clear: TLS 1.3 or resumed sessions)' END,
               CASE WHEN gt.ja4 IS NOT NULL AND coalesce(tp.peers, 0) < 3 THEN 'whether the TLS fingerprint is used for this peer only (the source reaches ' || CAST(coalesce(tp.peers, 0) AS VARCHAR) || ' TLS peer(s), fewer than 3)' END,
               CASE WHEN gh.user_agent IS NOT NULL AND coalesce(hp.peers, 0) < 3 THEN 'whether the User-Agent is used for this peer only (the source reaches ' || CAST(coalesce(hp.peers, 0) AS VARCHAR) || ' HTTP peer(s), fewer than 3)' END
           ) END AS unchecked
    FROM info i
    JOIN hits h ON h.src = i.src AND h.peer = i.peer
    JOIN sz s ON s.src = i.src AND s.peer = i.peer
    JOIN szmad m ON m.src = i.src AND m.peer = i.peer
    JOIN fan f ON f.peer_name = i.peer_name
    JOIN group_span sp ON sp.src = i.src AND sp.peer = i.peer
    LEFT JOIN gconn gc ON gc.src = i.src AND gc.peer = i.peer
    LEFT JOIN gtls gt ON gt.src = i.src AND gt.peer = i.peer
    LEFT JOIN ghttp gh ON gh.src = i.src AND gh.peer = i.peer
    LEFT JOIN gecho ge ON ge.src = i.src AND ge.peer = i.peer
    LEFT JOIN answered an ON an.addr = i.dst
    LEFT JOIN dns_users du ON du.src = i.src
    LEFT JOIN ja4_use ju ON ju.src = i.src AND ju.ja4 = gt.ja4
    LEFT JOIN tls_peers tp ON tp.src = i.src
    LEFT JOIN ua_use uu ON uu.src = i.src AND uu.user_agent = gh.user_agent
    LEFT JOIN http_peers hp ON hp.src = i.src
    LEFT JOIN browsers br ON br.src = i.src
    WHERE i.events >= $min_events AND (i.t1 - i.t0) >= $min_burst_span_s
      AND ((i.t1 - i.t0) >= $min_span_s OR i.events >= $min_events_short)
),
judged AS (
    SELECT *,
           coalesce(service, '') IN ('ntp', 'dhcp', 'dhcpv6', 'ssdp', 'netbios-ns', 'netbios-dgm') AS infrastructure,
           (proto = 'udp' AND dport IN (123, 67, 68, 546, 547, 1900, 137, 138) AND service IS NULL) AS port_mismatch,
           -- a protocol recognised by content on a port not registered for it (TLS on 4444, HTTP on 7080)
           ((service = 'ssl' AND dport NOT IN (443, 8443, 9443, 993, 995, 465, 587, 636, 853, 989, 990, 992, 994, 5061, 5223, 5228, 8883, 8009))
            OR (service = 'http' AND dport NOT IN (80, 8080, 8000, 8008, 8888, 3128, 591, 81))
            -- QUIC: HTTP/3 on 443 (8443 beside it), DNS over QUIC on 853 (784 in its drafts)
            OR (service = 'quic' AND dport NOT IN (443, 8443, 853, 784))) AS odd_port,
           (series LIKE 'session %' AND size_median <= 512 AND size_dispersion <= 0.25) AS keepalive
    FROM stats
),
-- strong evidence counts 1, weak 0.5 (evidence_points = strong_points + weak_points / 2)
points AS (
    SELECT *,
           -- strong: a local (LAN) peer only counts a port whose payload is not its protocol, a victim
           -- profile, and a browser User-Agent the host's browser does not send (LAN devices - printers,
           -- NAS, cast receivers - are found by discovery, not DNS, and ship self-signed certificates; an
           -- agent polling a LAN server has its own User-Agent, which is not a browser's)
           CASE WHEN port_mismatch THEN 1 ELSE 0 END
           + CASE WHEN profile_text IS NOT NULL THEN 1 ELSE 0 END
           + CASE WHEN local_peer AND foreign_browser_ua THEN 1 ELSE 0 END
           + CASE WHEN local_peer THEN 0 ELSE
               (CASE WHEN self_signed THEN 1 ELSE 0 END + CASE WHEN expired THEN 1 ELSE 0 END
                + CASE WHEN name_mismatch THEN 1 ELSE 0 END
                + CASE WHEN ip_host OR https_no_sni THEN 1 ELSE 0 END) END AS strong_points,
           -- weak: an address no DNS answer named and a ClientHello naming no server are two views of
           -- one fact (the client was given an address: also true of devices with a hard-coded cloud
           -- address), so together they count once
           CASE WHEN local_peer THEN 0 ELSE
               CASE WHEN unnamed_peer OR (no_sni AND NOT https_no_sni) THEN 1 ELSE 0 END + CASE WHEN unidentified_payload THEN 1 ELSE 0 END
               + CASE WHEN rare_ja4 THEN 1 ELSE 0 END + CASE WHEN rare_ua THEN 1 ELSE 0 END
               + CASE WHEN tasking THEN 1 ELSE 0 END + CASE WHEN odd_port THEN 1 ELSE 0 END END AS weak_points
    FROM judged
),
evidence AS (
    SELECT *, strong_points + 0.5 * weak_points AS evidence_points,
           CASE WHEN unchecked = '' THEN '' ELSE '; not checkable in this capture: ' || unchecked END AS unchecked_note,
           -- one point lifts the cap, but a keepalive needs strong evidence: an application's own long
           -- session to servers its API named (not DNS), in its own protocol or TLS stack, shows weak
           -- evidence only, however many pieces
           (strong_points + 0.5 * weak_points >= 1 AND NOT (keepalive AND strong_points = 0)) AS uncapped,
           concat_ws('; ',
               CASE WHEN self_signed AND NOT local_peer THEN 'self-signed certificate' END,
               CASE WHEN expired AND NOT local_peer THEN 'expired certificate' END,
               CASE WHEN name_mismatch AND NOT local_peer THEN 'certificate does not cover the SNI' END,
               CASE WHEN ip_host AND NOT local_peer THEN 'IP literal as HTTP Host' END,
               CASE WHEN https_no_sni AND NOT local_peer THEN 'an HTTP client''s TLS/QUIC handshake naming no server (SNI): HTTPS to an address, the encrypted side of an IP literal as Host' END,
               CASE WHEN no_sni AND NOT https_no_sni AND NOT local_peer THEN 'TLS/QUIC handshake naming no server (SNI): the client was given an address' END,
               CASE WHEN port_mismatch THEN proto || '/' || CAST(dport AS VARCHAR) || ' without that protocol''s payload' END,
               CASE WHEN profile_text IS NOT NULL THEN 'the payload names the host in the clear (' || profile_text || ': a victim profile or a shell)' END,
               CASE WHEN unnamed_peer AND NOT local_peer THEN 'peer address named by no DNS answer in the capture' END,
               CASE WHEN unidentified_payload AND NOT local_peer THEN 'TCP payload of no known protocol' END,
               CASE WHEN rare_ja4 AND NOT local_peer THEN 'TLS fingerprint (JA4) used for this peer only' END,
               CASE WHEN rare_ua AND NOT local_peer THEN 'User-Agent used for this peer only' END,
               CASE WHEN foreign_browser_ua AND local_peer THEN 'a browser User-Agent used for this peer only while the host browses with another (a hard-coded one)' END,
               CASE WHEN tasking AND NOT local_peer THEN 'some check-ins carried far more than the idle ones (tasking)' END,
               CASE WHEN odd_port AND NOT local_peer THEN service || ' on port ' || CAST(dport AS VARCHAR) || ', not a port registered for it' END
           ) AS evidence_list
    FROM points
),
scored AS (
    SELECT src AS src_ip, dst AS dst_ip, dport AS dst_port, name AS domain, peer_name AS peer, series, proto, service,
           first_seen, last_seen, events, distinct_dsts, round(period, 2) AS period_s, n_gaps, round(span_s, 1) AS span_s,
           round(hit_share, 3) AS hit_share, round(multi_share, 3) AS multi_share,
           round(bounded_share, 3) AS bounded_share, missed_beats, round(z, 2) AS z, size_median,
           round(size_dispersion, 3) AS size_dispersion, round(least(1.0, coverage), 3) AS coverage, sources, interval_histogram,
           local_peer, keepalive, infrastructure, ip_echo, evidence_points, strong_points, uncapped, uids,
           CASE WHEN infrastructure THEN service || ' recognised by parsing (infrastructure), capped at low'
                WHEN uncapped THEN evidence_list
                WHEN ip_echo THEN concat_ws('; ', nullif(evidence_list, ''), 'every answer was the same IP address and nothing else (an IP-echo check: nothing was tasked through it; capped at low)')
                WHEN evidence_points > 0 THEN evidence_list || ' (weak evidence alone' || CASE WHEN keepalive THEN ' on a keepalive' ELSE '' END
                                              || ': capped at ' || CASE WHEN sources >= 3 THEN 'low, fleet-wide' ELSE 'medium' END || ')'
                                              || unchecked_note
                WHEN keepalive THEN 'none (a keepalive: periodicity alone is capped at low)'
                WHEN sources >= 3 THEN 'none (the same schedule to a peer 3+ sources share is fleet software: capped at low)'
                ELSE 'none (periodicity alone is capped at medium)' || unchecked_note END AS endpoint_evidence,
           unchecked,
           CASE WHEN keepalive THEN 'keepalive: tiny constant bursts inside one session'
                WHEN series LIKE 'session %' THEN 'bursts inside one long session'
                ELSE 'a new connection or request per check-in' END AS shape,
           least(100, greatest(0,
               20 + least(40, 8 * z)
               + 15 * least(1.0, coverage)
               + 10 * greatest(0, 1 - size_dispersion)
               + CASE WHEN sources = 1 THEN 10 WHEN sources = 2 THEN -10 ELSE -least(50, 20 + 12 * log2(sources / 3.0)) END
               + CASE WHEN events >= 20 THEN 5 ELSE 0 END
               - 2 * greatest(0, 12 - events)
           )) AS periodicity_score
    FROM evidence
    WHERE z >= $min_z
),
final AS (
    SELECT *,
           CASE WHEN infrastructure THEN least(periodicity_score, $max_infrastructure)
                WHEN uncapped THEN least(100, periodicity_score + 6 * evidence_points)
                WHEN ip_echo THEN least(periodicity_score, $max_ip_echo_without_evidence)
                WHEN keepalive AND evidence_points = 0 THEN least(periodicity_score, $max_keepalive_without_evidence)
                WHEN sources >= 3 THEN least(periodicity_score, $max_fleet_without_evidence)
                ELSE least(periodicity_score, $max_without_evidence) END AS score
    FROM scored
),
best AS (SELECT *, row_number() OVER (PARTITION BY src_ip, peer ORDER BY score DESC, series) AS rank FROM final)
SELECT src_ip, dst_ip, dst_port, domain, peer, series, proto, service, first_seen, last_seen, events, distinct_dsts, period_s,
       n_gaps, span_s, hit_share, multi_share, bounded_share, missed_beats, z, size_median, size_dispersion, coverage, sources,
       interval_histogram, shape, local_peer, ip_echo, endpoint_evidence, unchecked, evidence_points, round(periodicity_score, 1) AS periodicity_score, uids,
       score
FROM best WHERE rank = 1
ORDER BY score DESC, src_ip, peer
