//! The suite's report: a JSON document with every figure, a Markdown page with the
//! figures, ratios to the baseline and each target's verdict, and an SVG chart of the
//! latency distributions.

use crate::load::Latencies;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// One line of the latency chart: a name and its sorted latencies (ms).
pub struct Series<'a> {
    pub name: String,
    pub latencies: &'a Latencies,
}

const COLORS: [&str; 6] = ["#555555", "#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df"];

/// Latency by percentile: x is the percentile on a "nines" scale (50, 90, 99, 99.9,
/// 99.99), y the latency in ms on a log scale.
pub fn latency_svg(title: &str, series: &[Series]) -> String {
    let (width, height, left, right, top, bottom) = (760.0, 420.0, 70.0, 190.0, 40.0, 50.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let nines = |p: f64| -(1.0 - p).max(1e-5).log10(); // 0.5 → 0.3, 0.99 → 2
    let (x_min, x_max) = (nines(0.5), nines(0.9999));
    let max_ms = series.iter().filter_map(|s| s.latencies.0.last().copied()).fold(1.0f64, f64::max);
    let min_ms = series.iter().filter_map(|s| s.latencies.0.first().copied()).fold(f64::MAX, f64::min).max(0.01);
    let (y_min, y_max) = (min_ms.log10().floor(), max_ms.log10().ceil());
    let x = |p: f64| left + (nines(p) - x_min) / (x_max - x_min) * plot_w;
    let y = |ms: f64| top + plot_h - (ms.max(10f64.powf(y_min)).log10() - y_min) / (y_max - y_min) * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12"><title>{title}</title><rect width="100%" height="100%" fill="#fff"/><text x="{left}" y="24" font-size="15">{title}</text>"##
    );
    for p in [0.5, 0.9, 0.99, 0.999, 0.9999] {
        let px = x(p);
        let _ = write!(svg, r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{:.1}" stroke="#ddd"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">p{}</text>"##, top + plot_h, top + plot_h + 18.0, p * 100.0);
    }
    let mut decade = y_min;
    while decade <= y_max {
        let ms = 10f64.powf(decade);
        let py = y(ms);
        let _ = write!(svg, r##"<line x1="{left}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{} ms</text>"##, left + plot_w, left - 6.0, py + 4.0, trim(ms));
        decade += 1.0;
    }
    let _ = write!(svg, r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"##, left + plot_w / 2.0, height - 8.0);
    for (n, s) in series.iter().enumerate() {
        let color = COLORS[n % COLORS.len()];
        let mut points = String::new();
        let count = s.latencies.0.len();
        if count < 2 {
            continue;
        }
        for step in 0..=200 {
            let p = 1.0 - 0.5 * 10f64.powf(-(step as f64) / 50.0); // 0.5 … 0.99995
            if p > 1.0 - 1.0 / count as f64 {
                break;
            }
            let _ = write!(points, "{:.1},{:.1} ", x(p), y(s.latencies.at(p)));
        }
        let _ = write!(svg, r##"<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>"##);
        let ly = top + 16.0 * n as f64 + 10.0;
        let _ = write!(svg, r##"<rect x="{:.1}" y="{:.1}" width="14" height="3" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"##, width - right + 12.0, ly - 4.0, width - right + 30.0, ly, escape(&s.name));
    }
    svg.push_str("</svg>");
    svg
}

fn trim(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn write(out: &Path, markdown: &str, json: &Value, svg: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("REPORT.md"), markdown)?;
    std::fs::write(out.join("report.json"), serde_json::to_string_pretty(json)?)?;
    std::fs::write(out.join("latency.svg"), svg)?;
    Ok(())
}
