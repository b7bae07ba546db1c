//! The job's configuration: reading files, inheritance, command-line
//! overrides and validation into the typed [`Config`].
//!
//! A config is a TOML (or JSON) file. Loading it goes through three steps,
//! each in its own module:
//! 1. [`load`]: parse the file and its `_base_` files into one tree, deep
//!    merged, where a table with `_delete_ = true` replaces instead of merges;
//! 2. [`overrides`]: apply `--cfg-options key.path=value` with typed parsing;
//! 3. [`validate`]: turn the tree into a [`Config`], naming the full path of
//!    any unknown key (with the closest valid name) or wrongly typed value.

mod checks;
pub(crate) use checks::valid_device;
pub mod load;
pub mod overrides;
mod schema;
mod tree;
pub mod validate;

pub use schema::*;

use std::path::Path;

/// Loads, merges, overrides and validates the config at `path`.
///
/// `options` are `key.path=value` strings as given to `--cfg-options`.
///
/// # Errors
/// A one-paragraph error for a missing or malformed file (with file, line and
/// column), a bad override, an unknown key (with its path and the closest
/// valid name) or a value of the wrong type (with the expected and found type).
pub fn load_config(path: &Path, options: &[String]) -> anyhow::Result<Config> {
    let mut tree = load::load_tree(path)?;
    overrides::apply(&mut tree, options)?;
    Ok(validate::from_tree(tree)?)
}

impl Config {
    /// The resolved config as TOML, with every default written out; this is
    /// what is saved to the work dir and what `hammer config show` prints.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        shown.checkpoint.by_epoch.get_or_insert(shown.train_cfg.by_epoch);
        shown.optim.optimizer.fill_defaults();
        toml::to_string_pretty(&shown).expect("a validated config serializes to TOML")
    }
}
