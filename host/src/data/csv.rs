//! CSV tables: feature columns and a label column, chosen by name (with a
//! header row) or by index. Fields are separated by commas; quoting is not
//! supported. Labels are class indices, or names mapped to indices in sorted
//! order (as `ImageFolder`'s classes).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::bad::BadRecords;
use super::Tensors;

/// A column, by header name or by 0-based index.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Column {
    /// 0-based position.
    Index(usize),
    /// Name in the header row.
    Name(String),
}

/// Where the columns are: `features` (default: all but the label) and
/// `label` (default: the last column).
#[derive(Debug, Clone, Default)]
pub struct Columns<'a> {
    /// The label column.
    pub label: Option<&'a Column>,
    /// The feature columns, in order.
    pub features: Option<&'a [Column]>,
    /// Whether the first line is a header.
    pub header: bool,
}

fn resolve(col: &Column, names: Option<&[&str]>, width: usize, path: &Path) -> Result<usize> {
    match col {
        Column::Index(i) if *i < width => Ok(*i),
        Column::Index(i) => bail!("`{}`: column {i} does not exist (line 1 has {width} columns)", path.display()),
        Column::Name(name) => match names {
            None => bail!("`{}`: column `{name}` named, but the data set has `header = false`", path.display()),
            Some(names) => names.iter().position(|n| n.trim() == name).with_context(|| {
                format!("`{}`: no column `{name}` in the header (line 1: {})", path.display(), names.join(", "))
            }),
        },
    }
}

/// The table at `path`: features `[N, F]` as `f32`, labels `[N]`.
///
/// # Errors
/// An unreadable file or unknown column, and (unless skipped) a ragged row
/// or a field that is not a number, with the file and the line number.
pub fn load(path: &Path, cols: &Columns<'_>, bad: &mut BadRecords) -> Result<Tensors> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let first = lines.clone().next().map(|(_, l)| l).with_context(|| format!("`{}`: empty table", path.display()))?;
    let width = first.split(',').count();
    let names: Option<Vec<&str>> = cols.header.then(|| first.split(',').map(str::trim).collect());
    if cols.header {
        lines.next();
    }
    let label = match cols.label {
        Some(c) => resolve(c, names.as_deref(), width, path)?,
        None => width - 1,
    };
    let features: Vec<usize> = match cols.features {
        Some(list) => list.iter().map(|c| resolve(c, names.as_deref(), width, path)).collect::<Result<_>>()?,
        None => (0..width).filter(|&i| i != label).collect(),
    };
    if features.is_empty() {
        bail!("`{}`: no feature column", path.display());
    }
    let (mut xs, mut raw_labels) = (Vec::new(), Vec::new());
    'rows: for (i, line) in lines {
        let lineno = i + 1;
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != width {
            bad.report(format!("`{}`: line {lineno}: ragged row with {} fields, expected {width}", path.display(), fields.len()), 1)?;
            continue;
        }
        let start = xs.len();
        for &f in &features {
            match fields[f].parse::<f32>() {
                Ok(v) => xs.push(v),
                Err(_) => {
                    xs.truncate(start);
                    bad.report(format!("`{}`: line {lineno}, column {}: `{}` is not a number", path.display(), f + 1, fields[f]), 1)?;
                    continue 'rows;
                }
            }
        }
        raw_labels.push(fields[label].to_string());
    }
    let labels: Vec<i64> = if raw_labels.iter().all(|l| l.parse::<i64>().is_ok_and(|v| v >= 0)) {
        raw_labels.iter().map(|l| l.parse().expect("checked")).collect()
    } else {
        let classes: BTreeMap<&str, i64> = {
            let mut names: Vec<&str> = raw_labels.iter().map(String::as_str).collect();
            names.sort_unstable();
            names.dedup();
            names.into_iter().zip(0..).collect()
        };
        raw_labels.iter().map(|l| classes[l.as_str()]).collect()
    };
    let n = labels.len() as i64;
    Ok(Tensors { inputs: Tensor::from_slice(&xs).view([n, features.len() as i64]), targets: Tensor::from_slice(&labels) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_by_name_and_index_and_ragged_rows() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.csv");
        std::fs::write(&path, "a,b,y,c\n1,2,1,3\n4,5,0,6\n").unwrap();
        let label = Column::Name("y".into());
        let features = [Column::Name("c".into()), Column::Index(0)];
        let cols = Columns { label: Some(&label), features: Some(&features), header: true };
        let t = load(&path, &cols, &mut BadRecords::new(false)).unwrap();
        assert_eq!(Vec::<f32>::try_from(t.inputs.flatten(0, -1)).unwrap(), vec![3.0, 1.0, 6.0, 4.0]);
        assert_eq!(Vec::<i64>::try_from(&t.targets).unwrap(), vec![1, 0]);
        std::fs::write(&path, "a,b,y,c\n1,2,1,3\n4,5,0\n7,8,1,9\n").unwrap();
        let err = load(&path, &cols, &mut BadRecords::new(false)).unwrap_err().to_string();
        assert!(err.contains("t.csv") && err.contains("line 3"), "{err}");
        let mut bad = BadRecords::new(true);
        assert_eq!(load(&path, &cols, &mut bad).unwrap().targets.size(), vec![2]);
        assert_eq!(bad.count, 1);
        // Label names become sorted class indices; default label is the last column.
        std::fs::write(&path, "x,kind\n1,dog\n2,cat\n").unwrap();
        let t = load(&path, &Columns { header: true, ..Default::default() }, &mut BadRecords::new(false)).unwrap();
        assert_eq!(Vec::<i64>::try_from(&t.targets).unwrap(), vec![1, 0]);
    }
}
