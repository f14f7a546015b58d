-- id: remote_control_in_clear
-- category: remote_control
-- title: Remote control in the clear (a RAT's victim profile, a shell on a socket)
-- description: TCP streams no analyzer recognised whose payload says in the clear what is being controlled
-- description: (conn.orig_profile / conn.resp_profile, first 32 segments of the stream): a remote-access trojan
-- description: registering with its controller sends the victim's profile, the operating system among it (STRRAT's
-- description: `ping|STRRAT|...|Microsoft Windows 7 Professional|...`, njRAT's `Win 7 Ultimate SP1 x86`), and a shell
-- description: bound to a socket prints its banner and prompt (`Microsoft Windows [Version ...]`, `C:\Users\bob>`,
-- description: `bash: no job control in this shell`). Software that names the operating system for a living does it
-- description: in protocols that are parsed (HTTP's User-Agent) or in infrastructure framing that the ingest leaves
-- description: out by content (SMB, LDAP, DCE/RPC, Kerberos, syslog, Zabbix, SIP, RTSP, print jobs, BitTorrent and Delivery Optimization
-- description: swarms; IRC CTCP VERSION replies; an OS name inside binary data), so the act is the evidence:
-- description: a victim profile is high (65), a shell banner or prompt 70. Per (source, peer address, port): +10
-- description: when it repeats (3+ connections, or a session of 60 s or more: a RAT's keepalive repeats its profile,
-- description: an operator's session lasts), +5 for a public peer named by no DNS answer although the source uses
-- description: DNS. The side that said it is in the summary: the originator (a reverse shell, a RAT calling home) or
-- description: the responder (a bind shell answering its caller). FTP data channels (ftp.data_h/data_p) are left out:
-- description: they carry files, and a document may name Windows; ftp_smtp_exfil weighs uploads.
-- severity: critical >= 85, high >= 65, medium >= 45, low >= 30
-- summary: {src_ip} -> {peer}: {what} in a TCP stream no analyzer recognised, said by the {side} ("{example}"; {connections} connection(s) over {span_s:0} s, {bytes_up:bytes} up, {bytes_down:bytes} down). Evidence: {evidence_list}
-- param: min_repeat_connections int = 3
-- param: min_repeat_span_s float = 60.0
-- param: max_uids int = 20
-- FTP data channels carry files (a document may well name Windows): ftp_smtp_exfil weighs uploads
WITH ftp_data AS (SELECT DISTINCT data_h, data_p FROM ftp WHERE data_h IS NOT NULL),
p AS (
    SELECT uid, orig_h, resp_h, resp_p, ts, CAST(ts AS BIGINT) AS tus,
           CAST(ts AS BIGINT) + CAST(coalesce(duration, 0) * 1e6 AS BIGINT) AS tend,
           orig_seen_bytes, resp_seen_bytes, local_resp,
           coalesce(orig_profile, resp_profile) AS text,
           CASE WHEN orig_profile IS NOT NULL THEN 'originator' ELSE 'responder' END AS side
    FROM conn c
    WHERE proto = 'tcp' AND (orig_profile IS NOT NULL OR resp_profile IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM ftp_data d WHERE d.data_h = c.resp_h AND d.data_p = c.resp_p)
),
k AS (
    SELECT *,
           -- a shell's banner or prompt; anything else is an operating-system name in a profile
           (regexp_like(text, '^(Microsoft Windows \[Version |Windows PowerShell|PS [A-Za-z]:|[A-Za-z]:\\\\)')
            OR strpos(text, 'job control') > 0 OR strpos(text, 'terminal process group') > 0
            OR strpos(text, 'access tty') > 0) AS shell
    FROM p
),
g AS (
    SELECT orig_h AS src_ip, resp_h AS dst_ip, resp_p AS dst_port,
           count(*) AS connections, min(ts) AS first_seen, max(ts) AS last_seen,
           (max(tend) - min(tus)) / 1e6 AS span_s,
           sum(orig_seen_bytes) AS bytes_up, sum(resp_seen_bytes) AS bytes_down,
           bool_or(shell) AS shell, bool_or(local_resp) AS local_peer,
           max(CASE WHEN shell THEN text END) AS shell_text, max(CASE WHEN NOT shell THEN text END) AS profile_text,
           array_to_string(array_agg(DISTINCT side ORDER BY side), ' and ') AS side,
           array_slice(array_agg(DISTINCT uid ORDER BY uid), 1, $max_uids) AS uids
    FROM k GROUP BY orig_h, resp_h, resp_p
),
answered AS (
    SELECT DISTINCT a AS addr FROM (SELECT unnest(answers) AS a FROM dns WHERE answers IS NOT NULL) x
    WHERE ip_version(a) IS NOT NULL
),
dns_users AS (SELECT DISTINCT orig_h AS src FROM dns),
judged AS (
    SELECT g.*,
           (g.connections >= $min_repeat_connections OR g.span_s >= $min_repeat_span_s) AS repeated,
           (NOT g.local_peer AND an.addr IS NULL AND du.src IS NOT NULL) AS unnamed_peer
    FROM g
    LEFT JOIN answered an ON an.addr = g.dst_ip
    LEFT JOIN dns_users du ON du.src = g.src_ip
)
SELECT src_ip, dst_ip, dst_port,
       CASE WHEN strpos(dst_ip, ':') > 0 THEN '[' || dst_ip || ']' ELSE dst_ip END || ':' || CAST(dst_port AS VARCHAR) AS peer,
       first_seen, last_seen, connections, round(span_s, 1) AS span_s, bytes_up, bytes_down, side, local_peer,
       CASE WHEN shell THEN 'an interactive shell''s banner or prompt'
            ELSE 'a host profile naming its operating system (a remote-access trojan registering, a stealer reporting)' END AS what,
       coalesce(shell_text, profile_text) AS example, shell_text, profile_text, repeated, unnamed_peer,
       concat_ws('; ',
           CASE WHEN shell THEN 'a shell banner or prompt on a socket (70)' ELSE 'a victim profile in the clear (65)' END,
           CASE WHEN repeated THEN 'it repeats (' || CAST(connections AS VARCHAR) || ' connection(s), ' || CAST(round(span_s) AS VARCHAR) || ' s: +10)' END,
           CASE WHEN unnamed_peer THEN 'peer address named by no DNS answer in the capture (+5)' END) AS evidence_list,
       uids,
       least(100, CASE WHEN shell THEN 70 ELSE 65 END
                  + CASE WHEN repeated THEN 10 ELSE 0 END
                  + CASE WHEN unnamed_peer THEN 5 ELSE 0 END) AS score
FROM judged
ORDER BY score DESC, src_ip, peer
