-- id: dns_encoded_query
-- category: dns_tunnel
-- title: Data encoded in a few DNS names (single-shot DNS exfiltration)
-- description: The aggregate dns_tunnel detector needs several distinct names; a tool that exfiltrates a small file in
-- description: one or two queries leaves too few. This detector looks at single queries whose subdomain carries a lot
-- description: of data: at least min_encoded_chars characters (dots removed) in a hex/base32/base64 alphabet, or a
-- description: label of at least min_label_len characters with normalised entropy >= min_entropy. Groups per (source,
-- description: domain) with fewer than max_distinct distinct names (larger groups are dns_tunnel's), excluding domains
-- description: queried by 3+ sources (reputation services). Score: 40 + 5 per name (at most 15) + 5 if the longest
-- description: subdomain has 100+ characters: at most medium - a handful of names is a lead, not a verdict - unless a
-- description: label of 16+ characters decodes (hex, base32, base64) to a file's header (decoded_file_type: gzip, zip,
-- description: PE, ELF, PDF, PEM ...; such a label counts as a hit at any length): +30, high. A file carried in a
-- description: name is the verdict (DNSteal-style tools gzip a file and send it base64 in the names); identifiers and
-- description: hashes decode to no file format.
-- severity: high >= 65, medium >= 40, low >= 30
-- summary: {src_ip} sent {names} DNS name(s) under {domain} carrying encoded data (longest subdomain {longest} characters, charset {charsets}{file_evidence}; e.g. {example})
-- param: min_encoded_chars int = 48
-- param: min_label_len int = 40
-- param: min_entropy float = 0.7
-- param: max_distinct int = 8
-- param: max_uids int = 20
WITH q0 AS (
    SELECT uid, orig_h AS src, resp_h, ts, query,
           regexp_like(query, '[.][A-Za-z][A-Za-z-]{0,14}[.]?$') AS has_tld
    FROM dns WHERE query IS NOT NULL AND resp_p = 53
),
q AS (
    SELECT uid, src, ts, query,
           CASE WHEN has_tld THEN registered_domain(query) ELSE '(no TLD) via ' || resp_h END AS domain,
           CASE WHEN has_tld THEN subdomain(query) ELSE query END AS sub
    FROM q0
),
all_names AS (SELECT src, domain, count(DISTINCT sub) AS distinct_names FROM q WHERE domain IS NOT NULL GROUP BY src, domain),
fan AS (SELECT domain, count(DISTINCT src) AS sources FROM q WHERE domain IS NOT NULL GROUP BY domain),
hits AS (
    SELECT uid, src, domain, sub, ts, charset_class(sub) AS cs, decoded_file_type(sub) AS file_type
    FROM q
    WHERE domain IS NOT NULL AND sub <> ''
      AND ((length(replace(sub, '.', '')) >= $min_encoded_chars AND charset_class(sub) IN ('hex', 'base32', 'base64'))
           OR (max_label_len(sub) >= $min_label_len AND normalized_entropy(sub) >= $min_entropy)
           OR decoded_file_type(sub) IS NOT NULL)
),
found AS (
SELECT h.src AS src_ip, h.domain, min(h.ts) AS first_seen, max(h.ts) AS last_seen,
       count(DISTINCT h.sub) AS names, max(length(h.sub)) AS longest,
       array_to_string(array_agg(DISTINCT h.cs ORDER BY h.cs), ',') AS charsets,
       max(h.file_type) AS decoded_file,
       -- the example shows a name that decodes to a file when there is one
       coalesce(min(h.sub) FILTER (WHERE h.file_type IS NOT NULL), min(h.sub)) AS example,
       max(a.distinct_names) AS distinct_names_under_domain, max(f.sources) AS sources,
       array_slice(array_agg(DISTINCT h.uid ORDER BY h.uid), 1, $max_uids) AS uids,
       least(100, 40 + least(15, 5 * count(DISTINCT h.sub)) + CASE WHEN max(length(h.sub)) >= 100 THEN 5 ELSE 0 END
                  + CASE WHEN max(h.file_type) IS NOT NULL THEN 30 ELSE 0 END) AS score
FROM hits h
JOIN all_names a ON a.src = h.src AND a.domain = h.domain
JOIN fan f ON f.domain = h.domain
WHERE a.distinct_names < $max_distinct AND f.sources < 3
GROUP BY h.src, h.domain
)
SELECT *, CASE WHEN decoded_file IS NOT NULL THEN '; a name decodes to the header of a ' || decoded_file || ' file: a file carried in the name' ELSE '' END AS file_evidence
FROM found
ORDER BY score DESC, src_ip, domain
