//! Charts drawn on the server as SVG, for readers who would rather look than read: spending
//! against budget by line, and units delivered per day. Plain shapes and text, no script.

use std::fmt::Write;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whole yuan with thousands separators, for labels.
fn yuan(fen: i64) -> String {
    let whole = (fen / 100).abs().to_string();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if fen < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Horizontal bars: for each line the budget (light) and what was spent (dark), in fen.
pub fn spending_by_line(title: &str, lines: &[(String, i64, i64)], legend: (&str, &str)) -> String {
    let row = 34;
    let label_width = 230;
    let bar_width = 420;
    let height = 50 + row * lines.len().max(1) as i64;
    let scale = lines
        .iter()
        .map(|(_, budget, spent)| (*budget).max(*spent))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {w} {height}" width="100%" aria-label="{t}"><title>{t}</title>"#,
        w = label_width + bar_width + 120,
        t = escape(title)
    );
    let _ = write!(
        svg,
        r##"<rect x="{label_width}" y="6" width="12" height="12" fill="#c9d8ec"/><text x="{}" y="16" font-size="12">{}</text><rect x="{}" y="6" width="12" height="12" fill="#1f5fa8"/><text x="{}" y="16" font-size="12">{}</text>"##,
        label_width + 16,
        escape(legend.0),
        label_width + 110,
        label_width + 126,
        escape(legend.1)
    );
    for (i, (label, budget, spent)) in lines.iter().enumerate() {
        let y = 30 + row as usize * i;
        let width =
            |fen: i64| (i128::from(fen.max(0)) * i128::from(bar_width) / i128::from(scale)) as i64;
        let short: String = label.chars().take(16).collect();
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text><rect x="{label_width}" y="{}" width="{}" height="12" fill="#c9d8ec"/><rect x="{label_width}" y="{}" width="{}" height="12" fill="#1f5fa8"/><text x="{}" y="{}" font-size="11">{} / {}</text>"##,
            label_width - 8,
            y + 16,
            escape(&short),
            y + 4,
            width(*budget),
            y + 16,
            width(*spent),
            label_width + width((*budget).max(*spent)) + 6,
            y + 20,
            yuan(*spent),
            yuan(*budget)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical bars: units received per day.
pub fn deliveries_over_time(title: &str, days: &[(String, i64)]) -> String {
    let (left, top, plot_h, bar) = (50i64, 20i64, 160i64, 28i64);
    let width = left + 20 + bar * days.len().max(1) as i64;
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {h}" width="100%" aria-label="{t}"><title>{t}</title>"#,
        h = top + plot_h + 60,
        t = escape(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#555"/><text x="{}" y="{}" font-size="11" text-anchor="end">{max}</text>"##,
        top + plot_h,
        width - 10,
        top + plot_h,
        left - 6,
        top + 10
    );
    for (i, (day, units)) in days.iter().enumerate() {
        let h = units * plot_h / max;
        let x = left + 4 + bar * i as i64;
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="{}" width="{}" height="{h}" fill="#2e8b57"><title>{} {units}</title></rect><text x="{}" y="{}" font-size="10" transform="rotate(60 {} {})">{}</text>"##,
            top + plot_h - h,
            bar - 6,
            escape(day),
            x + 4,
            top + plot_h + 12,
            x + 4,
            top + plot_h + 12,
            escape(day.get(5..).unwrap_or(day))
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_amount_and_labels_are_escaped() {
        let svg = spending_by_line(
            "支出",
            &[
                ("A&B".into(), 100_000, 50_000),
                ("<C>".into(), 200_000, 200_000),
            ],
            ("预算", "已支出"),
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("A&amp;B") && svg.contains("&lt;C&gt;"));
        assert!(
            svg.contains(r#"width="420""#),
            "the largest bar is full width"
        );
        assert!(svg.contains(r#"width="105""#), "half of a half");
        assert!(svg.contains("500 / 1,000"));
    }

    #[test]
    fn one_bar_per_day() {
        let svg = deliveries_over_time(
            "送达",
            &[("2026-11-24".into(), 10), ("2026-11-25".into(), 20)],
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(r#"height="160""#));
    }
}
