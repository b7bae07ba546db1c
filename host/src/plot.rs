//! `hammer plot WORK_DIR --metric loss --metric accuracy --out curves.png`:
//! the curves of a run from its `scalars.jsonl`, one panel per metric, as a
//! PNG drawn here (a tiny built-in pixel font, no system fonts needed).

use std::path::Path;

use anyhow::{bail, Context, Result};

/// One curve: its title and its (step, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// E.g. `loss (train)`.
    pub title: String,
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
            (!points.is_empty()).then(|| Series { title: format!("{metric} ({mode})"), points })
        });
        match found {
            Some(s) => out.push(s),
            None => bail!("no record in `{}` has the metric `{metric}`", path.display()),
        }
    }
    Ok(out)
}

const WIDTH: usize = 900;
const PANEL: usize = 320;
const MARGIN_LEFT: usize = 110;
const MARGIN: usize = 40;
const SCALE: usize = 3;

/// Draws `series` one panel each and writes the PNG to `out`.
///
/// # Errors
/// The file cannot be written.
pub fn draw(series: &[Series], out: &Path) -> Result<()> {
    let height = PANEL * series.len().max(1);
    let mut canvas = Canvas { w: WIDTH, h: height, px: vec![255; WIDTH * height * 3] };
    for (i, s) in series.iter().enumerate() {
        canvas.panel(s, i * PANEL);
    }
    let file = std::fs::File::create(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), WIDTH as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("writing the PNG header")?;
    writer.write_image_data(&canvas.px).context("writing the PNG")?;
    Ok(())
}

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, rgb: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let at = (y as usize * self.w + x as usize) * 3;
            self.px[at..at + 3].copy_from_slice(&rgb);
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), rgb: [u8; 3]) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as i64;
        for k in 0..=steps {
            let t = k as f64 / steps as f64;
            let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
                self.set(x.round() as i64 + dx, y.round() as i64 + dy, rgb);
            }
        }
    }

    fn text(&mut self, x: usize, y: usize, text: &str) {
        for (i, c) in text.chars().enumerate() {
            let rows = glyph(c.to_ascii_lowercase());
            for (r, row) in rows.iter().enumerate() {
                for (col, bit) in row.bytes().enumerate() {
                    if bit == b'#' {
                        for sy in 0..SCALE {
                            for sx in 0..SCALE {
                                let px = x + i * 4 * SCALE + col * SCALE + sx;
                                self.set(px as i64, (y + r * SCALE + sy) as i64, [0, 0, 0]);
                            }
                        }
                    }
                }
            }
        }
    }

    fn panel(&mut self, s: &Series, top: usize) {
        let (x0, x1) = bounds(s.points.iter().map(|p| p.0));
        let (y0, y1) = bounds(s.points.iter().map(|p| p.1));
        let (left, right) = (MARGIN_LEFT as f64, (self.w - MARGIN) as f64);
        let (upper, lower) = ((top + MARGIN) as f64, (top + PANEL - MARGIN) as f64);
        let sx = |x: f64| left + (x - x0) / (x1 - x0) * (right - left);
        let sy = |y: f64| lower - (y - y0) / (y1 - y0) * (lower - upper);
        let grey = [160, 160, 160];
        self.line((left, upper), (left, lower), grey);
        self.line((left, lower), (right, lower), grey);
        self.text(MARGIN_LEFT, top + 8, &s.title);
        self.text(8, upper as usize, &short(y1));
        self.text(8, lower as usize - 5 * SCALE, &short(y0));
        self.text(MARGIN_LEFT, lower as usize + 8, &short(x0));
        let last = short(x1);
        self.text(right as usize - last.len() * 4 * SCALE, lower as usize + 8, &last);
        let blue = [31, 119, 180];
        for w in s.points.windows(2) {
            self.line((sx(w[0].0), sy(w[0].1)), (sx(w[1].0), sy(w[1].1)), blue);
        }
        if let [only] = s.points.as_slice() {
            self.line((sx(only.0) - 2.0, sy(only.1)), (sx(only.0) + 2.0, sy(only.1)), blue);
        }
    }
}

/// Lowest and highest of `values`, widened when equal.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi > lo { (lo, hi) } else { (lo - 1.0, lo + 1.0) }
}

/// A number in at most 8 characters.
fn short(v: f64) -> String {
    let s = if v.abs() >= 1e5 || (v != 0.0 && v.abs() < 1e-3) { format!("{v:.2e}") } else { format!("{v:.4}") };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A 3×5 pixel glyph (`#` set), lowercase letters, digits and a few signs.
fn glyph(c: char) -> [&'static str; 5] {
    match c {
        '0' => ["###", "#.#", "#.#", "#.#", "###"],
        '1' => [".#.", "##.", ".#.", ".#.", "###"],
        '2' => ["###", "..#", "###", "#..", "###"],
        '3' => ["###", "..#", ".##", "..#", "###"],
        '4' => ["#.#", "#.#", "###", "..#", "..#"],
        '5' => ["###", "#..", "###", "..#", "###"],
        '6' => ["###", "#..", "###", "#.#", "###"],
        '7' => ["###", "..#", ".#.", ".#.", ".#."],
        '8' => ["###", "#.#", "###", "#.#", "###"],
        '9' => ["###", "#.#", "###", "..#", "###"],
        'a' => [".#.", "#.#", "###", "#.#", "#.#"],
        'b' => ["##.", "#.#", "##.", "#.#", "##."],
        'c' => [".##", "#..", "#..", "#..", ".##"],
        'd' => ["##.", "#.#", "#.#", "#.#", "##."],
        'e' => ["###", "#..", "##.", "#..", "###"],
        'f' => ["###", "#..", "##.", "#..", "#.."],
        'g' => [".##", "#..", "#.#", "#.#", ".##"],
        'h' => ["#.#", "#.#", "###", "#.#", "#.#"],
        'i' => ["###", ".#.", ".#.", ".#.", "###"],
        'j' => ["..#", "..#", "..#", "#.#", ".#."],
        'k' => ["#.#", "#.#", "##.", "#.#", "#.#"],
        'l' => ["#..", "#..", "#..", "#..", "###"],
        'm' => ["#.#", "###", "###", "#.#", "#.#"],
        'n' => ["##.", "#.#", "#.#", "#.#", "#.#"],
        'o' => [".#.", "#.#", "#.#", "#.#", ".#."],
        'p' => ["##.", "#.#", "##.", "#..", "#.."],
        'q' => [".#.", "#.#", "#.#", "##.", ".##"],
        'r' => ["##.", "#.#", "##.", "#.#", "#.#"],
        's' => [".##", "#..", ".#.", "..#", "##."],
        't' => ["###", ".#.", ".#.", ".#.", ".#."],
        'u' => ["#.#", "#.#", "#.#", "#.#", "###"],
        'v' => ["#.#", "#.#", "#.#", "#.#", ".#."],
        'w' => ["#.#", "#.#", "###", "###", "#.#"],
        'x' => ["#.#", "#.#", ".#.", "#.#", "#.#"],
        'y' => ["#.#", "#.#", ".#.", ".#.", ".#."],
        'z' => ["###", "..#", ".#.", "#..", "###"],
        '.' => ["...", "...", "...", "...", ".#."],
        '-' => ["...", "...", "###", "...", "..."],
        '+' => ["...", ".#.", "###", ".#.", "..."],
        '_' => ["...", "...", "...", "...", "###"],
        '/' => ["..#", "..#", ".#.", "#..", "#.."],
        '(' => [".#.", "#..", "#..", "#..", ".#."],
        ')' => [".#.", "..#", "..#", "..#", ".#."],
        ':' => ["...", ".#.", "...", ".#.", "..."],
        '%' => ["#.#", "..#", ".#.", "#..", "#.#"],
        _ => ["...", "...", "...", "...", "..."],
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

    #[test]
    fn draws_a_png_of_the_requested_size() {
        let dir = tempfile::tempdir().unwrap();
        let s = Series { title: "loss (train)".into(), points: vec![(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)] };
        let out = dir.path().join("c.png");
        draw(&[s.clone(), s], &out).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap()));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (WIDTH as u32, 2 * PANEL as u32));
    }
}
