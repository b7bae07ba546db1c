//! The checkpoints of one work dir: their names, `last_checkpoint`, and
//! pruning to the newest N.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::atomic::write_atomic;

/// Name of the file that holds the path of the newest checkpoint (MMEngine's).
pub const LAST_CHECKPOINT: &str = "last_checkpoint";

/// Whether a checkpoint counts epochs or iterations in its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `epoch_N.safetensors`.
    Epoch,
    /// `iter_N.safetensors`.
    Iter,
}

impl Unit {
    fn prefix(self) -> &'static str {
        match self {
            Unit::Epoch => "epoch_",
            Unit::Iter => "iter_",
        }
    }
}

/// The file name of checkpoint `n` (1-based epoch or iteration).
pub fn file_name(unit: Unit, n: u64) -> String {
    format!("{}{n}.safetensors", unit.prefix())
}

/// Points `last_checkpoint` in `work_dir` at `checkpoint` (a file of that
/// work dir), atomically. It holds the file's name alone, so a work dir that
/// is copied or moved resumes its own checkpoints.
///
/// # Errors
/// An I/O error.
pub fn set_last(work_dir: &Path, checkpoint: &Path) -> Result<()> {
    let name = checkpoint.file_name().unwrap_or(checkpoint.as_os_str());
    write_atomic(&work_dir.join(LAST_CHECKPOINT), name.to_string_lossy().as_bytes())
}

/// The checkpoint `last_checkpoint` names, if the file exists.
///
/// # Errors
/// An unreadable `last_checkpoint`.
pub fn last(work_dir: &Path) -> Result<Option<PathBuf>> {
    let path = work_dir.join(LAST_CHECKPOINT);
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let named = PathBuf::from(text.trim());
    // hammer writes the file name alone; until December 2026 it wrote the path as the
    // run saw it (relative to its current directory). Either way the work
    // dir's own file of that name comes first: a copied work dir resumes
    // its own checkpoint, not the original's.
    let own = work_dir.join(named.file_name().unwrap_or_default());
    Ok(Some(if own.exists() || !named.exists() { own } else { named }))
}

/// The periodic checkpoints of `unit` in `work_dir`, oldest first.
///
/// # Errors
/// An unreadable work dir.
pub fn list(work_dir: &Path, unit: Unit) -> Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(work_dir).with_context(|| format!("cannot list `{}`", work_dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let n = name
            .strip_prefix(unit.prefix())
            .and_then(|rest| rest.strip_suffix(".safetensors"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = n {
            found.push((n, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Deletes all but the newest `keep` checkpoints of `unit`; `keep < 0` keeps all.
///
/// # Errors
/// An I/O error while listing or deleting.
pub fn prune(work_dir: &Path, unit: Unit, keep: i64) -> Result<()> {
    if keep < 0 {
        return Ok(());
    }
    let all = list(work_dir, unit)?;
    let excess = all.len().saturating_sub(keep as usize);
    for (_, path) in &all[..excess] {
        fs::remove_file(path).with_context(|| format!("cannot delete old checkpoint `{}`", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_oldest_by_number_not_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for n in [1, 2, 9, 10, 11] {
            fs::write(dir.path().join(file_name(Unit::Epoch, n)), b"x").unwrap();
        }
        fs::write(dir.path().join(file_name(Unit::Iter, 3)), b"x").unwrap();
        prune(dir.path(), Unit::Epoch, 2).unwrap();
        let left: Vec<u64> = list(dir.path(), Unit::Epoch).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(left, vec![10, 11]);
        assert_eq!(list(dir.path(), Unit::Iter).unwrap().len(), 1);
        prune(dir.path(), Unit::Epoch, -1).unwrap();
        assert_eq!(list(dir.path(), Unit::Epoch).unwrap().len(), 2);
    }

    #[test]
    fn last_checkpoint_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(last(dir.path()).unwrap(), None);
        let ckpt = dir.path().join(file_name(Unit::Iter, 5));
        fs::write(&ckpt, b"x").unwrap();
        set_last(dir.path(), &ckpt).unwrap();
        assert_eq!(last(dir.path()).unwrap(), Some(ckpt));
        assert_eq!(fs::read_to_string(dir.path().join(LAST_CHECKPOINT)).unwrap(), "iter_5.safetensors");
    }

    #[test]
    fn a_copied_work_dir_resumes_its_own_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let (original, copy) = (tmp.path().join("job"), tmp.path().join("copy"));
        for dir in [&original, &copy] {
            fs::create_dir(dir).unwrap();
            fs::write(dir.join(file_name(Unit::Epoch, 3)), b"x").unwrap();
            // As an older hammer wrote it: the original's path.
            fs::write(dir.join(LAST_CHECKPOINT), original.join(file_name(Unit::Epoch, 3)).to_string_lossy().as_bytes()).unwrap();
        }
        assert_eq!(last(&copy).unwrap(), Some(copy.join(file_name(Unit::Epoch, 3))));
        assert_eq!(last(&original).unwrap(), Some(original.join(file_name(Unit::Epoch, 3))));
    }
}
