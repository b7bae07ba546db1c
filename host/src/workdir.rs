//! The job's work directory: `work_dirs/<job-name>` unless given, refused
//! when it already exists (as Hammer does) unless the run resumes that job.

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

/// Creates `dir` for a new job, or checks it exists for a resumed one.
///
/// # Errors
/// A new job whose work dir already exists and is not empty (the message
/// says how to resume it or choose another), a resumed job without a work
/// dir, or an I/O error.
pub fn prepare(dir: &Path, resuming: bool) -> Result<()> {
    let non_empty = dir.read_dir().map(|mut d| d.next().is_some()).unwrap_or(false);
    if resuming {
        if !dir.is_dir() {
            bail!("cannot resume: the work dir `{}` does not exist", dir.display());
        }
        return Ok(());
    }
    if non_empty {
        bail!(
            "the work dir `{}` already exists; pass --resume to continue that job, \
             or choose another with --job-name or --work-dir",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the work dir `{}`", dir.display()))
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
        let err = prepare(&dir, false).unwrap_err().to_string();
        assert!(err.contains("already exists") && err.contains("--resume"), "{err}");
        prepare(&dir, true).unwrap();
        assert!(prepare(&tmp.path().join("nope"), true).is_err());
    }
}
