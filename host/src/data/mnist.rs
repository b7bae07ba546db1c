//! MNIST (and Fashion-MNIST, KMNIST, ...) in Yann LeCun's idx format:
//! `train-images-idx3-ubyte` / `train-labels-idx1-ubyte` (or `t10k-...`),
//! optionally gzipped.

use std::path::Path;

use anyhow::{bail, Result};

use super::bad::{find_in, read_file, BadRecords};
use super::Images;

/// The header of an idx file: its dimensions and where the data starts.
fn idx_header(bytes: &[u8], path: &Path, ndim: usize) -> Result<(Vec<usize>, usize)> {
    let shown = path.display();
    if bytes.len() < 4 {
        bail!("`{shown}`: truncated idx header ({} bytes, byte offset 0)", bytes.len());
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] as usize != ndim {
        bail!(
            "`{shown}`: wrong idx magic {:02x} {:02x} {:02x} {:02x} at byte offset 0; expected 00 00 08 {ndim:02x} (unsigned bytes, {ndim} dimension(s))",
            bytes[0], bytes[1], bytes[2], bytes[3]
        );
    }
    let start = 4 + 4 * ndim;
    if bytes.len() < start {
        bail!("`{shown}`: truncated idx header: {} bytes, the dimensions end at byte offset {start}", bytes.len());
    }
    let dims = (0..ndim)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().expect("4 bytes")) as usize)
        .collect();
    Ok((dims, start))
}

/// The `split` (`train` or `test`) of the idx files in `root`.
///
/// # Errors
/// Missing files, a wrong magic number, and (unless skipped) truncated
/// records or mismatched counts, each with the file and the position.
pub fn load(root: &Path, split: &str, bad: &mut BadRecords) -> Result<Images> {
    let prefix = if split == "test" { "t10k" } else { "train" };
    let images_path = find_in(root, &[&format!("{prefix}-images-idx3-ubyte"), &format!("{prefix}-images.idx3-ubyte")])?;
    let labels_path = find_in(root, &[&format!("{prefix}-labels-idx1-ubyte"), &format!("{prefix}-labels.idx1-ubyte")])?;
    let images = read_file(&images_path)?;
    let labels = read_file(&labels_path)?;
    let (dims, start) = idx_header(&images, &images_path, 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    let per = rows * cols;
    if per == 0 {
        bail!("`{}`: images of {rows}x{cols} pixels (byte offset 8)", images_path.display());
    }
    let complete = ((images.len() - start) / per).min(n);
    if complete < n {
        bad.report(
            format!(
                "`{}`: truncated: the header says {n} images of {rows}x{cols}, the file holds {complete}; image {complete} at byte offset {} is incomplete",
                images_path.display(),
                start + complete * per
            ),
            n - complete,
        )?;
    }
    let (label_dims, label_start) = idx_header(&labels, &labels_path, 1)?;
    let avail = label_dims[0].min(labels.len() - label_start);
    if avail < label_dims[0] {
        bad.report(
            format!(
                "`{}`: truncated: the header says {} labels, the file holds {avail}; label {avail} at byte offset {} is missing",
                labels_path.display(),
                label_dims[0],
                labels.len()
            ),
            complete.saturating_sub(avail),
        )?;
    } else if label_dims[0] != n {
        bad.report(
            format!(
                "`{}` holds {} labels for the {n} images of `{}` (record {} has no partner)",
                labels_path.display(),
                label_dims[0],
                images_path.display(),
                avail.min(n)
            ),
            complete.saturating_sub(avail),
        )?;
    }
    let kept = complete.min(avail);
    let pixels = images[start..start + kept * per].iter().map(|&b| f32::from(b) / 255.0).collect();
    let labels = labels[label_start..label_start + kept].iter().map(|&l| i64::from(l)).collect();
    Ok(Images { pixels, labels, shape: [1, rows, cols] })
}

/// The bytes of an idx file of `dims` holding `data` (for tests and tools).
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, images: &[u8], labels: &[u8]) {
        std::fs::write(dir.join("train-images-idx3-ubyte"), images).unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();
    }

    #[test]
    fn reads_images_and_labels() {
        let tmp = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..3 * 4).map(|v| (v * 20) as u8).collect();
        write(tmp.path(), &idx_bytes(&[3, 2, 2], &data), &idx_bytes(&[3], &[7, 1, 9]));
        let got = load(tmp.path(), "train", &mut BadRecords::new(false)).unwrap();
        assert_eq!(got.shape, [1, 2, 2]);
        assert_eq!(got.labels, vec![7, 1, 9]);
        assert_eq!(got.pixels[5], 100.0 / 255.0);
    }

    #[test]
    fn wrong_magic_and_truncation_name_file_and_position() {
        let tmp = tempfile::tempdir().unwrap();
        let mut images = idx_bytes(&[3, 2, 2], &[0; 12]);
        images[2] = 0x0d;
        write(tmp.path(), &images, &idx_bytes(&[3], &[0, 1, 2]));
        let err = load(tmp.path(), "train", &mut BadRecords::new(false)).unwrap_err().to_string();
        assert!(err.contains("train-images-idx3-ubyte") && err.contains("magic") && err.contains("byte offset 0"), "{err}");
        write(tmp.path(), &idx_bytes(&[3, 2, 2], &[0; 10]), &idx_bytes(&[3], &[0, 1, 2]));
        let err = load(tmp.path(), "train", &mut BadRecords::new(false)).unwrap_err().to_string();
        assert!(err.contains("image 2 at byte offset 24"), "{err}");
        let mut bad = BadRecords::new(true);
        let got = load(tmp.path(), "train", &mut bad).unwrap();
        assert_eq!((got.labels.len(), bad.count), (2, 1));
    }
}
