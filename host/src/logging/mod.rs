//! What a run tells its user: console lines and `<work_dir>/hammer.log` in
//! MMEngine's shape, one JSON object per log event in
//! `<work_dir>/scalars.jsonl` and the same scalars in TensorBoard event files
//! (`<work_dir>/tensorboard/`, see [`tensorboard`]), and a progress bar when
//! standard error is a terminal.

pub mod tensorboard;

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal progress.
    Info,
    /// Something the user should look at; the run goes on.
    Warning,
}

/// Writes log lines and scalar records. A cheap handle: clones share the
/// same files, so plugins can log under their name beside the runner.
#[derive(Debug, Clone)]
pub struct Logger {
    inner: Arc<Mutex<Sinks>>,
    shows_progress: bool,
    /// Warnings only: the other ranks of a distributed job, which leave
    /// progress to rank 0.
    warnings_only: bool,
}

#[derive(Debug)]
struct Sinks {
    file: Option<BufWriter<File>>,
    scalars: Option<BufWriter<File>>,
    events: Option<tensorboard::EventWriter>,
    progress: Option<Progress>,
}

impl Logger {
    /// A logger writing `hammer.log` and `scalars.jsonl` into `work_dir`
    /// (console only when `None`), with a progress bar if asked for and
    /// standard error is a terminal.
    ///
    /// # Errors
    /// The log files cannot be created.
    pub fn new(work_dir: Option<&Path>, progress_bar: bool) -> Result<Self> {
        Self::with_tensorboard(work_dir, progress_bar, false)
    }

    /// [`Self::new`], also writing TensorBoard event files into
    /// `<work_dir>/tensorboard/` when `tensorboard` is set.
    ///
    /// # Errors
    /// The log files cannot be created.
    pub fn with_tensorboard(work_dir: Option<&Path>, progress_bar: bool, tensorboard: bool) -> Result<Self> {
        let open = |name: &str| -> Result<Option<BufWriter<File>>> {
            let Some(dir) = work_dir else { return Ok(None) };
            let path = dir.join(name);
            let file = File::options()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open `{}`", path.display()))?;
            Ok(Some(BufWriter::new(file)))
        };
        let progress = (progress_bar && std::io::stderr().is_terminal()).then(Progress::default);
        let shows_progress = progress.is_some();
        let events = match work_dir {
            Some(dir) if tensorboard => Some(tensorboard::EventWriter::create(&dir.join("tensorboard"))?),
            _ => None,
        };
        let sinks = Sinks { file: open("hammer.log")?, scalars: open("scalars.jsonl")?, events, progress };
        Ok(Self { inner: Arc::new(Mutex::new(sinks)), shows_progress, warnings_only: false })
    }

    /// A console logger that shows warnings only (what ranks other than 0
    /// of a distributed job use, as MMEngine's do).
    pub fn warnings_only() -> Self {
        let sinks = Sinks { file: None, scalars: None, events: None, progress: None };
        Self { inner: Arc::new(Mutex::new(sinks)), shows_progress: false, warnings_only: true }
    }

    fn sinks(&self) -> MutexGuard<'_, Sinks> {
        // A panic while logging leaves the sinks usable: recover them.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Logs one line at `level`, to the console and `hammer.log`.
    pub fn log(&self, level: Level, message: &str) {
        if self.warnings_only && level == Level::Info {
            return;
        }
        let stamp = chrono::Local::now().format("%Y/%m/%d %H:%M:%S");
        let level = match level {
            Level::Info => "INFO",
            Level::Warning => "WARNING",
        };
        let line = format!("{stamp} - hammer - {level} - {message}");
        let mut sinks = self.sinks();
        if let Some(p) = &mut sinks.progress {
            p.clear();
        }
        println!("{line}");
        if let Some(f) = &mut sinks.file {
            // Logging must never stop training; a full disk shows up at the
            // next checkpoint, which does fail loudly.
            let _ = writeln!(f, "{line}").and_then(|()| f.flush());
        }
    }

    /// Logs an informational line.
    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    /// Logs a warning.
    pub fn warn(&self, message: &str) {
        self.log(Level::Warning, message);
    }

    /// Appends one JSON object to `scalars.jsonl`, and its numbers to the
    /// TensorBoard events at its `step`, tagged `<mode>/<name>` (names that
    /// have a `/` already are kept as they are).
    pub fn record(&self, record: &serde_json::Value) {
        let mut sinks = self.sinks();
        if let Some(f) = &mut sinks.scalars {
            let _ = writeln!(f, "{record}").and_then(|()| f.flush());
        }
        if let (Some(events), Some(fields)) = (&mut sinks.events, record.as_object()) {
            let mode = fields.get("mode").and_then(|m| m.as_str()).unwrap_or("train");
            let step = fields.get("step").and_then(serde_json::Value::as_i64).unwrap_or(0);
            let scalars: Vec<(String, f64)> = fields
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "step" | "epoch" | "iter" | "mode"))
                .filter_map(|(k, v)| {
                    let tag = if k.contains('/') { k.clone() } else { format!("{mode}/{k}") };
                    v.as_f64().map(|v| (tag, v))
                })
                .collect();
            let _ = events.scalars(step, &scalars);
        }
    }

    /// Whether a progress bar is on screen (so callers skip preparing its label otherwise).
    pub fn shows_progress(&self) -> bool {
        self.shows_progress
    }

    /// Shows `done` of `total` batches of `label` on the progress bar.
    pub fn progress(&self, label: &str, done: u64, total: u64) {
        if let Some(p) = &mut self.sinks().progress {
            p.show(label, done, total);
        }
    }

    /// Removes the progress bar from the screen.
    pub fn end_progress(&self) {
        if let Some(p) = &mut self.sinks().progress {
            p.clear();
        }
    }
}

/// A one-line progress bar on standard error, redrawn at most 10 times a
/// second, with the rate and the time left measured since its first draw.
#[derive(Debug, Default)]
struct Progress {
    last: Option<Instant>,
    /// When and at which count the bar was first drawn (a resumed run starts past 0).
    first: Option<(Instant, u64)>,
    shown: bool,
}

impl Progress {
    fn show(&mut self, label: &str, done: u64, total: u64) {
        let now = Instant::now();
        let (since, from) = *self.first.get_or_insert((now, done));
        if done < total && self.last.is_some_and(|t| now - t < Duration::from_millis(100)) {
            return;
        }
        self.last = Some(now);
        eprint!("\r{}", progress_line(label, done, total, done - from, (now - since).as_secs_f64()));
        let _ = std::io::stderr().flush();
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
            self.shown = false;
        }
    }
}

/// `label [#####     ] done/total  rate it/s  eta h:mm:ss`: `counted` of the
/// done items took `seconds` (no rate until one is counted).
fn progress_line(label: &str, done: u64, total: u64, counted: u64, seconds: f64) -> String {
    const WIDTH: u64 = 30;
    let filled = (done.min(total) * WIDTH).checked_div(total).unwrap_or(WIDTH) as usize;
    let bar = format!("{}{}", "#".repeat(filled), " ".repeat(WIDTH as usize - filled));
    let mut line = format!("{label} [{bar}] {done}/{total}");
    if counted > 0 && seconds > 0.0 {
        let rate = counted as f64 / seconds;
        let left = total.saturating_sub(done) as f64 / rate;
        line.push_str(&format!("  {rate:.1} it/s  eta {}", format_eta(left)));
    }
    line
}

/// `h:mm:ss`, as MMEngine prints the ETA.
pub fn format_eta(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Scientific notation with four decimals and a two-digit exponent, as
/// Python's `f"{x:.4e}"` (`1.0000e-03`), which MMEngine users read.
pub fn format_sci(x: f64) -> String {
    let s = format!("{x:.4e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sci_matches_python() {
        assert_eq!(format_sci(1e-3), "1.0000e-03");
        assert_eq!(format_sci(0.1), "1.0000e-01");
        assert_eq!(format_sci(12345.0), "1.2345e+04");
        assert_eq!(format_sci(2.5e-12), "2.5000e-12");
    }

    #[test]
    fn the_progress_bar_shows_rate_and_time_left() {
        assert_eq!(progress_line("Iter(train)", 0, 10, 0, 0.0), format!("Iter(train) [{}] 0/10", " ".repeat(30)));
        let line = progress_line("Epoch(train) [1] 50/100", 50, 100, 50, 2.0);
        assert!(line.ends_with("] 50/100  25.0 it/s  eta 0:00:02"), "{line}");
    }

    #[test]
    fn eta_is_hours_minutes_seconds() {
        assert_eq!(format_eta(2.4), "0:00:02");
        assert_eq!(format_eta(3725.0), "1:02:05");
    }

    #[test]
    fn writes_log_and_scalars_into_the_work_dir() {
        let dir = tempfile::tempdir().unwrap();
        let logger = Logger::new(Some(dir.path()), false).unwrap();
        logger.info("Epoch(train) [1][1/1]  loss: 0.5000");
        logger.record(&serde_json::json!({"loss": 0.5, "step": 1}));
        let log = std::fs::read_to_string(dir.path().join("hammer.log")).unwrap();
        assert!(log.contains(" - hammer - INFO - Epoch(train) [1][1/1]  loss: 0.5000"), "{log}");
        let jsonl = std::fs::read_to_string(dir.path().join("scalars.jsonl")).unwrap();
        assert_eq!(jsonl.trim(), r#"{"loss":0.5,"step":1}"#);
    }
}
