//! GeoIP and ASN for public addresses from user-supplied MaxMind DB files (`--geoip FILE`: a
//! GeoLite2-Country/City or -ASN database, or DB-IP's lite ones; none is shipped). Read with the
//! `maxminddb` crate; several files may be given (typically a country and an ASN database), and each
//! lookup takes the first that answers. Private and local addresses are never looked up.

use maxminddb::{PathElement, Reader};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};

static DBS: RwLock<Vec<Arc<Reader<Vec<u8>>>>> = RwLock::new(Vec::new());

/// Load the databases for this process's sessions (replacing any loaded before). Returns each
/// file's database type (metadata `database_type`).
pub fn load(paths: &[impl AsRef<Path>]) -> Result<Vec<String>, String> {
    let mut v = Vec::new();
    let mut kinds = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let r = Reader::open_readfile(p)
            .map_err(|e| format!("{}: not a readable MaxMind DB: {e}", p.display()))?;
        kinds.push(r.metadata().database_type.clone());
        v.push(Arc::new(r));
    }
    if let Ok(mut g) = DBS.write() {
        *g = v;
    }
    Ok(kinds)
}

/// Whether a database is loaded (the report shows its country and ASN panels then).
pub fn loaded() -> bool {
    DBS.read().is_ok_and(|g| !g.is_empty())
}

fn first<T>(ip: IpAddr, path: &[PathElement<'_>]) -> Option<T>
where
    T: for<'de> serde::Deserialize<'de>,
{
    if wirehunt_wire::flow::is_local(&ip) || ip.is_unspecified() || ip.is_multicast() {
        return None;
    }
    let dbs = DBS.read().ok()?;
    dbs.iter().find_map(|r| {
        // an IPv6 address in an IPv4-only database is an error there: no answer from it
        r.lookup(ip).ok()?.decode_path::<T>(path).ok().flatten()
    })
}

/// ISO 3166 country code of a public address (`country.iso_code`, else the registered country's).
pub fn country(ip: IpAddr) -> Option<String> {
    first(
        ip,
        &[PathElement::Key("country"), PathElement::Key("iso_code")],
    )
    .or_else(|| {
        first(
            ip,
            &[
                PathElement::Key("registered_country"),
                PathElement::Key("iso_code"),
            ],
        )
    })
}

/// Autonomous system number of a public address.
pub fn asn(ip: IpAddr) -> Option<u32> {
    first(ip, &[PathElement::Key("autonomous_system_number")])
}

/// Autonomous system organisation of a public address.
pub fn as_org(ip: IpAddr) -> Option<String> {
    first(ip, &[PathElement::Key("autonomous_system_organization")])
}
