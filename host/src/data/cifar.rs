//! CIFAR-10's binary batches (`cifar-10-batches-bin`): `data_batch_1.bin` to
//! `data_batch_5.bin` (train) and `test_batch.bin` (test), each a sequence of
//! 3,073-byte records: one label byte, then 32×32 red, green and blue planes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::bad::{read_file, BadRecords};
use super::Images;

/// Bytes of one record.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// The batch files of `split` under `root` (or `root/cifar-10-batches-bin`).
fn batch_files(root: &Path, split: &str) -> Result<Vec<PathBuf>> {
    let names: Vec<String> = if split == "test" {
        vec!["test_batch.bin".into()]
    } else {
        (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
    };
    for dir in [root.to_path_buf(), root.join("cifar-10-batches-bin")] {
        let files: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
        if files.iter().any(|f| f.is_file()) {
            if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                bail!("`{}`: missing CIFAR-10 batch file", missing.display());
            }
            return Ok(files);
        }
    }
    bail!("`{}`: no CIFAR-10 batch files ({}) found", root.display(), names.join(", "))
}

/// The `split` (`train` or `test`) of the CIFAR-10 batches in `root`.
///
/// # Errors
/// Missing files, and (unless skipped) a short batch or a label out of
/// range, with the file, the record index and its byte offset.
pub fn load(root: &Path, split: &str, bad: &mut BadRecords) -> Result<Images> {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for path in batch_files(root, split)? {
        let bytes = read_file(&path)?;
        let whole = bytes.len() / RECORD;
        if bytes.len() % RECORD != 0 {
            bad.report(
                format!(
                    "`{}`: short batch: {} bytes is not a whole number of {RECORD}-byte records; record {whole} at byte offset {} is truncated",
                    path.display(),
                    bytes.len(),
                    whole * RECORD
                ),
                1,
            )?;
        }
        for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
            if record[0] > 9 {
                bad.report(
                    format!("`{}`: record {i} at byte offset {}: label {} is not a CIFAR-10 class (0-9)", path.display(), i * RECORD, record[0]),
                    1,
                )?;
                continue;
            }
            labels.push(i64::from(record[0]));
            pixels.extend(record[1..].iter().map(|&b| f32::from(b) / 255.0));
        }
    }
    Ok(Images { pixels, labels, shape: [3, 32, 32] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_reports_a_short_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for label in [3u8, 8] {
            bytes.push(label);
            bytes.extend((0..3072).map(|i| (i % 256) as u8));
        }
        std::fs::write(tmp.path().join("test_batch.bin"), &bytes).unwrap();
        let got = load(tmp.path(), "test", &mut BadRecords::new(false)).unwrap();
        assert_eq!((got.labels.clone(), got.pixels.len()), (vec![3, 8], 2 * 3072));
        assert_eq!(got.pixels[1], 1.0 / 255.0);
        bytes.truncate(RECORD + 100);
        std::fs::write(tmp.path().join("test_batch.bin"), &bytes).unwrap();
        let err = load(tmp.path(), "test", &mut BadRecords::new(false)).unwrap_err().to_string();
        assert!(err.contains("test_batch.bin") && err.contains("record 1 at byte offset 3073"), "{err}");
        let mut bad = BadRecords::new(true);
        assert_eq!(load(tmp.path(), "test", &mut bad).unwrap().labels, vec![3]);
        assert_eq!(bad.count, 1);
    }
}
