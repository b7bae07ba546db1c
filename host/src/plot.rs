//! `hammer plot WORK_DIR --metric loss --metric accuracy --out curves.png`:
//! the curves of a run from its `scalars.jsonl`, one panel per metric, drawn
//! with `plotters`: a title, labelled axes (training curves over iterations,
//! validation ones over epochs in an epoch-based run), ticks, a legend, and
//! a logarithmic axis for the learning rate. PNG or SVG, by the file's
//! extension; text is laid out in DejaVu Sans (Debian's `fonts-dejavu-core`,
//! which `make setup` installs).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One curve: its title and its (step, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// E.g. `loss (train)`.
    pub title: String,
    /// What the step counts: `iteration` or `epoch`.
    pub x_label: String,
    /// Points in step order.
    pub points: Vec<(f64, f64)>,
}

/// The series of `metrics` in the records of `scalars.jsonl`: a metric is
/// looked up in training records, then validation, then test ones. With no
/// metric given: `loss` and every validation metric.
///
/// # Errors
/// A missing or malformed file, or a metric no record has.
pub fn series(work_dir: &Path, metrics: &[String]) -> Result<Vec<Series>> {
    let path = work_dir.join("scalars.jsonl");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let records: Vec<serde_json::Value> = text
        .lines()
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("`{}` line {}", path.display(), i + 1)))
        .collect::<Result<_>>()?;
    let mut wanted: Vec<String> = metrics.to_vec();
    if wanted.is_empty() {
        wanted.push("loss".into());
        for r in records.iter().filter(|r| r["mode"] == "val") {
            for key in r.as_object().into_iter().flat_map(|o| o.keys()) {
                if !matches!(key.as_str(), "mode" | "epoch" | "iter" | "step") && !wanted.contains(key) {
                    wanted.push(key.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for metric in &wanted {
        let found = ["train", "val", "test"].iter().find_map(|mode| {
            let points: Vec<(f64, f64)> = records
                .iter()
                .filter(|r| r["mode"] == *mode)
                .filter_map(|r| Some((r["step"].as_f64()?, r[metric.as_str()].as_f64()?)))
                .collect();
            // Validation records of an epoch-based run are stepped by epoch.
            let by_epoch = *mode != "train"
                && records.iter().filter(|r| r["mode"] == *mode).all(|r| r["step"].as_f64().is_some() && r["step"] == r["epoch"]);
            let x_label = if by_epoch { "epoch" } else { "iteration" }.to_string();
            (!points.is_empty()).then(|| Series { title: format!("{metric} ({mode})"), x_label, points })
        });
        match found {
            Some(s) => out.push(s),
            None => bail!("no record in `{}` has the metric `{metric}`", path.display()),
        }
    }
    Ok(out)
}

/// Width of the picture, and height of one panel, in pixels.
const WIDTH: u32 = 900;
const PANEL: u32 = 320;

/// Where Debian (and most distributions) put DejaVu Sans.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Draws `series` one panel each and writes the picture to `out`: PNG or
/// SVG, by its extension.
///
/// # Errors
/// Another extension, no font, or a file that cannot be written.
pub fn draw(series: &[Series], out: &Path) -> Result<()> {
    let size = (WIDTH, PANEL * series.len().max(1) as u32);
    let failed = |e: String| anyhow!("cannot draw `{}`: {e}", out.display());
    let format = out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if !matches!(format.as_deref(), Some("png" | "svg")) {
        bail!("`{}`: hammer plot writes .png or .svg files", out.display());
    }
    // plotters measures text with the font for either format.
    register_font()?;
    match format.as_deref() {
        Some("png") => {
            let root = BitMapBackend::new(out, size).into_drawing_area();
            panels(&root, series).map_err(failed)?;
            root.present().map_err(|e| failed(e.to_string()))
        }
        _ => {
            let root = SVGBackend::new(out, size).into_drawing_area();
            panels(&root, series).map_err(failed)?;
            root.present().map_err(|e| failed(e.to_string()))
        }
    }
}

/// Gives plotters its sans-serif font (once per process).
fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let result = REGISTERED.get_or_init(|| {
        let bytes = FONTS.iter().find_map(|p| std::fs::read(p).ok()).ok_or_else(|| {
            format!("plots are drawn in DejaVu Sans, which is missing ({}): apt-get install fonts-dejavu-core", FONTS[0])
        })?;
        plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into_boxed_slice()))
            .map_err(|_| "DejaVu Sans cannot be read as a font".to_string())
    });
    result.clone().map_err(|e| anyhow!(e))
}

/// Fills `root` with one panel per series.
fn panels<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, series: &[Series]) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    for (area, s) in root.split_evenly((series.len().max(1), 1)).iter().zip(series) {
        panel(area, s).map_err(|e| format!("{}: {e}", s.title))?;
    }
    Ok(())
}

/// One series' panel; the learning rate on a logarithmic axis.
fn panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, s: &Series) -> Result<(), String> {
    let metric = s.title.split(" (").next().unwrap_or(&s.title).to_string();
    let mode = s.title.rsplit(" (").next().unwrap_or("").trim_end_matches(')').to_string();
    let (x0, x1) = bounds(s.points.iter().map(|p| p.0));
    let (y0, y1) = bounds(s.points.iter().map(|p| p.1));
    let log = metric == "lr" && y0 > 0.0;
    let mut builder = ChartBuilder::on(area);
    builder.caption(&s.title, ("sans-serif", 20)).margin(12).x_label_area_size(42).y_label_area_size(72);
    macro_rules! chart {
        ($y:expr) => {{
            let mut chart = builder.build_cartesian_2d(x0..x1, $y).map_err(|e| e.to_string())?;
            // Whole epochs only: one tick each, up to a dozen.
            let x_ticks = if s.x_label == "epoch" { ((x1 - x0) as usize + 1).clamp(2, 12) } else { 10 };
            chart
                .configure_mesh()
                .x_labels(x_ticks)
                .x_desc(&s.x_label)
                .y_desc(if log { format!("{metric} (log scale)") } else { metric.clone() })
                .x_label_formatter(&|v: &f64| short(*v))
                .y_label_formatter(&|v: &f64| short(*v))
                .draw()
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), BLUE.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(mode)
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .draw()
                .map_err(|e| e.to_string())?;
        }};
    }
    if log {
        chart!((y0..y1).log_scale());
    } else {
        chart!(y0..y1);
    }
    Ok(())
}

/// The range of `values`, widened when they are all equal (a flat curve).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    (lo, hi)
}

/// A tick label: short, scientific for small or large numbers.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-2 || v.abs() >= 1e5) {
        format!("{v:.2e}")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(93.6), "93.6");
        assert_eq!(short(1e-4), "1.00e-4");
        assert_eq!(short(1570.0), "1570");
    }

    fn sample() -> Series {
        Series { title: "lr (train)".into(), x_label: "iteration".into(), points: vec![(1.0, 1e-3), (2.0, 1e-4), (3.0, 1e-5)] }
    }

    #[test]
    fn draws_a_png_of_the_requested_size() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("c.png");
        draw(&[sample(), sample()], &out).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap()));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (WIDTH, 2 * PANEL));
    }

    #[test]
    fn an_svg_has_axis_labels_a_legend_and_a_log_axis_for_the_lr() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("c.svg");
        draw(&[sample()], &out).unwrap();
        let svg = std::fs::read_to_string(&out).unwrap();
        // plotters writes each text element's content on a line of its own.
        for text in ["lr (train)", "iteration", "lr (log scale)", "train", "1.00e-4", "2"] {
            assert!(svg.contains(&format!(">\n{text}\n</text>")), "{text} missing from the SVG");
        }
        assert!(draw(&[sample()], &dir.path().join("c.jpg")).unwrap_err().to_string().contains(".png or .svg"));
    }
}
