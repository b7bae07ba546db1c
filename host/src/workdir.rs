//! The job's work directory: `work_dirs/<job-name>` unless given, refused
//! when it already holds a job (as Hammer does) unless the run resumes it.
//!
//! A work dir whose earlier run stopped before its first checkpoint holds
//! nothing a run could continue from: a new run starts over in it (its log
//! goes on in `hammer.log`; the rest of the earlier run's files are removed).
//! A resume that fails leaves the work dir as it found it ([`Snapshot`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The work dir of a job: `explicit` if given, else `work_dirs/<job_name>`,
/// where the job name defaults to the config file's stem.
pub fn resolve(explicit: Option<&Path>, job_name: Option<&str>, config: &Path) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    let name = job_name
        .map(str::to_string)
        .unwrap_or_else(|| config.file_stem().unwrap_or_default().to_string_lossy().into_owned());
    Path::new("work_dirs").join(name)
}

/// The files a run writes into its work dir besides checkpoints: when a
/// work dir holds these alone, its run stopped before its first checkpoint.
const RUN_FILES: &[&str] = &["hammer.log", "scalars.jsonl", "config.toml", "plugins.lock", "tensorboard"];

/// The files of the append-only logs, which a failed resume must leave as they were.
const APPENDED: &[&str] = &["hammer.log", "scalars.jsonl"];

/// Whether `dir` holds the files of a run that never saved a checkpoint, and nothing else.
fn holds_a_run_without_checkpoints(dir: &Path) -> bool {
    let Ok(entries) = dir.read_dir() else { return false };
    let names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    !names.is_empty() && names.iter().all(|n| RUN_FILES.contains(&n.as_str()))
}

/// Creates `dir` for a new job, or checks it exists for a resumed one.
///
/// Returns whether a new job starts over in the work dir of a run that
/// stopped before its first checkpoint (so the caller can say so).
///
/// # Errors
/// A new job whose work dir already holds a job (the message says how to
/// resume it or choose another), a resumed job without a work dir, or an
/// I/O error.
pub fn prepare(dir: &Path, resuming: bool) -> Result<bool> {
    let non_empty = dir.read_dir().map(|mut d| d.next().is_some()).unwrap_or(false);
    if resuming {
        if !dir.is_dir() {
            bail!("cannot resume: the work dir `{}` does not exist", dir.display());
        }
        return Ok(false);
    }
    if holds_a_run_without_checkpoints(dir) {
        for name in RUN_FILES.iter().filter(|&&n| n != "hammer.log") {
            let path = dir.join(name);
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            match removed {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot clear `{}`", path.display()))
                }
                _ => {}
            }
        }
        return Ok(true);
    }
    if non_empty {
        bail!(
            "the work dir `{}` already exists; pass --resume to continue that job, \
             or choose another with --job-name or --work-dir",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the work dir `{}`", dir.display()))?;
    Ok(false)
}

/// What a resumed run may change in its work dir, taken before it starts:
/// [`Snapshot::restore`] puts it back when the run cannot even be built
/// (a checkpoint that does not exist or does not fit), so the job's log,
/// scalars, TensorBoard events and config read as if it had not been tried.
#[derive(Debug)]
pub struct Snapshot {
    dir: PathBuf,
    /// The append-only files' lengths (`None`: absent).
    lengths: Vec<(PathBuf, Option<u64>)>,
    /// The files the run rewrites whole, with their bytes (`None`: absent).
    rewritten: Vec<(PathBuf, Option<Vec<u8>>)>,
    /// The TensorBoard event files there were.
    events: Vec<PathBuf>,
}

impl Snapshot {
    /// Notes the state of `dir`.
    pub fn take(dir: &Path) -> Self {
        let lengths = APPENDED.iter().map(|n| dir.join(n)).map(|p| (p.clone(), p.metadata().ok().map(|m| m.len()))).collect();
        let rewritten = ["config.toml", "plugins.lock"].iter().map(|n| dir.join(n)).map(|p| (p.clone(), std::fs::read(&p).ok())).collect();
        Self { dir: dir.to_path_buf(), lengths, rewritten, events: event_files(dir) }
    }

    /// Puts `dir` back as [`Self::take`] found it, as far as it can (best effort:
    /// the error being reported matters more than a failure here).
    pub fn restore(&self) {
        for (path, len) in &self.lengths {
            match len {
                Some(len) => {
                    let _ = std::fs::OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(*len));
                }
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        for (path, bytes) in &self.rewritten {
            let _ = match bytes {
                Some(bytes) => std::fs::write(path, bytes),
                None => std::fs::remove_file(path),
            };
        }
        for new in event_files(&self.dir).into_iter().filter(|p| !self.events.contains(p)) {
            let _ = std::fs::remove_file(new);
        }
        let tensorboard = self.dir.join("tensorboard");
        if self.events.is_empty() {
            let _ = std::fs::remove_dir(tensorboard);
        }
    }
}

fn event_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = dir.join("tensorboard").read_dir() else { return Vec::new() };
    entries.flatten().map(|e| e.path()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_config_stem_under_work_dirs() {
        let dir = resolve(None, None, Path::new("configs/tutorial.toml"));
        assert_eq!(dir, Path::new("work_dirs/tutorial"));
        assert_eq!(resolve(None, Some("x"), Path::new("a.toml")), Path::new("work_dirs/x"));
        assert_eq!(resolve(Some(Path::new("/tmp/w")), Some("x"), Path::new("a.toml")), Path::new("/tmp/w"));
    }

    #[test]
    fn refuses_an_existing_job_unless_resuming() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("job");
        prepare(&dir, false).unwrap();
        std::fs::write(dir.join("hammer.log"), "x").unwrap();
        std::fs::write(dir.join("epoch_1.safetensors"), "x").unwrap();
        let err = prepare(&dir, false).unwrap_err().to_string();
        assert!(err.contains("already exists") && err.contains("--resume"), "{err}");
        prepare(&dir, true).unwrap();
        assert!(prepare(&tmp.path().join("nope"), true).is_err());
    }

    #[test]
    fn a_run_that_saved_no_checkpoint_is_started_over_keeping_its_log() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("job");
        assert!(!prepare(&dir, false).unwrap());
        std::fs::write(dir.join("hammer.log"), "first run\n").unwrap();
        std::fs::write(dir.join("scalars.jsonl"), "{}\n").unwrap();
        std::fs::create_dir(dir.join("tensorboard")).unwrap();
        std::fs::write(dir.join("tensorboard/events.out.tfevents.1"), "x").unwrap();
        assert!(prepare(&dir, false).unwrap());
        let left: Vec<_> = dir.read_dir().unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("hammer.log")]);
        // Anything else in it (a user's file) makes it a job to keep.
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        assert!(prepare(&dir, false).is_err());
    }

    #[test]
    fn a_snapshot_puts_logs_config_and_events_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("hammer.log"), "old\n").unwrap();
        std::fs::write(dir.join("config.toml"), "a = 1\n").unwrap();
        std::fs::create_dir(dir.join("tensorboard")).unwrap();
        std::fs::write(dir.join("tensorboard/old"), "x").unwrap();
        let snap = Snapshot::take(dir);
        std::fs::write(dir.join("hammer.log"), "old\nnew\n").unwrap();
        std::fs::write(dir.join("scalars.jsonl"), "{}\n").unwrap();
        std::fs::write(dir.join("config.toml"), "a = 2\n").unwrap();
        std::fs::write(dir.join("tensorboard/new"), "y").unwrap();
        snap.restore();
        assert_eq!(std::fs::read_to_string(dir.join("hammer.log")).unwrap(), "old\n");
        assert_eq!(std::fs::read_to_string(dir.join("config.toml")).unwrap(), "a = 1\n");
        assert!(!dir.join("scalars.jsonl").exists() && !dir.join("tensorboard/new").exists());
        assert!(dir.join("tensorboard/old").exists());
    }
}
