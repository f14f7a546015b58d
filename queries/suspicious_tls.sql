-- id: suspicious_tls
-- category: suspicious_tls
-- title: TLS to public peers with certificates or handshakes benign services rarely show
-- description: Per (client, public server address, port, SNI) over tls, facts a CA-issued service does not produce:
-- description: a self-signed leaf (+30), a leaf not valid at the time of the handshake (+10; not counted when most of
-- description: the capture's certificate-bearing peers, 3 or more, look expired: the capture's clock or a replay is
-- description: off, not the certificates), an SNI the leaf's
-- description: names do not cover (SAN, wildcard for one label, else subject CN; +20), no SNI from a client that sends
-- description: one in at least min_sni_share of its other handshakes (3+ with SNI; +15), an IP literal as SNI (+5).
-- description: A row needs one of those. Context: the peer address named by no DNS answer although the client uses
-- description: DNS (+10), a TLS client fingerprint (JA4) the client uses for this peer only while it has 3+ peers
-- description: (+10), a port outside the usual TLS ones (+5); a peer 3+ clients reach with the same facts loses 15
-- description: (a fleet's appliance or proxy). TLS 1.3 hides the certificate from a passive observer, so only the
-- description: handshake facts apply there. LAN peers are left out: LAN devices ship self-signed certificates.
-- description: Score: 25 + the points above; one fact alone is held to 60 (medium: test servers, IRC and
-- description: personal hosts use self-signed certificates too), high needs two facts or more.
-- severity: critical >= 95, high >= 65, medium >= 45, low >= 30
-- summary: {src_ip} -> {peer}: {facts} ({handshakes} handshake(s); subject {subject}; {context})
-- param: min_sni_share float = 0.6
-- param: max_uids int = 20
WITH clock AS (
    SELECT coalesce(count(DISTINCT resp_h) FILTER (WHERE expired_at_capture_time) >= 3
                    AND count(DISTINCT resp_h) FILTER (WHERE expired_at_capture_time)
                        > 0.5 * count(DISTINCT resp_h) FILTER (WHERE expired_at_capture_time IS NOT NULL), false) AS clock_off
    FROM tls
),
t AS (
    SELECT uid, ts, orig_h, resp_h, resp_p, server_name, subject, issuer, san_dns, ja4, version,
           coalesce(self_signed, false) AS self_signed, coalesce(expired_at_capture_time, false) AND NOT c.clock_off AS expired,
           lower(server_name) AS sni
    FROM tls CROSS JOIN clock c
    WHERE NOT is_private_ip(resp_h)
),
-- does the client normally send SNI?
sni_use AS (
    SELECT orig_h, count(*) FILTER (WHERE server_name IS NOT NULL) AS with_sni, count(*) AS total FROM t GROUP BY orig_h
),
f AS (
    SELECT t.*,
           CASE WHEN sni IS NULL OR (coalesce(array_length(san_dns), 0) = 0 AND subject IS NULL) THEN false
                ELSE NOT (array_has(san_dns, sni)
                          OR array_has(san_dns, '*.' || regexp_replace(sni, '^[^.]+\.', ''))
                          OR (coalesce(array_length(san_dns), 0) = 0 AND strpos(lower(subject), 'cn=' || sni) > 0)) END AS mismatch,
           (t.server_name IS NULL AND u.with_sni >= 3 AND u.with_sni >= $min_sni_share * (u.total - 1)) AS sni_missing,
           ip_version(t.server_name) IS NOT NULL AS sni_ip
    FROM t JOIN sni_use u ON u.orig_h = t.orig_h
),
g AS (
    SELECT orig_h, resp_h, resp_p, max(server_name) AS sni, count(*) AS handshakes,
           min(ts) AS first_seen, max(ts) AS last_seen,
           bool_or(self_signed) AS self_signed, bool_or(expired) AS expired, bool_or(mismatch) AS mismatch,
           bool_or(sni_missing) AS sni_missing, bool_or(sni_ip) AS sni_ip,
           max(subject) AS subject, max(issuer) AS issuer, max(ja4) AS ja4, max(version) AS version,
           array_slice(array_agg(DISTINCT uid ORDER BY uid), 1, $max_uids) AS uids
    FROM f GROUP BY orig_h, resp_h, resp_p, coalesce(server_name, '')
    HAVING bool_or(self_signed) OR bool_or(expired) OR bool_or(mismatch) OR bool_or(sni_missing) OR bool_or(sni_ip)
),
answered AS (
    SELECT DISTINCT a AS addr FROM (SELECT unnest(answers) AS a FROM dns WHERE answers IS NOT NULL) x
    WHERE ip_version(a) IS NOT NULL
),
dns_users AS (SELECT DISTINCT orig_h AS src FROM dns),
ja4_use AS (SELECT orig_h, ja4, count(DISTINCT coalesce(server_name, resp_h)) AS peers FROM tls WHERE ja4 IS NOT NULL GROUP BY orig_h, ja4),
tls_peers AS (SELECT orig_h, count(DISTINCT coalesce(server_name, resp_h)) AS peers FROM tls GROUP BY orig_h),
fleet AS (
    SELECT resp_h, resp_p, self_signed, expired, mismatch, count(DISTINCT orig_h) AS clients
    FROM g GROUP BY resp_h, resp_p, self_signed, expired, mismatch
),
j AS (
    SELECT g.*, fl.clients,
           (an.addr IS NULL AND du.src IS NOT NULL) AS unnamed_peer,
           (ju.peers = 1 AND coalesce(tp.peers, 0) >= 3) AS rare_ja4,
           g.resp_p NOT IN (443, 8443, 993, 995, 465, 587, 636, 853, 5223, 5228, 5061, 990, 989, 992, 994, 3269, 8883, 443) AS odd_port
    FROM g
    JOIN fleet fl ON fl.resp_h = g.resp_h AND fl.resp_p = g.resp_p AND fl.self_signed = g.self_signed
                 AND fl.expired = g.expired AND fl.mismatch = g.mismatch
    LEFT JOIN answered an ON an.addr = g.resp_h
    LEFT JOIN dns_users du ON du.src = g.orig_h
    LEFT JOIN ja4_use ju ON ju.orig_h = g.orig_h AND ju.ja4 = g.ja4
    LEFT JOIN tls_peers tp ON tp.orig_h = g.orig_h
)
SELECT orig_h AS src_ip, resp_h AS dst_ip, CAST(resp_p AS INT) AS dst_port, sni AS domain, first_seen, last_seen,
       handshakes, self_signed, expired, mismatch AS name_mismatch, sni_missing, coalesce(subject, '(not seen)') AS subject, issuer, ja4, version,
       clients, uids,
       coalesce(sni, resp_h) || ':' || CAST(resp_p AS VARCHAR) AS peer,
       concat_ws(', ',
           CASE WHEN self_signed THEN 'self-signed certificate' END,
           CASE WHEN expired THEN 'certificate not valid at handshake time' END,
           CASE WHEN mismatch THEN 'certificate does not cover the SNI' END,
           CASE WHEN sni_missing THEN 'no SNI (this client sends one elsewhere)' END,
           CASE WHEN sni_ip THEN 'SNI is an IP address' END) AS facts,
       coalesce(nullif(concat_ws(', ',
           CASE WHEN unnamed_peer THEN 'peer address named by no DNS answer' END,
           CASE WHEN rare_ja4 THEN 'client fingerprint used for this peer only' END,
           CASE WHEN odd_port THEN 'port ' || CAST(resp_p AS VARCHAR) END,
           CASE WHEN clients >= 3 THEN CAST(clients AS VARCHAR) || ' clients see the same' END), ''), 'no other evidence') AS context,
       round(least(CASE WHEN (CAST(self_signed AS INT) + CAST(expired AS INT) + CAST(mismatch AS INT)
                              + CAST(sni_missing AS INT) + CAST(sni_ip AS INT)) >= 2 THEN 100 ELSE 60 END, greatest(0,
           25
           + CASE WHEN self_signed THEN 30 ELSE 0 END
           + CASE WHEN expired THEN 10 ELSE 0 END
           + CASE WHEN mismatch THEN 20 ELSE 0 END
           + CASE WHEN sni_missing THEN 15 ELSE 0 END
           + CASE WHEN sni_ip THEN 5 ELSE 0 END
           + CASE WHEN unnamed_peer THEN 10 ELSE 0 END
           + CASE WHEN rare_ja4 THEN 10 ELSE 0 END
           + CASE WHEN odd_port THEN 5 ELSE 0 END
           - CASE WHEN clients >= 3 THEN 15 ELSE 0 END)), 1) AS score
FROM j
ORDER BY score DESC, src_ip
