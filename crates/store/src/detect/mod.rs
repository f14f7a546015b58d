//! Detectors are SQL files. Each file in `queries/` starts with a header of `-- key: value` lines:
//!
//! ```text
//! -- id: dns_tunnel
//! -- category: dns_tunnel            (exfiltration | dns_tunnel | beaconing | other)
//! -- title: ...
//! -- description: ...                (may repeat; lines are joined)
//! -- severity: critical >= 85, high >= 65, medium >= 40, low >= 25
//! -- summary: {src_ip} sent {distinct_subdomains} distinct names under {domain} ...
//! -- param: min_distinct int = 10    (int | float | string | bool)
//! ```
//!
//! Parameters are bound as typed DataFusion placeholders (`$min_distinct`), never spliced into the
//! SQL text. A detector returns rows with the contract columns `score` (0–100) and `src_ip`, and
//! optionally `dst_ip`, `dst_port`, `domain`, `first_seen`, `last_seen`; every other column becomes
//! part of the finding's `evidence` object. Rows scoring under the `low` threshold are dropped.
//! The summary template takes `{column}`, `{column:bytes}`, `{column:pct}` and `{column:1}` (one decimal).
//!
//! The module is split by what each part knows: [`spec`] (the header grammar, typed parameters,
//! thresholds, the built-ins), [`run`] (execution and ranking), [`finding`] (the finding, its
//! summary, intel corroboration, grouping, suppressions). Writing findings out is
//! [`crate::report::findings`]'s.

pub mod finding;
pub mod html;
mod materialize;
pub mod pivot;
pub mod run;
pub mod spec;

pub use finding::*;
pub use run::*;
pub use spec::*;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    #[test]
    fn header_parsing_and_overrides() {
        let text = "-- id: t1\n-- category: beaconing\n-- severity: high >= 70, low >= 10\n-- param: n int = 5\n-- param: name string = x\nSELECT 1 AS score, 'a' AS src_ip WHERE $n > 0";
        let mut d = vec![parse_detector("t.sql", text).unwrap()];
        assert_eq!(d[0].id, "t1");
        assert_eq!(
            d[0].thresholds,
            vec![(Severity::High, 70.0), (Severity::Low, 10.0)]
        );
        assert_eq!(d[0].params[0].value, ParamValue::Int(5));
        assert_eq!(d[0].sql_line, 6);
        apply_overrides(&mut d, &["t1.n=7".into()]).unwrap();
        assert_eq!(d[0].params[0].value, ParamValue::Int(7));
        assert!(apply_overrides(&mut d, &["t1.n=abc".into()]).is_err());
        assert!(apply_overrides(&mut d, &["t1.nope=1".into()]).is_err());
        // a float that is no number would compare false everywhere and silently drop findings
        let mut f =
            vec![parse_detector("f.sql", "-- id: f\n-- param: x float = 0.5\nSELECT 1").unwrap()];
        for bad in ["NaN", "inf", "-infinity", "1e999"] {
            let e = apply_overrides(&mut f, &[format!("f.x={bad}")]).unwrap_err();
            assert!(e.to_string().contains("not a finite number"), "{bad}: {e}");
        }
        assert_eq!(f[0].params[0].value, ParamValue::Float(0.5));
        assert!(parse_detector("g.sql", "-- id: g\n-- severity: high >= NaN\nSELECT 1").is_err());
        // a string parameter stays a value: quotes and SQL in it are data, never SQL text
        apply_overrides(&mut d, &["t1.name=x'; DROP TABLE conn; --".into()]).unwrap();
        assert_eq!(
            d[0].params[1].value,
            ParamValue::Str("x'; DROP TABLE conn; --".into())
        );
    }

    #[test]
    fn summary_template() {
        let mut row = Map::new();
        row.insert("a".into(), Value::from(1536000.0));
        row.insert("r".into(), Value::from(0.91));
        row.insert("s".into(), Value::from("h"));
        assert_eq!(
            render_summary("{s} sent {a:bytes} ({r:pct}, {r:1}) {missing}", &row),
            "h sent 1.5 MB (91%, 0.9) ?"
        );
    }

    /// A list parameter (string) that two built-ins share by name is the same list in both: the
    /// detector files are self-contained, so `lookup_domains` (ftp_smtp_exfil, public_ip_lookup)
    /// exists twice, and an update to one copy must not silently leave the other behind.
    #[test]
    fn shared_list_parameters_agree_across_builtins() {
        let d = load_detectors(None).unwrap();
        let mut seen: std::collections::BTreeMap<&str, (&str, &spec::ParamValue)> =
            Default::default();
        let mut shared = 0;
        for det in &d {
            for p in det.params.iter().filter(|p| p.kind == "string") {
                match seen.get(p.name.as_str()) {
                    Some((other, v)) => {
                        shared += 1;
                        assert_eq!(
                            *v, &p.value,
                            "{}: parameter {} differs from {}'s",
                            det.id, p.name, other
                        );
                    }
                    None => {
                        seen.insert(&p.name, (&det.id, &p.value));
                    }
                }
            }
        }
        assert!(shared >= 1, "lookup_domains is shared by two detectors");
    }

    #[test]
    fn builtins_parse() {
        let d = load_detectors(None).unwrap();
        let ids: Vec<&str> = d.iter().map(|d| d.id.as_str()).collect();
        assert!(
            ids.contains(&"dns_tunnel")
                && ids.contains(&"beaconing")
                && ids.contains(&"exfil_volume")
        );
    }
}
