//! Bad records: reported with the file and the position, or skipped and
//! counted when the data set says `skip_bad_samples = true`.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Where bad records go while a data set is built.
#[derive(Debug, Default)]
pub struct BadRecords {
    /// Skip (and count) bad records instead of failing.
    pub skip: bool,
    /// Records skipped so far.
    pub count: usize,
    /// The first skipped record's description.
    pub first: Option<String>,
}

impl BadRecords {
    /// Records whose problems are errors, or (with `skip`) counted.
    pub fn new(skip: bool) -> Self {
        Self { skip, count: 0, first: None }
    }

    /// A bad record described by `what` (file and position): an error, or
    /// counted when skipping. `n` records are lost.
    ///
    /// # Errors
    /// `what`, when not skipping.
    pub fn report(&mut self, what: String, n: usize) -> Result<()> {
        if !self.skip {
            bail!("{what} (set `skip_bad_samples = true` in the data set to skip bad samples)");
        }
        self.count += n;
        self.first.get_or_insert(what);
        Ok(())
    }
}

/// The bytes of `path`, gunzipped when it ends in `.gz`.
///
/// # Errors
/// A file that cannot be read or a corrupt gzip stream.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .with_context(|| format!("`{}`: corrupt gzip stream", path.display()))?;
        return Ok(out);
    }
    Ok(raw)
}

/// The first of `names` (each also tried with `.gz`) that exists in `dir`.
///
/// # Errors
/// None exists; the message lists what was looked for.
pub fn find_in(dir: &Path, names: &[&str]) -> Result<PathBuf> {
    for name in names {
        for candidate in [dir.join(name), dir.join(format!("{name}.gz"))] {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!("`{}`: none of {} (or .gz) found", dir.display(), names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
}
