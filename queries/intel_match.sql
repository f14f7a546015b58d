-- id: intel_match
-- category: intel
-- title: Traffic matching an indicator the analyst supplied (--intel FILE)
-- description: Joins the `intel` table with every table: addresses and prefixes against both ends of each
-- description: connection and against DNS answers, domains (and their subdomains) against DNS queries, HTTP
-- description: Host and TLS SNI, URLs against HTTP host + URI (with or without the query string), JA3/JA3S/JA4
-- description: against TLS handshakes, file hashes against the files table and the certificates' sha256.
-- description: One finding per (local host, indicator). A hit is high (80); +5 for each further table the
-- description: same indicator shows up in (DNS answer, then the connection, then TLS ...; up to +10), +10 when a
-- description: file or certificate hash matched (the sample itself crossed the wire). Other findings on the same
-- description: peer are raised by 15, on the same host by 10 (see the README). Empty without --intel.
-- severity: critical >= 90, high >= 65, medium >= 45, low >= 30
-- summary: {src_ip} matched {kind} {indicator} from {intel_source}{note_text}: {connections} connection(s), seen in {seen}
-- param: max_uids int = 20
-- the indicators' side of every join first (DataFusion builds its hash table from the left input):
-- the capture's side is streamed, so a flood of a million addresses costs no hash table of them
WITH ends AS (
    SELECT uid, ts, orig_h AS local, resp_h AS peer FROM conn
    UNION ALL
    SELECT uid, ts, resp_h AS local, orig_h AS peer FROM conn
),
answers AS (
    SELECT uid, ts, orig_h AS local, query, a AS peer
    FROM (SELECT uid, ts, orig_h, query, unnest(answers) AS a FROM dns WHERE answers IS NOT NULL) x
    WHERE ip_version(a) IS NOT NULL
),
addrs AS (SELECT DISTINCT peer FROM ends UNION SELECT DISTINCT peer FROM answers),
addr_hits AS (
    SELECT a.peer, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i JOIN addrs a ON i.kind = 'ip' AND i.value = a.peer
    UNION ALL
    SELECT x.peer, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i
    JOIN (SELECT peer, unnest(ip_prefixes(peer)) AS prefix FROM addrs) x ON i.kind = 'cidr' AND i.value = x.prefix
),
names AS (
    SELECT uid, ts, orig_h AS local, CAST(NULL AS VARCHAR) AS peer_ip, lower(rtrim(query, '.')) AS name, 'dns query' AS seen_in
    FROM dns WHERE query IS NOT NULL
    UNION ALL
    SELECT uid, ts, orig_h, resp_h, lower(regexp_replace(host, ':[0-9]+$', '')), 'http host'
    FROM http WHERE host IS NOT NULL AND host_address(host) IS NULL
    UNION ALL
    SELECT uid, ts, orig_h, resp_h, lower(rtrim(server_name, '.')), 'tls sni'
    FROM tls WHERE server_name IS NOT NULL
),
name_hits AS (
    SELECT x.name, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i
    JOIN (SELECT name, unnest(domain_suffixes(name)) AS suffix FROM (SELECT DISTINCT name FROM names) d) x
      ON i.kind = 'domain' AND i.value = x.suffix
),
urls AS (
    SELECT uid, ts, orig_h, resp_h, host, unnest(make_array(k, split_part(k, '?', 1))) AS key
    FROM (
        SELECT uid, ts, orig_h, resp_h, host,
               CASE WHEN uri LIKE 'http://%' OR uri LIKE 'https://%'
                    THEN regexp_replace(regexp_replace(uri, '^[a-zA-Z]+://([^/]*)', '\1'), '^([^/]*):(80|443)(/|$)', '\1\3')
                    ELSE lower(regexp_replace(host, ':(80|443)$', '')) || uri END AS k
        FROM http WHERE host IS NOT NULL AND uri IS NOT NULL
    ) h
),
hits AS (
    SELECT e.local, e.peer AS peer_ip, CAST(NULL AS VARCHAR) AS peer_name, 'connection' AS seen_in,
           e.uid, CAST(NULL AS VARCHAR) AS fuid, e.ts, h.kind, h.value, h.source, h.note, h.origin
    FROM addr_hits h JOIN ends e ON h.peer = e.peer
    UNION ALL
    SELECT a.local, a.peer, a.query, 'dns answer', a.uid, NULL, a.ts, h.kind, h.value, h.source, h.note, h.origin
    FROM addr_hits h JOIN answers a ON h.peer = a.peer
    UNION ALL
    SELECT n.local, n.peer_ip, n.name, n.seen_in, n.uid, NULL, n.ts, h.kind, h.value, h.source, h.note, h.origin
    FROM name_hits h JOIN names n ON h.name = n.name
    UNION ALL
    SELECT DISTINCT u.orig_h, u.resp_h, u.host, 'http url', u.uid, NULL, u.ts, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i JOIN urls u ON i.kind = 'url' AND i.value = u.key
    UNION ALL
    SELECT t.orig_h, t.resp_h, t.server_name, 'tls ja3', t.uid, NULL, t.ts, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i JOIN tls t ON i.kind IN ('ja3', 'md5') AND i.value = t.ja3
    UNION ALL
    SELECT t.orig_h, t.resp_h, t.server_name, 'tls ja3s', t.uid, NULL, t.ts, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i JOIN tls t ON i.kind IN ('ja3s', 'md5') AND i.value = t.ja3s
    UNION ALL
    SELECT t.orig_h, t.resp_h, t.server_name, 'tls ja4', t.uid, NULL, t.ts, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i JOIN tls t ON i.kind = 'ja4' AND i.value = t.ja4
    UNION ALL
    SELECT t.orig_h, t.resp_h, t.server_name, 'tls certificate', t.uid, NULL, t.ts, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i
    JOIN (SELECT uid, ts, orig_h, resp_h, server_name, unnest(cert_chain_sha256) AS h FROM tls WHERE cert_chain_sha256 IS NOT NULL) t
      ON i.kind = 'sha256' AND i.value = t.h
    UNION ALL
    SELECT f.orig_h, f.resp_h, CAST(NULL AS VARCHAR), 'file sha256', f.uid, f.fuid, f.ts, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i JOIN files f ON i.kind = 'sha256' AND i.value = f.sha256
    UNION ALL
    SELECT f.orig_h, f.resp_h, NULL, 'file sha1', f.uid, f.fuid, f.ts, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i JOIN files f ON i.kind = 'sha1' AND i.value = f.sha1
    UNION ALL
    SELECT f.orig_h, f.resp_h, NULL, 'file md5', f.uid, f.fuid, f.ts, i.kind, i.value, i.source, i.note, i.origin
    FROM intel i JOIN files f ON i.kind = 'md5' AND i.value = f.md5
),
g AS (
    SELECT local, kind, value, source,
           max(note) AS note, min(origin) AS origin,
           max(peer_ip) AS peer_ip, max(peer_name) AS peer_name,
           count(DISTINCT uid) AS connections, count(DISTINCT peer_ip) AS peers,
           min(ts) AS first_seen, max(ts) AS last_seen,
           array_agg(DISTINCT seen_in ORDER BY seen_in) AS seen_in,
           count(DISTINCT seen_in) AS places,
           bool_or(seen_in IN ('file sha256', 'file sha1', 'file md5', 'tls certificate')) AS sample,
           array_slice(array_agg(DISTINCT uid ORDER BY uid), 1, $max_uids) AS uids,
           array_slice(array_agg(DISTINCT fuid ORDER BY fuid) FILTER (WHERE fuid IS NOT NULL), 1, 20) AS fuids
    FROM hits
    WHERE local IS NOT NULL
    GROUP BY local, kind, value, source
)
SELECT local AS src_ip, peer_ip AS dst_ip, peer_name AS domain, first_seen, last_seen,
       kind, value AS indicator, source AS intel_source, note, origin, connections, peers, seen_in, uids, fuids,
       CASE WHEN note IS NULL OR note = '' THEN '' ELSE ' (' || note || ')' END AS note_text,
       array_to_string(seen_in, ', ') AS seen,
       least(100, 80 + least(10, 5 * (places - 1)) + CASE WHEN sample THEN 10 ELSE 0 END) AS score
FROM g
ORDER BY score DESC, src_ip, indicator
