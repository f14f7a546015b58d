-- id: executable_download
-- category: download
-- title: Executable, script or payload downloaded over HTTP
-- description: One finding per (client, server host) over files (response bodies) joined to http. A body counts when
-- description: it runs: file_class executable (PE, ELF, Mach-O, DEX), script (PowerShell, JScript/WSH, VBScript, HTA,
-- description: batch, shell), java, flash, office_macro or archive_executable (a ZIP entry that runs when opened); or
-- description: when it is a payload in disguise: no known magic and near-random bytes (entropy >= min_entropy over the
-- description: first 64 KiB) while the head declares an executable type (an exploit kit's encrypted drop), or while it
-- description: declares text or an image (>= min_disguised_bytes, entropy >= 7.9), or when it is binary carried as text (files.text_encoding
-- description: hex or base64 over its first 64 KiB, >= min_disguised_bytes: CryptoWall's hex-encoded answers). A JavaScript file a web page asked
-- description: for (declared as JavaScript, with a Referer) is the web working and scores little.
-- description: Per body: executable 55, office_macro/archive_executable 50, java 45, PowerShell/VBScript/HTA/batch 55,
-- description: other scripts 45, flash 35, encrypted drop 60, disguised or encoded 35; +15 executable content declared as text or
-- description: an image or named like one (.jpg, .txt, ...); +10 Host is an IP literal; +5 no Referer, -5 with one; +5
-- description: URI path without a file name; +10 scripted User-Agent (PowerShell, curl, wget, python, WinHTTP, certutil,
-- description: BITSAdmin, Java, Go), +5 none, +5 not a browser and not an update agent; +5 port not 80/443/8080;
-- description: +10 an encrypted, disguised or encoded payload that answered a POST (a loader's C2 exchange: the host's details
-- description: go up, an encrypted module comes back; a link someone followed is a GET); +10 a disguised or encoded payload
-- description: declared as a web page (text/html) that is no page at all (a C2 script on a compromised site answers with
-- description: the server's default type; a page has markup, an honest encoded file says text/plain or octet-stream);
-- description: +5 the server host is used by this client alone, -10 by min_popular_clients+ clients; -20 host under vendor_domains (update and
-- description: download infrastructure), -15 more when the User-Agent is that OS's update agent. Per group: the best
-- description: body's score, +5 for 2+ such bodies, +10 for 5+.
-- severity: critical >= 85, high >= 65, medium >= 45, low >= 30
-- summary: {src_ip} downloaded {files} file(s) ({kinds}) from {domain} ({bytes:bytes}; e.g. {example}: {example_mime}, {example_why})
-- param: min_entropy float = 7.2
-- param: min_disguised_bytes int = 16384
-- param: min_popular_clients int = 3
-- param: vendor_domains string = windowsupdate.com,update.microsoft.com,download.microsoft.com,delivery.mp.microsoft.com,officecdn.microsoft.com,swcdn.apple.com,swscan.apple.com,mesu.apple.com,download.mozilla.org,archive.mozilla.org,dl.google.com,gvt1.com,ardownload.adobe.com,deb.debian.org,security.debian.org,archive.ubuntu.com,security.ubuntu.com
-- param: max_uids int = 20
WITH h AS (
    SELECT uid, trans_depth, method, host, uri, referrer, user_agent, status_code
    FROM http
),
f AS (
    SELECT f.ts, f.uid, f.fuid, f.orig_h, f.resp_h, f.resp_p, f.declared_type, f.mime_type, f.file_class, f.filename,
           f.seen_bytes, f.complete, f.sha256, f.entropy, f.archive_entries, f.text_encoding,
           coalesce(h.host, f.resp_h) AS host, h.uri, h.referrer, h.user_agent, h.method,
           lower(coalesce(f.declared_type, '')) AS declared,
           lower(coalesce(f.filename, '')) AS fname,
           lower(coalesce(h.user_agent, '')) AS ua,
           -- the last path segment of the URI, query cut: '' when the URI names no file
           regexp_replace(regexp_replace(coalesce(h.uri, ''), '[?#].*$', ''), '^.*/', '') AS last_segment
    FROM files f LEFT JOIN h ON f.uid = h.uid AND f.trans_depth = h.trans_depth
    WHERE NOT f.is_orig
),
k AS (
    SELECT *,
           CASE
               WHEN file_class = 'executable' THEN 'executable'
               WHEN file_class IN ('office_macro', 'archive_executable', 'java', 'flash') THEN file_class
               WHEN file_class = 'script' THEN 'script'
               WHEN file_class = 'unknown' AND entropy >= $min_entropy AND seen_bytes >= 4096
                    AND regexp_like(declared, '(x-msdownload|x-msdos-program|x-dosexec|x-executable|portable-executable|x-msdos-executable|x-ms-installer|x-msi|java-archive|x-shockwave-flash|hta|x-sh$|x-elf)')
                    THEN 'encrypted payload'
               WHEN file_class = 'unknown' AND entropy >= 7.9 AND seen_bytes >= $min_disguised_bytes
                    AND (declared LIKE 'text/%' OR declared LIKE 'image/%' OR declared LIKE '%javascript%' OR declared LIKE '%json%')
                    THEN 'disguised payload'
               -- binary carried as hex or base64 text: what a page never is
               WHEN file_class = 'text' AND text_encoding IS NOT NULL AND seen_bytes >= $min_disguised_bytes
                    THEN 'encoded payload'
           END AS kind
    FROM f
),
s AS (
    SELECT *,
           CASE kind
               WHEN 'executable' THEN 55.0
               WHEN 'office_macro' THEN 50.0
               WHEN 'archive_executable' THEN 50.0
               WHEN 'java' THEN 45.0
               WHEN 'flash' THEN 35.0
               WHEN 'encrypted payload' THEN 60.0
               WHEN 'disguised payload' THEN 35.0
               WHEN 'encoded payload' THEN 35.0
               -- a web page's own script: declared JavaScript, asked for by a page
               WHEN 'script' THEN CASE
                   WHEN mime_type = 'application/x-jscript' AND referrer IS NOT NULL
                        AND (declared LIKE '%javascript%' OR declared LIKE '%ecmascript%') THEN 15.0
                   WHEN mime_type IN ('text/x-powershell', 'text/vbscript', 'application/hta', 'application/x-bat') THEN 55.0
                   ELSE 45.0 END
           END AS base,
           -- executable content declared or named as something harmless
           kind IN ('executable', 'script', 'java', 'office_macro')
               AND (declared LIKE 'text/%' OR declared LIKE 'image/%'
                    OR regexp_like(fname, '\.(jpe?g|png|gif|bmp|ico|txt|css|html?|xml|json|mp3|mp4|pdf)$')) AS masked,
           host_address(host) IS NOT NULL AS ip_host,
           -- a payload that answered the client's POST: a loader's C2 exchange (Emotet, TrickBot, QakBot post
           -- the host's details and get an encrypted module back), not a link someone followed
           kind IN ('encrypted payload', 'disguised payload', 'encoded payload') AND method = 'POST' AS post_answer,
           -- random bytes or one encoded string declared as a web page
           kind IN ('disguised payload', 'encoded payload') AND declared LIKE 'text/html%' AS page_lie,
           regexp_like(ua, '(powershell|curl|wget|python|winhttp|certutil|bitsadmin|^java|go-http-client|libwww|urlgrabber)') AS scripted_ua,
           regexp_like(ua, '^(windows-update-agent|microsoft bits|microsoft-delivery-optimization|microsoft-cryptoapi|softwareupdate|osupdate|google update|mozilla/[0-9.]+ \(.*\) gecko/[0-9]+ firefox/[0-9.]+ *$|debian apt|apt-http|ubuntu apt)') AS update_ua,
           array_has(string_to_array($vendor_domains, ','), registered_domain(regexp_replace(host, ':[0-9]+$', '')))
               OR array_has(string_to_array($vendor_domains, ','), lower(regexp_replace(host, ':[0-9]+$', ''))) AS vendor
    FROM k WHERE kind IS NOT NULL
),
pop AS (
    SELECT coalesce(host, resp_h) AS host, count(DISTINCT orig_h) AS clients FROM http GROUP BY 1
),
scored AS (
    SELECT s.*, coalesce(p.clients, 1) AS host_clients,
           base
           + CASE WHEN masked THEN 15 ELSE 0 END
           + CASE WHEN ip_host THEN 10 ELSE 0 END
           + CASE WHEN referrer IS NULL THEN 5 ELSE -5 END
           + CASE WHEN last_segment = '' OR NOT regexp_like(last_segment, '\.[A-Za-z0-9]{1,5}$') THEN 5 ELSE 0 END
           + CASE WHEN scripted_ua THEN 10 WHEN ua = '' THEN 5 WHEN NOT ua LIKE 'mozilla/%' AND NOT update_ua THEN 5 ELSE 0 END
           + CASE WHEN resp_p NOT IN (80, 443, 8080) THEN 5 ELSE 0 END
           + CASE WHEN post_answer THEN 10 ELSE 0 END
           + CASE WHEN page_lie THEN 10 ELSE 0 END
           + CASE WHEN coalesce(p.clients, 1) = 1 THEN 5 WHEN p.clients >= $min_popular_clients THEN -10 ELSE 0 END
           - CASE WHEN vendor THEN 20 + CASE WHEN update_ua THEN 15 ELSE 0 END ELSE 0 END
           AS file_score,
           CASE kind WHEN 'encrypted payload' THEN 'declared ' || coalesce(declared_type, '?') || ' but no known magic and ' || CAST(round(entropy, 2) AS VARCHAR) || ' bits/byte'
                     WHEN 'disguised payload' THEN 'declared ' || coalesce(declared_type, '?') || ' but near-random (' || CAST(round(entropy, 2) AS VARCHAR) || ' bits/byte'
                                                   || CASE WHEN page_lie THEN ', no page at all' ELSE '' END || ')'
                     WHEN 'encoded payload' THEN 'declared ' || coalesce(declared_type, '?') || ' but one ' || text_encoding || ' string (binary carried as text'
                                                 || CASE WHEN page_lie THEN ', no page at all' ELSE '' END || ')'
                     ELSE file_class || CASE WHEN masked THEN ' disguised as ' || coalesce(declared_type, filename) ELSE '' END END
           || CASE WHEN ip_host THEN ', Host is an IP address' ELSE '' END
           || CASE WHEN post_answer THEN ', the answer to a POST' ELSE '' END
           || CASE WHEN referrer IS NULL THEN ', no Referer' ELSE '' END
           || CASE WHEN scripted_ua THEN ', scripted User-Agent' WHEN ua = '' THEN ', no User-Agent' ELSE '' END
           || CASE WHEN vendor THEN ', vendor host' ELSE '' END AS why
    FROM s LEFT JOIN pop p ON p.host = s.host
),
g AS (
    SELECT orig_h, host, max(resp_h) AS resp_h, max(resp_p) AS resp_p,
           count(*) AS files, sum(seen_bytes) AS bytes, min(ts) AS first_seen, max(ts) AS last_seen,
           max(file_score) AS best,
           array_to_string(array_agg(DISTINCT kind ORDER BY kind), '/') AS kinds,
           array_slice(array_agg(filename ORDER BY file_score DESC, ts), 1, 10) AS filenames,
           array_slice(array_agg(mime_type ORDER BY file_score DESC, ts), 1, 10) AS mime_types,
           array_slice(array_agg(sha256 ORDER BY file_score DESC, ts), 1, 10) AS sha256s,
           array_slice(array_agg(why ORDER BY file_score DESC, ts), 1, 10) AS reasons,
           array_slice(array_agg(uri ORDER BY file_score DESC, ts), 1, 10) AS uris,
           array_slice(array_agg(DISTINCT user_agent), 1, 5) AS user_agents,
           array_slice(array_agg(fuid ORDER BY file_score DESC, ts), 1, 20) AS fuids,
           array_slice(array_agg(DISTINCT uid ORDER BY uid), 1, $max_uids) AS uids,
           max(host_clients) AS host_clients,
           bool_or(complete) AS any_complete
    FROM scored GROUP BY orig_h, host
)
SELECT orig_h AS src_ip, resp_h AS dst_ip, CAST(resp_p AS INT) AS dst_port, host AS domain, first_seen, last_seen,
       files, bytes, kinds, filenames, mime_types, sha256s, reasons, uris, user_agents, host_clients, fuids, uids,
       coalesce(filenames[1], CASE WHEN character_length(uris[1]) > 60 THEN substr(uris[1], 1, 57) || '...' ELSE uris[1] END, '(no name)') AS example,
       coalesce(mime_types[1], 'no magic') AS example_mime,
       reasons[1] AS example_why,
       round(least(100, greatest(0, best + CASE WHEN files >= 5 THEN 10 WHEN files >= 2 THEN 5 ELSE 0 END)), 1) AS score
FROM g
ORDER BY score DESC, src_ip, domain
