//! `--geoip`: a country and an ASN database written here, in the MaxMind DB format as its
//! specification describes it (maxmind.github.io/MaxMind-DB: a binary search tree of 24-bit records,
//! 16 zero bytes, the data section, then the metadata map after "\xAB\xCD\xEFMaxMind.com"), read by
//! the `maxminddb` crate behind geo_country/geo_asn/geo_as_org and the report's panels.
use crate::common::*;
use std::net::Ipv4Addr;

/// A MaxMind DB data value.
enum V {
    S(&'static str),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'static str, V)>),
    Arr(Vec<V>),
}

/// The control byte (type in the top 3 bits, size in the low 5), the extended type byte for types
/// above 7, then the size's extension byte for sizes 29 to 284.
fn ctrl(out: &mut Vec<u8>, typ: u8, size: usize) {
    assert!(size < 285, "sizes up to 284 only");
    let small = if size < 29 { size as u8 } else { 29 };
    if typ <= 7 {
        out.push(typ << 5 | small);
    } else {
        out.push(small);
        out.push(typ - 7);
    }
    if size >= 29 {
        out.push((size - 29) as u8);
    }
}

fn enc(out: &mut Vec<u8>, v: &V) {
    let uint = |out: &mut Vec<u8>, typ: u8, x: u64| {
        let b = x.to_be_bytes();
        let skip = b.iter().take_while(|&&c| c == 0).count();
        ctrl(out, typ, 8 - skip);
        out.extend_from_slice(&b[skip..]);
    };
    match v {
        V::S(s) => {
            ctrl(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        V::U16(x) => uint(out, 5, *x as u64),
        V::U32(x) => uint(out, 6, *x as u64),
        V::U64(x) => uint(out, 9, *x),
        V::Map(kv) => {
            ctrl(out, 7, kv.len());
            for (k, v) in kv {
                enc(out, &V::S(k));
                enc(out, v);
            }
        }
        V::Arr(a) => {
            ctrl(out, 11, a.len());
            for v in a {
                enc(out, v);
            }
        }
    }
}

/// An IPv4 database of (network, prefix length, record).
fn mmdb(kind: &'static str, nets: Vec<(Ipv4Addr, u32, V)>) -> Vec<u8> {
    #[derive(Clone, Copy)]
    enum R {
        Empty,
        Node(usize),
        Data(usize),
    }
    let mut data = Vec::new();
    let mut nodes: Vec<[R; 2]> = vec![[R::Empty; 2]];
    for (net, len, v) in &nets {
        let off = data.len();
        enc(&mut data, v);
        let bits = u32::from(*net);
        let mut n = 0;
        for depth in 0..*len {
            let bit = ((bits >> (31 - depth)) & 1) as usize;
            if depth == len - 1 {
                nodes[n][bit] = R::Data(off);
            } else {
                n = match nodes[n][bit] {
                    R::Node(m) => m,
                    _ => {
                        nodes.push([R::Empty; 2]);
                        let m = nodes.len() - 1;
                        nodes[n][bit] = R::Node(m);
                        m
                    }
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for node in &nodes {
        for r in node {
            let x = match *r {
                R::Empty => count,
                R::Node(m) => m,
                R::Data(off) => count + 16 + off,
            } as u32;
            out.extend_from_slice(&x.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    enc(
        &mut out,
        &V::Map(vec![
            ("binary_format_major_version", V::U16(2)),
            ("binary_format_minor_version", V::U16(0)),
            ("build_epoch", V::U64(1_700_000_000)),
            ("database_type", V::S(kind)),
            (
                "description",
                V::Map(vec![("en", V::S("wirehunt test database"))]),
            ),
            ("ip_version", V::U16(4)),
            ("languages", V::Arr(vec![V::S("en")])),
            ("node_count", V::U32(count as u32)),
            ("record_size", V::U16(24)),
        ]),
    );
    out
}

/// The demo capture's public peers get the countries and ASNs the databases say, private addresses
/// none; the report gains country and ASN panels whose counts are the connections SQL counts.
#[test]
fn geoip_databases_name_countries_and_asns_of_public_peers() {
    let dir = tmp("geoip");
    let country = dir.join("country.mmdb");
    let asn = dir.join("asn.mmdb");
    std::fs::write(
        &country,
        mmdb(
            "GeoLite2-Country",
            vec![
                (
                    Ipv4Addr::new(35, 0, 0, 0),
                    8,
                    V::Map(vec![("country", V::Map(vec![("iso_code", V::S("US"))]))]),
                ),
                (
                    Ipv4Addr::new(104, 160, 0, 0),
                    11,
                    V::Map(vec![("country", V::Map(vec![("iso_code", V::S("CA"))]))]),
                ),
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        &asn,
        mmdb(
            "GeoLite2-ASN",
            vec![(
                Ipv4Addr::new(35, 7, 0, 0),
                16,
                V::Map(vec![
                    ("autonomous_system_number", V::U32(64500)),
                    ("autonomous_system_organization", V::S("Example Transit")),
                ]),
            )],
        ),
    )
    .unwrap();
    let cap = demo_capture();
    let ds = dir.join("ds");
    ingest_into(&cap, &ds);
    let (ds_s, c_s, a_s) = (
        ds.display().to_string(),
        country.display().to_string(),
        asn.display().to_string(),
    );
    let sql = |q: &str| -> Vec<String> {
        let o = run_ok(&[
            "--geoip", &c_s, "--geoip", &a_s, "sql", &ds_s, "--format", "csv", "-c", q,
        ]);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .map(String::from)
            .collect()
    };
    assert_eq!(
        sql(
            "SELECT geo_country('35.7.19.244'), geo_asn('35.7.19.244'), geo_as_org('35.7.19.244'), geo_country('104.165.221.29'), geo_asn('104.165.221.29')"
        ),
        vec!["US,64500,Example Transit,CA,".to_string()]
    );
    // private, unknown and IPv6 addresses have none
    assert_eq!(
        sql(
            "SELECT geo_country('10.10.1.10'), geo_country('192.0.2.1'), geo_country('2001:db8::1'), geo_asn('10.0.0.1')"
        ),
        vec![",,,".to_string()]
    );
    // every connection to 35/8 and to 104.160/11 is named, and nothing else is
    let by_country = sql(
        "SELECT geo_country(resp_h) c, count(*) FROM conn WHERE geo_country(resp_h) IS NOT NULL GROUP BY 1 ORDER BY 1",
    );
    let by_cidr = sql(
        "SELECT CASE WHEN cidr_match(resp_h, '35.0.0.0/8') THEN 'US' ELSE 'CA' END c, count(*) FROM conn WHERE cidr_match(resp_h, '35.0.0.0/8') OR cidr_match(resp_h, '104.160.0.0/11') GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(by_country, by_cidr);
    assert!(by_country.len() == 2, "{by_country:?}");
    // the report's panels, counted as SQL counts them
    let page = dir.join("r.html");
    run_ok(&[
        "--geoip",
        &c_s,
        "--geoip",
        &a_s,
        "-q",
        "report",
        &ds_s,
        "--html",
        &page.display().to_string(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Responder countries") && html.contains("Responder ASNs"));
    assert!(html.contains("AS64500 Example Transit"));
    let us = by_country
        .iter()
        .find(|l| l.starts_with("US,"))
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        html.contains(&format!(">{us} conns<")),
        "US count {us} in the page"
    );
    // without --geoip: NULL, and no such panels
    let o = run(&[
        "sql",
        &ds_s,
        "--format",
        "csv",
        "-c",
        "SELECT geo_country('35.7.19.244') IS NULL",
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("true"));
    // a file that is not a database: exit 66 with the reason
    let o = run(&["--geoip", &ds_s, "sql", &ds_s, "-c", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a readable MaxMind DB"));
}
