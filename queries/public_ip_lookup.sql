-- id: public_ip_lookup
-- category: discovery
-- title: A host asked a web service for its own public address (context)
-- description: One finding per source over dns, tls and http: a DNS query, TLS SNI or HTTP Host under lookup_domains
-- description: (IP-echo services; the same list as ftp_smtp_exfil's - override both), or a plain-HTTP answer that is one IP
-- description: address and nothing else (files.text_address: an IP-echo service the list does not name, found by what it said). Infostealers, RATs and loaders do this first (to tag their loot, pick a
-- description: configuration or test connectivity); so do dynamic-DNS updaters, VPN clients and some games, so
-- description: it is context and never more than low: ftp_smtp_exfil counts it as evidence beside an upload.
-- description: Score 35, +5 when asked over plain HTTP without a browser's User-Agent (scripted), +5 for 2+
-- description: services; at most 44 (low).
-- description: lookup_domains: IP-echo services (answer a client with its own public address) of the kind public IDS
-- description: rule sets flag as "External IP Lookup" (ET Open's policy rules), collected 2026-12; registered domains
-- description: match their subdomains. Replace it with --param <detector>.lookup_domains=a.example,b.example.
-- severity: critical >= 85, high >= 65, medium >= 45, low >= 30
-- summary: {src_ip} looked up its public address via {services} ({lookups} time(s){how})
-- param: lookup_domains string = ipify.org,ip-api.com,icanhazip.com,ifconfig.me,ifconfig.co,ipinfo.io,wtfismyip.com,myexternalip.com,ipecho.net,ident.me,my-ip.io,ipapi.co,geoplugin.net,freegeoip.app,seeip.org,whatismyipaddress.com,ipwho.is,ip.sb,checkip.dyndns.org,checkip.dyndns.com,checkip.amazonaws.com,myip.opendns.com,api.myip.com,ipwhois.app,db-ip.com
-- param: max_uids int = 20
WITH n AS (
    SELECT uid, orig_h AS src, lower(query) AS name, ts, resp_h, 'dns' AS via, CAST(NULL AS VARCHAR) AS ua FROM dns WHERE query IS NOT NULL
    UNION ALL SELECT uid, orig_h, lower(server_name), ts, resp_h, 'tls', CAST(NULL AS VARCHAR) FROM tls WHERE server_name IS NOT NULL
    UNION ALL SELECT uid, orig_h, lower(regexp_replace(host, ':[0-9]+$', '')), ts, resp_h, 'http', lower(coalesce(user_agent, '')) FROM http WHERE host IS NOT NULL
),
-- answers that are an address and nothing else: an IP-echo service, named on the list or not
echoes AS (
    SELECT h.uid, h.orig_h AS src, lower(coalesce(regexp_replace(h.host, ':[0-9]+$', ''), h.resp_h)) AS name, h.ts, h.resp_h,
           'http' AS via, lower(coalesce(h.user_agent, '')) AS ua
    FROM http h JOIN files f ON f.uid = h.uid AND f.trans_depth = h.trans_depth AND NOT f.is_orig
    WHERE f.text_address IS NOT NULL
),
hits AS (
    SELECT * FROM n
    WHERE array_has(string_to_array($lookup_domains, ','), name)
       OR array_has(string_to_array($lookup_domains, ','), registered_domain(name))
    UNION
    SELECT * FROM echoes
),
g AS (
    SELECT src, count(*) AS lookups, count(DISTINCT coalesce(registered_domain(name), name)) AS n_services,
           array_to_string(array_agg(DISTINCT name ORDER BY name), ', ') AS services,
           min(ts) AS first_seen, max(ts) AS last_seen,
           max(resp_h) FILTER (WHERE via <> 'dns') AS dst,
           bool_or(via = 'http' AND NOT ua LIKE 'mozilla/%') AS scripted,
           array_slice(array_agg(DISTINCT uid ORDER BY uid), 1, $max_uids) AS uids
    FROM hits GROUP BY src
)
SELECT CAST(least(44, 35 + CASE WHEN scripted THEN 5 ELSE 0 END + CASE WHEN n_services >= 2 THEN 5 ELSE 0 END) AS DOUBLE) AS score,
       src AS src_ip, dst AS dst_ip, CAST(NULL AS INT) AS dst_port, split_part(services, ', ', 1) AS domain,
       first_seen, last_seen, lookups, services, n_services, scripted, uids,
       CASE WHEN scripted THEN ', over plain HTTP without a browser User-Agent' ELSE '' END AS how
FROM g
ORDER BY score DESC, src_ip
