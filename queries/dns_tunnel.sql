-- id: dns_tunnel
-- category: dns_tunnel
-- title: DNS tunnelling (information carried in subdomains)
-- description: Per (source, registered domain; names without a TLD-like last label group per resolver) over queries to port 53 (mDNS/LLMNR are link-local discovery, not a
-- description: path through resolvers): distinct subdomains and the information they carry - info_content, the zlib
-- description: length of the sorted distinct subdomains, so repetition and dictionary words compress away and
-- description: length bias of per-query entropy does not matter - with its rate, length-normalised entropy (weighted
-- description: by subdomain length, since short strings always look random), label lengths, charset shares, the
-- description: qtype mix, the NXDOMAIN share, answer sizes, per 5-minute window the busiest window's distinct
-- description: subdomains, information and rate and the number of active windows, how many internal sources
-- description: use the domain, and whether the source ever connected to an address the domain answered with.
-- description: Score: 25*log10(1 + info/200 B), +up to 20 entropy, -15..+10 label length (short numeric labels are
-- description: reverse/DNSBL-style), +10 encoded charset share, +10 unusual qtype share (TXT NULL CNAME MX SRV ANY,
-- description: private) and +10 more for the share of NULL or private-use qtypes (no standard client asks them; their
-- description: answers carry arbitrary bytes, iodine's default), +5 uniqueness; -25 domain used by 3+ sources (CDNs, antivirus reputation), -10 by 2; -20
-- description: when the source connected to an answered address (real name resolution, not a channel); +15 x the
-- description: share of answer records that carry an encoded blob back (encoded_rdata: NULL/generic data, encoded
-- description: TXT, encoded names under the domain), the return half of a two-way channel (iodine, dnscat2,
-- description: dns2tcp answer with data; look-ups answer with addresses, codes or short acknowledgements); +10 x the
-- description: share of names with a label filled to DNS's 63-character maximum (an encoder packing data cuts labels
-- description: there; host names, CDN ids and hashes have their own, shorter lengths: md5 32, sha1 40, sha256 split in two);
-- description: +15 when a label decodes (hex, base32, base64) to a file's header (decoded_file_type: gzip, zip, PE,
-- description: PEM ...): the names carry a file.
-- description: Reputation and DNSBL look-ups (A/AAAA queries answered only with 127.0.0.0/8 codes or NXDOMAIN, some
-- description: 127.x, no connection to an answer) are capped at medium (max_lookup), at low when 2+ sources use the
-- description: domain (max_lookup_shared): they carry hashes or reversed addresses, and nothing comes back.
-- severity: critical >= 85, high >= 65, medium >= 40, low >= 25
-- materialize: q2
-- summary: {src_ip} sent {queries} queries with {distinct_subdomains} distinct subdomains under {domain} carrying about {info_bytes:bytes} of information ({info_rate_bps:1} B/s over {duration_s:0} s; mean normalised entropy {mean_norm_entropy:2}, longest label {max_label} chars, qtypes {qtype_mix}, NXDOMAIN {nxdomain_share:pct}; used by {sources} source(s); {answer_shape})
-- param: min_distinct int = 8
-- param: min_info_bytes int = 200
-- param: max_lookup float = 64.0
-- param: max_lookup_shared float = 39.0
-- param: max_uids int = 20
WITH q0 AS (
    SELECT uid, orig_h AS src, resp_h, ts, CAST(ts AS BIGINT) AS tus, query, qtype, qtype_name, rcode_name, response_bytes, answers,
           -- a name whose last label cannot be a TLD (digits, or too long: dnscat2 without a domain) groups by resolver
           regexp_like(query, '[.][A-Za-z][A-Za-z-]{0,14}[.]?$') AS has_tld
    FROM dns
    WHERE query IS NOT NULL AND resp_p = 53
),
q AS (
    SELECT uid, src, ts, tus, query, qtype, qtype_name, rcode_name, response_bytes, answers,
           CASE WHEN has_tld THEN registered_domain(query) ELSE '(no TLD) via ' || resp_h END AS domain,
           CASE WHEN has_tld THEN subdomain(query) ELSE query END AS sub
    FROM q0
),
q2 AS (SELECT * FROM q WHERE domain IS NOT NULL AND sub IS NOT NULL AND sub <> ''),
agg AS (
    SELECT src, domain,
           count(*) AS queries,
           count(DISTINCT sub) AS distinct_subdomains,
           info_content(sub) AS info_bytes,
           min(ts) AS first_seen, max(ts) AS last_seen,
           (max(tus) - min(tus)) / 1e6 AS duration_s,
           avg(normalized_entropy(sub)) AS mean_norm_entropy,
           avg(shannon_entropy(sub)) AS mean_entropy,
           max(max_label_len(sub)) AS max_label,
           avg(CAST(max_label_len(sub) AS DOUBLE)) AS mean_max_label,
           avg(CAST(length(sub) AS DOUBLE)) AS mean_sub_len,
           avg(CASE WHEN charset_class(sub) IN ('hex', 'base32', 'base64') THEN 1.0 ELSE 0.0 END) AS encoded_share,
           avg(CASE WHEN charset_class(sub) = 'hex' THEN 1.0 ELSE 0.0 END) AS hex_share,
           avg(CASE WHEN charset_class(sub) = 'base32' THEN 1.0 ELSE 0.0 END) AS base32_share,
           avg(CASE WHEN charset_class(sub) = 'base64' THEN 1.0 ELSE 0.0 END) AS base64_share,
           avg(CASE WHEN qtype_name IN ('TXT', 'NULL', 'CNAME', 'MX', 'SRV', '*') OR qtype_name LIKE 'TYPE%' THEN 1.0 ELSE 0.0 END) AS unusual_qtype_share,
           -- NULL (RFC 1035's experimental type) and the private-use range: no standard client asks
           -- them; a tunnel does, because their answers carry arbitrary bytes (iodine's default)
           avg(CASE WHEN qtype = 10 OR qtype BETWEEN 65280 AND 65534 THEN 1.0 ELSE 0.0 END) AS raw_qtype_share,
           avg(CASE WHEN rcode_name = 'NXDOMAIN' THEN 1.0 ELSE 0.0 END) AS nxdomain_share,
           -- RFC 5782 answers: every address in 127.0.0.0/8 (DNSBL / reputation "listed" codes)
           avg(CASE WHEN regexp_like(array_to_string(answers, ','), '^127[.][0-9]+[.][0-9]+[.][0-9]+(,127[.][0-9]+[.][0-9]+[.][0-9]+)*$')
                    THEN 1.0 ELSE 0.0 END) AS loopback_answer_share,
           avg(CAST(response_bytes AS DOUBLE)) AS mean_response_bytes,
           -- labels cut at the 63-character maximum: data packed by an encoder
           avg(CASE WHEN max_label_len(sub) >= 63 THEN 1.0 ELSE 0.0 END) AS full_label_share,
           -- a label that decodes to a file's header: the names carry a file
           max(decoded_file_type(sub)) AS decoded_file,
           array_slice(array_agg(DISTINCT sub ORDER BY sub), 1, 5) AS sample_subdomains
    FROM q2 GROUP BY src, domain
),
qt AS (SELECT src, domain, qtype_name, count(*) AS n FROM q2 GROUP BY src, domain, qtype_name),
qtmix AS (
    SELECT src, domain, array_to_string(array_agg(qtype_name || ':' || CAST(n AS VARCHAR) ORDER BY n DESC, qtype_name), ' ') AS qtype_mix
    FROM qt GROUP BY src, domain
),
win AS (
    SELECT src, domain, date_bin(INTERVAL '5 minutes', ts) AS w, info_content(sub) AS info, count(DISTINCT sub) AS distinct_subs
    FROM q2 GROUP BY src, domain, date_bin(INTERVAL '5 minutes', ts)
),
winmax AS (
    SELECT src, domain, max(info) AS max_window_info_bytes, max(distinct_subs) AS max_window_distinct,
           max(info) / 300.0 AS max_window_info_rate_bps, count(*) AS active_windows
    FROM win GROUP BY src, domain
),
fan AS (SELECT domain, count(DISTINCT src) AS sources FROM q2 GROUP BY domain),
rr AS (SELECT src, domain, unnest(answers) AS a FROM q2 WHERE answers IS NOT NULL),
ans AS (SELECT DISTINCT src, domain, a AS addr FROM rr WHERE ip_version(a) IS NOT NULL),
-- answer records that carry an encoded blob back (NULL data, encoded TXT, encoded names under the
-- domain): the return half of a two-way channel; look-ups get codes or addresses back
rdata AS (
    SELECT src, domain, count(*) AS answer_records,
           avg(CASE WHEN encoded_rdata(a, domain) THEN 1.0 ELSE 0.0 END) AS encoded_answer_share
    FROM rr GROUP BY src, domain
),
conn_ans AS (
    SELECT a.src, a.domain, count(*) AS connections_to_answers
    FROM ans a JOIN conn c ON c.orig_h = a.src AND c.resp_h = a.addr
    GROUP BY a.src, a.domain
),
scored AS (
    SELECT a.*, f.sources, m.qtype_mix, w.max_window_info_bytes, w.max_window_distinct, w.max_window_info_rate_bps, w.active_windows,
           coalesce(ca.connections_to_answers, 0) AS connections_to_answers,
           coalesce(rd.answer_records, 0) AS answer_records, coalesce(rd.encoded_answer_share, 0.0) AS encoded_answer_share,
           a.info_bytes / greatest(a.duration_s, 60.0) AS info_rate_bps,
           CAST(a.distinct_subdomains AS DOUBLE) / a.queries AS uniqueness
    FROM agg a
    JOIN fan f ON f.domain = a.domain
    JOIN qtmix m ON m.src = a.src AND m.domain = a.domain
    JOIN winmax w ON w.src = a.src AND w.domain = a.domain
    LEFT JOIN conn_ans ca ON ca.src = a.src AND ca.domain = a.domain
    LEFT JOIN rdata rd ON rd.src = a.src AND rd.domain = a.domain
),
shaped AS (
    SELECT *,
           -- the shape of a reputation / DNSBL service: address look-ups answered only with 127.x codes
           -- or NXDOMAIN ("not listed"), no follow-up connection; its labels are hashes or reversed
           -- addresses, so they carry information like a tunnel's but nothing comes back
           (loopback_answer_share > 0 AND loopback_answer_share + nxdomain_share >= 0.9
            AND unusual_qtype_share = 0 AND connections_to_answers = 0) AS lookup_shape
    FROM scored
),
scored2 AS (
    SELECT *,
           least(100, greatest(0,
               25 * log10(1 + info_bytes / 200.0)
               + 20 * greatest(0, mean_norm_entropy - 0.6) / 0.4 * least(1.0, mean_sub_len / 32.0)
               + least(10, greatest(-15, (mean_max_label - 12) * 1.5))
               + 10 * encoded_share
               + 10 * unusual_qtype_share
               + 10 * raw_qtype_share
               + 5 * uniqueness
               + 15 * encoded_answer_share
               + 10 * full_label_share
               + CASE WHEN decoded_file IS NOT NULL THEN 15 ELSE 0 END
               - CASE WHEN sources >= 3 THEN 25 WHEN sources = 2 THEN 10 ELSE 0 END
               - CASE WHEN connections_to_answers > 0 THEN 20 ELSE 0 END
           )) AS raw_score
    FROM shaped
),
found AS (
SELECT src AS src_ip, domain, first_seen, last_seen, queries, distinct_subdomains, info_bytes,
       round(info_rate_bps, 2) AS info_rate_bps, round(duration_s, 1) AS duration_s,
       max_window_info_bytes, max_window_distinct, round(max_window_info_rate_bps, 2) AS max_window_info_rate_bps, active_windows, round(mean_norm_entropy, 3) AS mean_norm_entropy, round(mean_entropy, 3) AS mean_entropy,
       max_label, round(mean_max_label, 1) AS mean_max_label, round(mean_sub_len, 1) AS mean_sub_len,
       round(encoded_share, 3) AS encoded_share, round(hex_share, 3) AS hex_share, round(base32_share, 3) AS base32_share,
       round(base64_share, 3) AS base64_share, qtype_mix, round(unusual_qtype_share, 3) AS unusual_qtype_share,
       round(raw_qtype_share, 3) AS raw_qtype_share, round(nxdomain_share, 3) AS nxdomain_share, round(mean_response_bytes, 1) AS mean_response_bytes,
       sources, connections_to_answers, round(uniqueness, 3) AS uniqueness, sample_subdomains,
       round(loopback_answer_share, 3) AS loopback_answer_share, lookup_shape,
       answer_records, round(encoded_answer_share, 3) AS encoded_answer_share,
       round(full_label_share, 3) AS full_label_share, decoded_file,
       CASE WHEN lookup_shape THEN 'answered only with 127.x codes or NXDOMAIN and never connected to: the shape of a reputation/DNSBL look-up (capped at ' || CASE WHEN sources >= 2 THEN 'low' ELSE 'medium' END || ')'
            ELSE 'answers: ' || CAST(round(100 * nxdomain_share) AS VARCHAR) || '% NXDOMAIN'
                 || CASE WHEN encoded_answer_share > 0
                         THEN ', ' || CAST(round(100 * encoded_answer_share) AS VARCHAR) || '% of answer records carry encoded data back (a two-way channel)'
                         ELSE '' END END
       || CASE WHEN full_label_share > 0 THEN '; ' || CAST(round(100 * full_label_share) AS VARCHAR) || '% of names fill a label to the 63-character maximum (data packed by an encoder)' ELSE '' END
       || CASE WHEN decoded_file IS NOT NULL THEN '; a name decodes to the header of a ' || decoded_file || ' file (a file carried in the names)' ELSE '' END AS answer_shape,
       round(raw_score, 1) AS raw_score,
       CASE WHEN lookup_shape AND sources >= 2 THEN least(raw_score, $max_lookup_shared)
            WHEN lookup_shape THEN least(raw_score, $max_lookup)
            ELSE raw_score END AS score
FROM scored2
WHERE distinct_subdomains >= $min_distinct AND info_bytes >= $min_info_bytes
),
-- up to 20 connection ids per finding, gathered only for the groups that became findings
uids AS (
    SELECT f.src_ip, f.domain, array_slice(array_agg(DISTINCT q2.uid ORDER BY q2.uid), 1, $max_uids) AS uids
    FROM found f JOIN q2 ON q2.src = f.src_ip AND q2.domain = f.domain
    GROUP BY f.src_ip, f.domain
)
SELECT f.*, u.uids FROM found f LEFT JOIN uids u ON u.src_ip = f.src_ip AND u.domain = f.domain
ORDER BY f.score DESC, f.src_ip, f.domain
