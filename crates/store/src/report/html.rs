//! HTML escaping and small inline-SVG charts for the self-contained report (no scripts, no external
//! resources: the page works offline and cannot be made to fetch anything). Every chart scales down
//! with the page (a viewBox, no fixed width), so none is wider than the window.

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

/// Horizontal bar chart: (label, value) rows, sized for a panel of a third of the page.
pub fn bars(rows: &[(String, f64)], unit: &str) -> String {
    if rows.is_empty() {
        return "<p class=muted>no data</p>".into();
    }
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1e-9);
    let h = 20 * rows.len() + 6;
    let mut s = svg_open(400, h as u32, unit);
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 3 + i * 20;
        let w = (v / max * 140.0).max(1.0);
        let short: String = label.chars().take(24).collect();
        let cut = if label.chars().count() > 24 {
            "…"
        } else {
            ""
        };
        s.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"12\"><title>{}</title>{}{cut}</text><rect x=\"180\" y=\"{}\" width=\"{:.1}\" height=\"15\" fill=\"#3b6ea8\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{} {}</text>",
            y + 12,
            esc(label),
            esc(&short),
            y,
            w,
            184.0 + w,
            y + 12,
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
    let mut s = svg_open(640, 170, caption);
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

/// The opening tag of a chart: scales with its container (never wider than the page), `w`x`h` units.
fn svg_open(w: u32, h: u32, label: &str) -> String {
    format!(
        "<svg class=chart viewBox=\"0 0 {w} {h}\" preserveAspectRatio=\"xMinYMin meet\" role=img aria-label=\"{}\" style=\"max-width:{w}px\">",
        esc(label)
    )
}

/// Axis labels for a time axis from `lo` to `hi` (UTC microseconds): time of day when the span is
/// under a day, else the date and time.
pub fn time_label(us: i64, span_us: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_micros(us) else {
        return String::new();
    };
    if span_us < 86_400_000_000 {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// Stacked columns over a real time axis: `buckets` equal slices of [`lo`, `hi`], each series one
/// value per bucket, a legend per series. With one series it is a plain column chart.
pub fn time_columns(
    lo: i64,
    hi: i64,
    series: &[(String, Vec<f64>)],
    unit: &str,
    caption: &str,
) -> String {
    let n = series.iter().map(|s| s.1.len()).max().unwrap_or(0);
    if n == 0 || series.iter().all(|s| s.1.iter().all(|v| *v == 0.0)) {
        return "<p class=muted>no data</p>".into();
    }
    const PALETTE: [&str; 7] = [
        "#3b6ea8", "#a8553b", "#4c9a52", "#8a5fb0", "#c99a2e", "#5a9aa8", "#888888",
    ];
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            series
                .iter()
                .map(|s| s.1.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().fold(0.0f64, f64::max).max(1e-9);
    let (x0, x1, top, base) = (50.0, 1030.0, 10.0, 170.0);
    let bw = (x1 - x0) / n as f64;
    let legend_rows = if series.len() > 1 {
        1 + series.len() / 5
    } else {
        0
    };
    let h = 196 + 16 * legend_rows as u32 + if legend_rows > 0 { 10 } else { 0 };
    let mut s = svg_open(1040, h, caption);
    for i in 0..n {
        let mut y = base;
        for (k, (_, v)) in series.iter().enumerate() {
            let val = v.get(i).copied().unwrap_or(0.0);
            if val <= 0.0 {
                continue;
            }
            let hh = val / max * (base - top);
            y -= hh;
            s.push_str(&format!(
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\"><title>{}: {} {}</title></rect>",
                x0 + i as f64 * bw,
                y,
                (bw - 1.0).max(0.5),
                hh,
                PALETTE[k.min(PALETTE.len() - 1)],
                esc(&time_label(lo + (hi - lo) * i as i64 / n as i64, hi - lo)),
                esc(&crate::report::human_number(val)),
                esc(unit)
            ));
        }
    }
    s.push_str(&format!(
        "<line x1=\"{x0}\" y1=\"{base}\" x2=\"{x1}\" y2=\"{base}\" stroke=\"#444\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        x0 - 4.0,
        top + 8.0,
        esc(&crate::report::human_number(max)),
        x0 - 4.0,
        base
    ));
    for t in 0..=4 {
        let x = x0 + (x1 - x0) * t as f64 / 4.0;
        let anchor = match t {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        s.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{base}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"{anchor}\">{}</text>",
            base + 4.0,
            base + 16.0,
            esc(&time_label(lo + (hi - lo) * t / 4, hi - lo))
        ));
    }
    if series.len() > 1 {
        for (k, (name, _)) in series.iter().enumerate() {
            let (col, row) = (k % 5, k / 5);
            let (x, y) = (x0 + col as f64 * 190.0, 204.0 + row as f64 * 16.0);
            s.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
                y - 9.0,
                PALETTE[k.min(PALETTE.len() - 1)],
                x + 14.0,
                y,
                esc(&name.chars().take(28).collect::<String>())
            ));
        }
    }
    s.push_str("</svg>");
    s
}

/// Scatter plot of (x, y, weight) points on [0, `x_max`] x [0, `y_max`]; heavier points darker.
pub fn scatter(
    points: &[(f64, f64, f64)],
    (x_label, x_max): (&str, f64),
    (y_label, y_max): (&str, f64),
    caption: &str,
) -> String {
    if points.is_empty() {
        return "<p class=muted>no data</p>".into();
    }
    let (x0, x1, top, base) = (50.0, 1030.0, 10.0, 260.0);
    let wmax = points.iter().map(|p| p.2).fold(1.0f64, f64::max);
    let mut s = svg_open(1040, 300, caption);
    for (x, y, w) in points {
        let px = x0 + (x / x_max).clamp(0.0, 1.0) * (x1 - x0);
        let py = base - (y / y_max).clamp(0.0, 1.0) * (base - top);
        let opacity = 0.25 + 0.75 * (w.ln_1p() / wmax.ln_1p());
        s.push_str(&format!(
            "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"#a8553b\" fill-opacity=\"{opacity:.2}\"/>"
        ));
    }
    s.push_str(&format!(
        "<line x1=\"{x0}\" y1=\"{base}\" x2=\"{x1}\" y2=\"{base}\" stroke=\"#444\"/><line x1=\"{x0}\" y1=\"{top}\" x2=\"{x0}\" y2=\"{base}\" stroke=\"#444\"/>\
<text x=\"{x0}\" y=\"276\" font-size=\"11\">0</text><text x=\"{x1}\" y=\"276\" font-size=\"11\" text-anchor=\"end\">{}</text><text x=\"540\" y=\"292\" font-size=\"11\" text-anchor=\"middle\">{}</text>\
<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text><text x=\"12\" y=\"140\" font-size=\"11\" transform=\"rotate(-90 12 140)\" text-anchor=\"middle\">{}</text></svg>",
        esc(&crate::report::human_number(x_max)),
        esc(x_label),
        x0 - 4.0,
        top + 8.0,
        esc(&crate::report::human_number(y_max)),
        esc(y_label)
    ));
    s
}

/// A timeline strip: one tick per event time in [`lo`, `hi`] (a beacon's check-ins).
pub fn strip(times: &[i64], lo: i64, hi: i64, caption: &str) -> String {
    if times.is_empty() || hi <= lo {
        return String::new();
    }
    let (x0, x1) = (10.0, 1030.0);
    let mut s = svg_open(1040, 52, caption);
    s.push_str("<line x1=\"10\" y1=\"24\" x2=\"1030\" y2=\"24\" stroke=\"#bbb\"/>");
    for t in times {
        let x = x0 + ((t - lo) as f64 / (hi - lo) as f64).clamp(0.0, 1.0) * (x1 - x0);
        s.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"12\" x2=\"{x:.1}\" y2=\"36\" stroke=\"#3b6ea8\"/>"
        ));
    }
    s.push_str(&format!(
        "<text x=\"10\" y=\"50\" font-size=\"11\">{}</text><text x=\"1030\" y=\"50\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
        esc(&time_label(lo, hi - lo)),
        esc(&time_label(hi, hi - lo))
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
