-- id: ftp_smtp_exfil
-- category: exfiltration
-- title: Files or mail sent out over FTP or SMTP by an internal client (infostealer exfiltration)
-- description: One finding per (source, server, protocol) over ftp and smtp: files uploaded by FTP (STOR, STOU, APPE
-- description: not refused; bytes from the data channel's own conn row, joined by ftp.data_h/data_p) and messages a
-- description: client submitted by SMTP in the clear (DATA or BDAT, not refused). Infostealers (AgentTesla, Snake, Formbook)
-- description: ship stolen passwords and screenshots exactly so: a scripted login, one upload or one message, often
-- description: right after asking a web service for the host's public address. People rarely do either in the clear
-- description: any more, so the act is medium and evidence about how it was done decides the rest. Score: FTP upload 50,
-- description: SMTP message 45; +10 the password crossed in the clear (FTP PASS other than anonymous, SMTP AUTH outside
-- description: TLS); +10 a scripted FTP client (it uploaded in a session that never listed or changed directory);
-- description: +10 an SMTP client delivering straight to a server's port 25 without AUTH that accepts no SMTP itself (a
-- description: mail server's job, a spam bot's habit); +15 the source looked up its own public address in the capture (a DNS query, TLS SNI or HTTP Host
-- description: under lookup_domains: IP-echo services, the same list as public_ip_lookup's - override both; or a plain-HTTP
-- description: answer that is one IP address and nothing else, files.text_address); +10 a message carries an attachment that runs or holds
-- description: macros (malspam sent by an infected host); +5 for 2+ uploads or messages, +5 more for 5+; -20 a server
-- description: min_popular_clients+ internal clients use (a shared relay or file drop); -40 a server on the local
-- description: network (the data did not leave). A submission STARTTLS hides scores 30 and is reported only when the
-- description: source also looked up its public address (what it carried is unknown; mail clients do this all day).
-- description: lookup_domains: IP-echo services (answer a client with its own public address) of the kind public IDS
-- description: rule sets flag as "External IP Lookup" (ET Open's policy rules), collected 2026-12; registered domains
-- description: match their subdomains. Replace it with --param <detector>.lookup_domains=a.example,b.example.
-- severity: critical >= 85, high >= 65, medium >= 45, low >= 30
-- summary: {src_ip} sent {items} by {protocol} to {peer} ({bytes_out:bytes}; e.g. {example}). Evidence: {evidence}
-- param: min_popular_clients int = 3
-- param: lookup_domains string = ipify.org,ip-api.com,icanhazip.com,ifconfig.me,ifconfig.co,ipinfo.io,wtfismyip.com,myexternalip.com,ipecho.net,ident.me,my-ip.io,ipapi.co,geoplugin.net,freegeoip.app,seeip.org,whatismyipaddress.com,ipwho.is,ip.sb,checkip.dyndns.org,checkip.dyndns.com,checkip.amazonaws.com,myip.opendns.com,api.myip.com,ipwhois.app,db-ip.com
-- param: max_uids int = 20
WITH uploads AS (
    -- FTP uploads, and what crossed their data channel (passive: the client sent; active: the server
    -- connected back to the client, which sent as the responder)
    SELECT f.uid, f.ts, f.orig_h AS src, f.resp_h AS dst, f.resp_p AS dport, f.user, f.arg AS item,
           coalesce(max(CASE WHEN f.passive THEN d.orig_seen_bytes ELSE d.resp_seen_bytes END), 0) AS bytes,
           min(d.uid) AS data_uid
    FROM ftp f
    LEFT JOIN conn d ON d.resp_h = f.data_h AND d.resp_p = f.data_p AND d.proto = 'tcp'
        AND CAST(d.ts AS BIGINT) BETWEEN CAST(f.ts AS BIGINT) - 60000000 AND CAST(f.ts AS BIGINT) + 60000000
    WHERE f.command IN ('STOR', 'STOU', 'APPE') AND coalesce(f.reply_code, 0) < 400
    GROUP BY f.uid, f.ts, f.orig_h, f.resp_h, f.resp_p, f.user, f.arg
),
sessions AS (
    SELECT uid,
           bool_or(command IN ('LIST', 'NLST', 'MLSD', 'MLST', 'CWD', 'CDUP', 'XCWD', 'STAT')) AS browsed,
           bool_or(command = 'PASS' AND lower(coalesce(user, '')) NOT IN ('anonymous', 'ftp')) AS cleartext_password,
           max(user) AS user
    FROM ftp GROUP BY uid
),
ftp_items AS (
    SELECT 'FTP' AS protocol, u.uid, u.data_uid, u.src, u.dst, u.dport, u.ts, u.bytes,
           coalesce(u.item, '(no name)') AS item,
           s.cleartext_password, NOT s.browsed AS scripted, s.user, CAST(NULL AS BOOLEAN) AS runnable,
           CAST(NULL AS BOOLEAN) AS direct
    FROM uploads u JOIN sessions s ON u.uid = s.uid
),
smtp_items AS (
    SELECT 'SMTP' AS protocol, uid, CAST(NULL AS VARCHAR) AS data_uid, orig_h AS src, resp_h AS dst, resp_p AS dport, ts, msg_bytes AS bytes,
           coalesce('"' || subject || '"', 'a message') || ' to ' || coalesce(array_to_string(rcptto, ', '), '?') AS item,
           auth_user IS NOT NULL AS cleartext_password, CAST(NULL AS BOOLEAN) AS scripted, auth_user AS user,
           -- an attachment named to run, or an Office format that holds macros, or an archive that hides either
           coalesce(regexp_like(lower(array_to_string(attachments, '|')),
               '\.(exe|scr|com|pif|bat|cmd|js|jse|vbs|vbe|wsf|hta|ps1|lnk|iso|img|jar|msi|docm|xlsm|pptm|dotm|xlam|doc|xls|zip|rar|7z|ace|gz|cab|r00)(\||$)'), false) AS runnable,
           -- delivery straight to a server's port 25 without logging in: what mail servers do, and
           -- spam bots (the host is no mail server when it accepts no SMTP itself: see g)
           (resp_p = 25 AND auth_user IS NULL) AS direct
    FROM smtp
    WHERE trans_depth > 0 AND NOT tls AND msg_bytes > 0 AND coalesce(last_reply, '2') NOT LIKE '4%' AND coalesce(last_reply, '2') NOT LIKE '5%'
),
-- a submission STARTTLS hides: what it carried is unknown, so it counts only beside other evidence
smtp_hidden AS (
    SELECT 'SMTP, STARTTLS' AS protocol, s.uid, CAST(NULL AS VARCHAR) AS data_uid, s.orig_h AS src, s.resp_h AS dst, s.resp_p AS dport, s.ts,
           coalesce(c.orig_seen_bytes, 0) AS bytes, 'a session TLS hides' AS item,
           CAST(NULL AS BOOLEAN) AS cleartext_password, CAST(NULL AS BOOLEAN) AS scripted, s.auth_user AS user,
           CAST(NULL AS BOOLEAN) AS runnable, CAST(NULL AS BOOLEAN) AS direct
    FROM smtp s LEFT JOIN conn c ON c.uid = s.uid
    WHERE s.tls AND s.trans_depth = 0
),
items AS (SELECT * FROM ftp_items UNION ALL SELECT * FROM smtp_items UNION ALL SELECT * FROM smtp_hidden),
lookups AS (
    SELECT src, string_agg(DISTINCT name, ', ') AS names FROM (
        SELECT src, name FROM (
            SELECT orig_h AS src, lower(query) AS name FROM dns WHERE query IS NOT NULL
            UNION ALL SELECT orig_h, lower(server_name) FROM tls WHERE server_name IS NOT NULL
            UNION ALL SELECT orig_h, lower(regexp_replace(host, ':[0-9]+$', '')) FROM http WHERE host IS NOT NULL
        ) n
        WHERE array_has(string_to_array($lookup_domains, ','), name)
           OR array_has(string_to_array($lookup_domains, ','), registered_domain(name))
        -- a plain-HTTP answer that is an address and nothing else: an IP-echo service the list lacks
        UNION ALL
        SELECT h.orig_h, lower(coalesce(regexp_replace(h.host, ':[0-9]+$', ''), h.resp_h)) FROM http h
        JOIN files f ON f.uid = h.uid AND f.trans_depth = h.trans_depth AND NOT f.is_orig
        WHERE f.text_address IS NOT NULL
    ) l
    GROUP BY src
),
names AS (
    SELECT a AS addr, orig_h AS src, min(query) AS name
    FROM (SELECT orig_h, query, unnest(answers) AS a FROM dns WHERE answers IS NOT NULL) x
    GROUP BY a, orig_h
),
-- hosts that accept SMTP themselves (mail servers: delivering to port 25 is their job)
mail_servers AS (SELECT DISTINCT resp_h AS host FROM smtp),
fan AS (
    SELECT resp_h, count(DISTINCT orig_h) AS clients FROM (
        SELECT orig_h, resp_h FROM ftp UNION ALL SELECT orig_h, resp_h FROM smtp
    ) x WHERE is_private_ip(orig_h) GROUP BY resp_h
),
g AS (
    SELECT i.protocol, i.src, i.dst, i.dport,
           count(*) AS n_items, sum(i.bytes) AS bytes_out,
           min(i.ts) AS first_seen, max(i.ts) AS last_seen,
           min(i.item) AS example,
           bool_or(i.cleartext_password) AS cleartext_password,
           bool_or(i.scripted) AS scripted,
           -- an SMTP client delivering to port 25 that accepts no SMTP itself: no mail server
           coalesce(bool_or(i.direct), false) AND max(ms.host) IS NULL AS direct_delivery,
           bool_or(i.runnable) AS runnable,
           max(i.user) AS user,
           -- the sessions and the data channels: wirehunt extract --uid takes them
           array_slice(array_sort(array_distinct(array_concat(array_agg(i.uid), coalesce(array_agg(i.data_uid) FILTER (WHERE i.data_uid IS NOT NULL), array_agg(i.uid))))), 1, $max_uids) AS uids
    FROM items i LEFT JOIN mail_servers ms ON ms.host = i.src
    GROUP BY i.protocol, i.src, i.dst, i.dport
),
scored AS (
    SELECT g.*, l.names AS lookups, nm.name AS dst_name, coalesce(f.clients, 1) AS clients,
           is_private_ip(g.dst) AS local_peer,
           (CASE g.protocol WHEN 'FTP' THEN 50 WHEN 'SMTP' THEN 45 ELSE 30 END)
           + CASE WHEN g.cleartext_password THEN 10 ELSE 0 END
           + CASE WHEN g.scripted THEN 10 ELSE 0 END
           + CASE WHEN g.direct_delivery THEN 10 ELSE 0 END
           + CASE WHEN l.names IS NOT NULL THEN 15 ELSE 0 END
           + CASE WHEN g.runnable THEN 10 ELSE 0 END
           + CASE WHEN g.n_items >= 5 THEN 10 WHEN g.n_items >= 2 THEN 5 ELSE 0 END
           - CASE WHEN coalesce(f.clients, 1) >= $min_popular_clients THEN 20 ELSE 0 END
           - CASE WHEN is_private_ip(g.dst) THEN 40 ELSE 0 END AS score
    FROM g
    LEFT JOIN lookups l ON l.src = g.src
    LEFT JOIN names nm ON nm.addr = g.dst AND nm.src = g.src
    LEFT JOIN fan f ON f.resp_h = g.dst
)
SELECT CAST(score AS DOUBLE) AS score, src AS src_ip, dst AS dst_ip, dport AS dst_port, dst_name AS domain,
       first_seen, last_seen, protocol, n_items, bytes_out, example, "user", lookups, clients, uids,
       coalesce(dst_name || ' (' || dst || ')', dst) || ':' || CAST(dport AS VARCHAR) AS peer,
       CAST(n_items AS VARCHAR) || CASE protocol WHEN 'FTP' THEN ' file(s)' WHEN 'SMTP' THEN ' message(s)' ELSE ' session(s) whose content TLS hides' END AS items,
       coalesce(nullif(concat_ws('; ',
           CASE WHEN cleartext_password THEN 'password sent in the clear (user ' || coalesce("user", '?') || ')' END,
           CASE WHEN scripted THEN 'scripted client: uploaded without listing or changing directory' END,
           CASE WHEN direct_delivery THEN 'delivered straight to port 25 without logging in, by a host that accepts no SMTP itself (no mail server)' END,
           CASE WHEN lookups IS NOT NULL THEN 'the source looked up its own public address (' || lookups || ')' END,
           CASE WHEN runnable THEN 'a message carries an attachment that runs or holds macros' END,
           CASE WHEN n_items >= 2 THEN CAST(n_items AS VARCHAR) || ' uploads/messages' END,
           CASE WHEN clients >= $min_popular_clients THEN 'server shared by ' || CAST(clients AS VARCHAR) || ' internal clients' END,
           CASE WHEN local_peer THEN 'server on the local network' END), ''), 'none beyond the transfer itself') AS evidence
FROM scored
WHERE protocol <> 'SMTP, STARTTLS' OR lookups IS NOT NULL
ORDER BY score DESC, src_ip, dst_ip
