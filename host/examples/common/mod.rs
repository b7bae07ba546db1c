//! Helpers the benchmark examples share (not an example itself).

use std::path::Path;

use anyhow::{Context, Result};

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Prints `report` as one line of JSON, and writes it indented to `out` if given.
pub fn report(report: &serde_json::Value, out: Option<&Path>) -> Result<()> {
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_string_pretty(report)? + "\n")
            .with_context(|| format!("cannot write `{}`", out.display()))?;
    }
    println!("{report}");
    Ok(())
}
