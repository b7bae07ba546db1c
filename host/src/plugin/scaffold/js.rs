//! `hammer plugin new NAME --kind ... --lang js`: a JavaScript plugin built
//! against hammer's WIT, with a manifest to pack it.
//!
//! Hooks and learning-rate policies embed QuickJS (`jco componentize
//! --backend qjs`, synchronous runtime): small components, cheap calls.
//! Metrics embed SpiderMonkey (`componentize-js`), as hammer's own
//! `polyglot/js/accuracy` does: componentize-qjs 0.4.5 does not release the
//! borrowed tensor handles a metric receives, which wasmtime traps on.

use std::path::Path;

use anyhow::{Context, Result};

use super::Kind;
use crate::plugin::runtime::INTERFACE_VERSION;

/// The toolchain the scaffold's `package.json` pins: the versions hammer's own
/// JavaScript plugins are built and tested with (`polyglot/js/package.json`).
const JCO: &str = "1.35.0";
/// See [`JCO`].
const COMPONENTIZE_JS: &str = "0.23.0";
/// See [`JCO`]: jco's QuickJS backend, which jco itself requires only by a range.
const COMPONENTIZE_QJS: &str = "0.4.5";

/// Writes `app.js`, `build.sh`, `package.json`, `manifest.toml` and a README into `dir`.
pub(super) fn write(dir: &Path, name: &str, kind: Kind, wit: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let write = |file: &str, text: String| -> Result<()> {
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))
    };
    let app = match kind {
        Kind::Hook => HOOK,
        Kind::Metric => METRIC,
        Kind::LrPolicy => LR_POLICY,
    };
    let app = app.replace("@INTERFACE@", INTERFACE_VERSION);
    write("app.js", format!("// `{name}`: a hammer {} plugin in JavaScript.\n{app}", kind.name()))?;
    write("build.sh", build_sh(name, kind, wit))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("build.sh");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make `{}` executable", script.display()))?;
    }
    write("package.json", package_json(name))?;
    write("manifest.toml", super::manifest(name, kind, "JavaScript"))?;
    write("README.md", readme(name, kind))?;
    write(".gitignore", "/node_modules\n/*.wasm\n/dist\n".into())?;
    Ok(())
}

fn build_sh(name: &str, kind: Kind, wit: &Path) -> String {
    let world = format!("{}-plugin", kind.name());
    let command = if kind == Kind::Metric {
        format!(
            "# SpiderMonkey (componentize-js), without its `fetch`, whose `wasi:http`\n\
             # imports hammer does not provide.\n\
             \"$BIN/componentize-js\" app.js --wit \"$WIT\" --world-name {world} --disable http fetch-event -o {name}.wasm"
        )
    } else {
        format!(
            "# QuickJS (jco's qjs backend), with the synchronous runtime hammer runs.\n\
             \"$BIN/jco\" componentize app.js --wit \"$WIT\" --world-name {world} --backend qjs --backend-qjs-disable-async \\\n    -o {name}.wasm"
        )
    };
    format!(
        r#"#!/usr/bin/env bash
# Builds {name}.wasm from app.js with jco and componentize-js: those in
# $NODE_BIN, else those `npm install` put into node_modules/.bin, else those
# hammer's `make setup` installed (~/.cache/hammer/node).
set -euo pipefail
cd "$(dirname "$0")"
WIT="${{HAMMER_WIT:-{wit}}}"
BIN="${{NODE_BIN:-}}"
if [[ -z "$BIN" ]]; then
    for candidate in node_modules/.bin "${{HAMMER_JS_TOOLCHAIN:+${{HAMMER_JS_TOOLCHAIN:-}}/node_modules/.bin}}" \
        "$HOME/.cache/hammer/node/node_modules/.bin"; do
        if [[ -n "$candidate" && -x "$candidate/jco" ]]; then BIN="$candidate"; break; fi
    done
fi
if [[ -z "$BIN" ]]; then
    echo "error: jco not found: run \`npm install\` here (Node.js 18+), or set NODE_BIN to the directory" >&2
    echo "       holding jco and componentize-js (hammer's make setup puts them in ~/.cache/hammer/node/node_modules/.bin)" >&2
    exit 1
fi
{command}
"#,
        wit = wit.display(),
    )
}

fn package_json(name: &str) -> String {
    // componentize-js imports preview2-shim without declaring it; 0.25 is the
    // version that reads the WIT by its absolute path.
    format!(
        r#"{{
  "name": "{npm_name}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "scripts": {{ "build": "./build.sh" }},
  "devDependencies": {{
    "@bytecodealliance/componentize-js": "{COMPONENTIZE_JS}",
    "@bytecodealliance/jco": "{JCO}",
    "@bytecodealliance/preview2-shim": "0.25.0",
    "componentize-qjs": "{COMPONENTIZE_QJS}"
  }}
}}
"#,
        npm_name = name.to_ascii_lowercase().replace('_', "-"),
    )
}

fn readme(name: &str, kind: Kind) -> String {
    let engine = if kind == Kind::Metric {
        "SpiderMonkey, through [componentize-js](https://www.npmjs.com/package/@bytecodealliance/componentize-js) \
         (a component of about 12 MB; QuickJS's runtime does not yet release the borrowed tensor handles \
         a metric receives)"
    } else {
        "QuickJS, through [jco](https://www.npmjs.com/package/@bytecodealliance/jco)'s `qjs` backend \
         (a component of about 1.6 MB, and calls a few times cheaper than SpiderMonkey's)"
    };
    format!(
        r#"# {name}

A hammer {kind} plugin in JavaScript, built against `hammer:plugin@{INTERFACE_VERSION}`; the
component embeds {engine}. With Node.js 18+:

```sh
npm install       # jco and componentize-js, into node_modules/ (build.sh also finds those
                  # hammer's `make setup` installed, or those in $NODE_BIN)
./build.sh        # writes {name}.wasm
hammer train CONFIG --plugin {name}.wasm
```

hammer compiles the component once and then loads it from its cache.

To share it, pack the component and `manifest.toml` (name, version, kind, the options
`setup` reads) into one bundle, then install that anywhere:

```sh
hammer plugin pack {name}.wasm --manifest manifest.toml --out dist   # dist/{name}-0.1.0.hpkg
hammer plugin install dist/{name}-0.1.0.hpkg
```

Writing it:
- The exports are the WIT interface's functions in camelCase (`onPhase`, `saveState`), on
  an exported object named after the interface (`hook`, `metric`, `lrPolicy`); imports
  come from `hammer:plugin/host@{INTERFACE_VERSION}`.
- WIT `u64`/`s64` values are numbers with QuickJS and `BigInt`s with SpiderMonkey
  (`step().iter`, an `integer` option's `val`): `Number(...)` works with both. An absent
  `option` is `null` (QuickJS) or `undefined` (SpiderMonkey): test it with `== null`.
  Enums are strings (`'after-train-iter'`, `'info'`); records are objects
  (`{{ phase: 'after-train-iter', every: 100 }}`).
- Return an error by throwing a *string*: it becomes the call's `err`, named in hammer's
  message. With QuickJS (hooks, lr policies) a thrown `Error` becomes the `err` too, with its
  message; with SpiderMonkey (metrics) any value other than a string traps the plugin.
- QuickJS has no `console`: log through the host (`log('info', ...)`).
- Module-level variables keep their values from call to call: that is the plugin's state.
- Tensors returned by the host are handles: drop them with `t[Symbol.dispose]()` when done.
"#,
        kind = kind.name()
    )
}

const HOOK: &str = include_str!("templates/js/hook.js");

const METRIC: &str = include_str!("templates/js/metric.js");

const LR_POLICY: &str = include_str!("templates/js/lr_policy.js");

#[cfg(test)]
mod tests {
    /// The scaffold pins exactly the toolchain hammer's own JavaScript plugins are built with.
    #[test]
    fn the_scaffold_pins_the_repository_toolchain() {
        let ours: serde_json::Value = serde_json::from_str(include_str!("../../../../polyglot/js/package.json")).unwrap();
        let scaffold: serde_json::Value = serde_json::from_str(&super::package_json("my_hook")).unwrap();
        let pinned = scaffold["devDependencies"].as_object().unwrap();
        assert_eq!(pinned, ours["dependencies"].as_object().unwrap());
        assert_eq!(scaffold["name"], "my-hook");
    }
}
