-- id: exfil_volume
-- category: exfiltration
-- title: Large one-way upload to a peer (exfiltration by volume)
-- description: Per (source, peer) where peer is the TLS SNI, else the HTTP Host, else dst ip:port: bytes up and
-- description: down (TCP payload in packets actually seen - conn.orig_seen_bytes, so TLS counts and a forged sequence jump does not), upload ratio, POST/PUT count and body-size regularity,
-- description: and how many internal sources use the peer. Flags uploads that are large for this capture - a robust
-- description: z-score of ln(1+bytes_up) against the capture's own source/peer pairs (median and 1.4826*MAD, MAD
-- description: floored at 0.5 so a uniform population does not explode the score; waived when fewer than
-- description: min_population pairs exist) - and large in absolute terms (min_upload_bytes) with an upload ratio of at
-- description: least min_upload_ratio. Score: 40 base, +up to 20 for z beyond min_z, +up to 15 for volume beyond the
-- description: floor, +5 ratio >= 0.9, +10 single source (peer used by nobody else), -20 peer used by 3+ sources,
-- description: +10 non-standard port (not 80/443), +10 for 10+ POST/PUTs of near-constant size (MAD/median < 0.1).
-- description: Mail is judged as mail: when 90%+ of a pair's upload went in sessions the SMTP analyzer parsed (the smtp
-- description: table: submissions, STARTTLS included, whatever the port), the score is capped at max_mail_score (medium) -
-- description: a mail client's day of messages is not exfiltration by volume, and ftp_smtp_exfil weighs how mail was sent
-- description: (cleartext passwords, scripted clients, IP-echo look-ups) - unless it passes mail_uncapped_bytes (more
-- description: than four messages at the 25 MB most providers accept). A fleet job is capped at low (max_fleet_score):
-- description: when fleet_uploaders+ internal sources each send the peer a tenth of min_upload_bytes or more, mostly one-way
-- description: (a backup agent or sync client on many hosts), a large upload to it is that job's, unless the port is
-- description: non-standard (not 80/443). An exfiltrating host stands out from a peer others only browse.
-- description: An everyday client's upload is capped at medium (max_everyday_score): when every connection of the pair
-- description: that shows its client (a TLS ClientHello's JA4, an HTTP User-Agent) shows one the source also uses with
-- description: servers in everyday_domains+ other registered domains, the host's own browser or OS did the upload (a
-- description: phone's photo backup, a user's attachment) - worth a glance, not "look now"; an exfiltration tool
-- description: (rclone, curl, a script, an implant) shows a client the host uses for that peer only. Not capped on a
-- description: non-standard port or to a peer without a name (an IP literal).
-- severity: critical >= 85, high >= 65, medium >= 45, low >= 30
-- materialize: c, pairs, clients
-- summary: {src_ip} uploaded {bytes_up:bytes} to {peer} in {connections} connection(s) ({upload_ratio:pct} of the bytes went up, {bytes_down:bytes} came back; {posts} POST/PUT; volume z {volume_z:1} among {population} source/peer pairs; peer used by {peer_sources} source(s)){note}
-- param: min_upload_bytes int = 1000000
-- param: min_upload_ratio float = 0.6
-- param: min_z float = 2.0
-- param: min_population int = 5
-- param: max_mail_score float = 64.0
-- param: mail_uncapped_bytes int = 100000000
-- param: fleet_uploaders int = 3
-- param: max_fleet_score float = 44.0
-- param: everyday_domains int = 3
-- param: max_everyday_score float = 64.0
-- param: max_uids int = 20
WITH h AS (
    SELECT uid,
           max(host) AS host,
           count(*) FILTER (WHERE method IN ('POST', 'PUT')) AS posts
    FROM http GROUP BY uid
),
bodies AS (
    SELECT uid, CAST(request_body_len AS DOUBLE) AS body FROM http WHERE method IN ('POST', 'PUT')
),
t AS (SELECT uid, max(server_name) AS sni FROM tls GROUP BY uid),
-- sessions the SMTP analyzer parsed: mail, whatever the port
mail AS (SELECT DISTINCT uid FROM smtp),
c AS (
    SELECT c.uid, c.ts, CAST(c.ts AS BIGINT) AS tus, c.orig_h AS src, c.resp_h AS dst, c.resp_p AS dport, c.duration,
           -- bytes in packets actually seen, never the sequence span: one forged sequence jump
           -- would otherwise "upload" gigabytes
           CAST(c.orig_seen_bytes AS DOUBLE) AS up, CAST(c.resp_seen_bytes AS DOUBLE) AS down,
           coalesce(t.sni, h.host, c.resp_h || ':' || CAST(c.resp_p AS VARCHAR)) AS peer,
           coalesce(t.sni, h.host) AS name,
           coalesce(h.posts, 0) AS posts,
           m.uid IS NOT NULL AS is_mail
    -- the small sides first: DataFusion builds its hash table from the left input
    FROM mail m RIGHT JOIN (h RIGHT JOIN (t RIGHT JOIN (SELECT * FROM conn WHERE proto = 'tcp') c ON t.uid = c.uid) ON h.uid = c.uid) ON m.uid = c.uid
),
pairs AS (
    SELECT src, peer, max(name) AS name, min(dst) AS dst, min(dport) AS dport,
           count(*) AS connections, sum(up) AS bytes_up, sum(down) AS bytes_down, sum(posts) AS posts,
           sum(CASE WHEN is_mail THEN up ELSE 0 END) AS mail_up,
           min(ts) AS first_seen, max(ts) AS last_seen,
           (max(tus) - min(tus)) / 1e6 + max(duration) AS duration_s
    FROM c GROUP BY src, peer
),
post_med AS (
    SELECT c.src, c.peer, median(b.body) AS post_median
    FROM bodies b JOIN c ON c.uid = b.uid GROUP BY c.src, c.peer
),
post_mad AS (
    SELECT c.src, c.peer, median(abs(b.body - m.post_median)) AS post_mad
    FROM bodies b JOIN c ON c.uid = b.uid JOIN post_med m ON m.src = c.src AND m.peer = c.peer
    GROUP BY c.src, c.peer
),
-- the client software of each source's named connections: (source, client, server name, its registered
-- domain) once per distinct triple, so a name is parsed once however many connections repeat it. The
-- client is the ClientHello's JA4 for TLS, the User-Agent for plain HTTP; an address names no domain
clients AS (
    SELECT 'tls' AS kind, src, client, peer, registered_domain(peer) AS rd
    FROM (SELECT DISTINCT orig_h AS src, ja4 AS client, server_name AS peer FROM tls
          WHERE ja4 IS NOT NULL AND server_name IS NOT NULL) t
    UNION ALL
    SELECT 'http' AS kind, src, client, peer,
           CASE WHEN host_address(peer) IS NULL THEN registered_domain(peer) END AS rd
    FROM (SELECT DISTINCT orig_h AS src, user_agent AS client, host AS peer FROM http
          WHERE user_agent IS NOT NULL AND host IS NOT NULL) h
),
-- the registered domains each client of a source reaches
client_use AS (
    SELECT kind, src, client, count(DISTINCT rd) AS domains FROM clients GROUP BY kind, src, client
),
-- per (source, named peer): the fewest other registered domains in which the source uses the client of
-- one of its connections to that peer; 0 when a client serves this peer only (the peer's own domain is
-- one of the client's, so it is taken off the count)
pair_client AS (
    SELECT c.src, c.peer,
           min(u.domains - CASE WHEN c.rd IS NOT NULL THEN 1 ELSE 0 END) AS client_domains
    FROM clients c JOIN client_use u ON u.kind = c.kind AND u.src = c.src AND u.client = c.client
    GROUP BY c.src, c.peer
),
fanin AS (
    SELECT peer, count(DISTINCT src) AS sources,
           -- sources that upload to the peer on a scale of their own: a fleet job (backup, sync) when many
           count(DISTINCT src) FILTER (WHERE bytes_up >= 0.1 * $min_upload_bytes
                                         AND bytes_up >= $min_upload_ratio * (bytes_up + bytes_down)) AS uploaders
    FROM pairs GROUP BY peer
),
pop AS (SELECT median(ln(1 + bytes_up)) AS med, count(*) AS population FROM pairs),
popmad AS (SELECT median(abs(ln(1 + p.bytes_up) - pop.med)) AS mad FROM pairs p CROSS JOIN pop),
scored AS (
    SELECT x.*, f.sources, f.uploaders, pop.population,
           CASE WHEN pop.population >= $min_population
                THEN (ln(1 + x.bytes_up) - pop.med) / greatest(1.4826 * popmad.mad, 0.5) END AS volume_z,
           x.bytes_up / greatest(x.bytes_up + x.bytes_down, 1) AS upload_ratio,
           m.post_median,
           d.post_mad / greatest(m.post_median, 1) AS post_size_dispersion,
           -- the three caps: a fleet job (backup, sync), mail below the uncapped volume, and an upload by
           -- the host's everyday client to a named peer (an IP literal as Host or SNI names none; in `capped`)
           f.uploaders >= $fleet_uploaders AND x.dport IN (80, 443) AS fleet_job,
           x.mail_up >= 0.9 * x.bytes_up AND x.bytes_up < $mail_uncapped_bytes AS mail_capped,
           pc.client_domains,
           coalesce(pc.client_domains >= $everyday_domains, false) AS everyday_client
    FROM pairs x
    JOIN fanin f ON f.peer = x.peer
    CROSS JOIN pop CROSS JOIN popmad
    LEFT JOIN post_med m ON m.src = x.src AND m.peer = x.peer
    LEFT JOIN post_mad d ON d.src = x.src AND d.peer = x.peer
    LEFT JOIN pair_client pc ON pc.src = x.src AND pc.peer = x.peer
),
capped AS (
    SELECT *, everyday_client AND name IS NOT NULL AND host_address(name) IS NULL
                  AND dport IN (80, 443) AS everyday_capped
    FROM scored
),
found AS (
SELECT src AS src_ip, dst AS dst_ip, dport AS dst_port, name AS domain, peer, first_seen, last_seen,
       connections, bytes_up, bytes_down, round(upload_ratio, 3) AS upload_ratio, round(volume_z, 2) AS volume_z,
       population, sources AS peer_sources, uploaders AS peer_uploaders, posts, post_median, round(post_size_dispersion, 3) AS post_size_dispersion,
       round(duration_s, 1) AS duration_s,
       mail_up >= 0.9 * bytes_up AS mail,
       everyday_client, client_domains,
       CASE WHEN fleet_job
            THEN '; ' || CAST(uploaders AS VARCHAR) || ' internal sources upload to this peer on that scale (a fleet backup or sync job): capped at low'
            WHEN mail_capped
            THEN '; the sessions are SMTP mail submissions: capped at medium (mail volume alone is no exfiltration; ftp_smtp_exfil weighs how it was sent)'
            WHEN everyday_capped
            THEN '; every connection was made by a client (TLS fingerprint or User-Agent) this host also uses with servers in '
                 || CAST(client_domains AS VARCHAR) || ' other registered domains - its own browser or system: capped at medium'
            ELSE '' END AS note,
       least(CASE WHEN fleet_job THEN $max_fleet_score WHEN mail_capped THEN $max_mail_score
                  WHEN everyday_capped THEN $max_everyday_score ELSE 100 END,
       least(100, greatest(0,
           40
           + least(20, 6 * (coalesce(volume_z, $min_z + 1) - $min_z))
           + least(15, 10 * log10(bytes_up / $min_upload_bytes) + 5)
           + CASE WHEN upload_ratio >= 0.9 THEN 5 ELSE 0 END
           + CASE WHEN sources = 1 THEN 10 WHEN sources >= 3 THEN -20 ELSE 0 END
           + CASE WHEN dport NOT IN (80, 443) THEN 10 ELSE 0 END
           + CASE WHEN posts >= 10 AND post_size_dispersion < 0.1 THEN 10 ELSE 0 END
       ))) AS score
FROM capped
WHERE bytes_up >= $min_upload_bytes
  AND upload_ratio >= $min_upload_ratio
  AND coalesce(volume_z, $min_z) >= $min_z
),
-- up to 20 connection ids per finding, gathered only for the pairs that became findings
uids AS (
    SELECT f.src_ip, f.peer, array_slice(array_agg(DISTINCT c.uid ORDER BY c.uid), 1, $max_uids) AS uids
    FROM found f JOIN c ON c.src = f.src_ip AND c.peer = f.peer
    GROUP BY f.src_ip, f.peer
)
SELECT f.*, u.uids FROM found f LEFT JOIN uids u ON u.src_ip = f.src_ip AND u.peer = f.peer
ORDER BY f.score DESC, f.src_ip, f.peer
