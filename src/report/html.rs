//! HTML escaping and small inline-SVG charts for the self-contained report (no scripts, no external
//! resources: the page works offline and cannot be made to fetch anything).

/// Escape text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // controls and bidi overrides become visible text: an entity (&#x202e;) would still
            // reorder the page for the reader
            c if ((c as u32) < 0x20 && c != '\n')
                || (0x7f..=0x9f).contains(&(c as u32))
                || (0x202a..=0x202e).contains(&(c as u32))
                || (0x2066..=0x2069).contains(&(c as u32)) =>
            {
                o.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => o.push(c),
        }
    }
    o
}

/// Horizontal bar chart: (label, value) rows.
pub fn bars(rows: &[(String, f64)], unit: &str) -> String {
    if rows.is_empty() {
        return "<p class=muted>no data</p>".into();
    }
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1e-9);
    let h = 22 * rows.len() + 10;
    let mut s =
        format!("<svg class=chart viewBox=\"0 0 640 {h}\" width=\"640\" height=\"{h}\" role=img>");
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 5 + i * 22;
        let w = (v / max * 360.0).max(1.0);
        s.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"200\" y=\"{}\" width=\"{:.1}\" height=\"16\" fill=\"#3b6ea8\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{} {}</text>",
            y + 13,
            esc(&label.chars().take(30).collect::<String>()),
            y,
            w,
            205.0 + w,
            y + 13,
            esc(&crate::report::human_number(*v)),
            esc(unit)
        ));
    }
    s.push_str("</svg>");
    s
}

/// Column chart of a series (e.g. connections per time bucket or an interval histogram).
pub fn columns(values: &[f64], labels: (&str, &str), caption: &str) -> String {
    if values.is_empty() {
        return "<p class=muted>no data</p>".into();
    }
    let max = values.iter().copied().fold(0.0f64, f64::max).max(1e-9);
    let bw = 600.0 / values.len() as f64;
    let mut s = String::from(
        "<svg class=chart viewBox=\"0 0 640 170\" width=\"640\" height=\"170\" role=img>",
    );
    for (i, v) in values.iter().enumerate() {
        let h = v / max * 130.0;
        s.push_str(&format!(
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"#a8553b\"/>",
            20.0 + i as f64 * bw,
            140.0 - h,
            (bw - 1.0).max(0.5),
            h
        ));
    }
    s.push_str(&format!(
        "<line x1=\"20\" y1=\"140\" x2=\"620\" y2=\"140\" stroke=\"#444\"/><text x=\"20\" y=\"158\" font-size=\"11\">{}</text><text x=\"620\" y=\"158\" font-size=\"11\" text-anchor=\"end\">{}</text><text x=\"320\" y=\"168\" font-size=\"11\" text-anchor=\"middle\">{}</text><text x=\"22\" y=\"12\" font-size=\"11\">max {}</text></svg>",
        esc(labels.0),
        esc(labels.1),
        esc(caption),
        esc(&crate::report::human_number(max))
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert!(!bars(&[("<b>".into(), 1.0)], "B").contains("<b>"));
    }
}
