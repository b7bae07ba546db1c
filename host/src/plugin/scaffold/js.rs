//! `hammer plugin new NAME --kind ... --lang js`: a JavaScript plugin built
//! with `componentize-js` against hammer's WIT, with a manifest to pack it.

use std::path::Path;

use anyhow::{Context, Result};

use super::Kind;
use crate::plugin::runtime::INTERFACE_VERSION;

/// The componentize-js the scaffold's `package.json` pins: the version hammer's
/// own JavaScript plugins are built and tested with (`polyglot/js/`).
const COMPONENTIZE_JS: &str = "0.23.0";

/// Writes `app.js`, `build.sh`, `package.json`, `manifest.toml` and a README into `dir`.
pub(super) fn write(dir: &Path, name: &str, kind: Kind, wit: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let write = |file: &str, text: String| -> Result<()> {
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))
    };
    let (app, options) = match kind {
        Kind::Hook => (HOOK, HOOK_OPTIONS),
        Kind::Metric => (METRIC, ""),
        Kind::LrPolicy => (LR_POLICY, LR_POLICY_OPTIONS),
    };
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
    write(
        "manifest.toml",
        format!(
            "# What `hammer plugin pack` puts beside the component (see the README).\n\
             name = \"{name}\"\nversion = \"0.1.0\"\nkind = \"{kind}\"\ninterface = \"{INTERFACE_VERSION}\"\n\
             description = \"A hammer {kind} plugin in JavaScript\"\n{options}",
            kind = kind.name()
        ),
    )?;
    write("README.md", readme(name, kind))?;
    write(".gitignore", "/node_modules\n/*.wasm\n/dist\n".into())?;
    Ok(())
}

fn build_sh(name: &str, kind: Kind, wit: &Path) -> String {
    let world = format!("{}-plugin", kind.name());
    format!(
        r#"#!/usr/bin/env bash
# Builds {name}.wasm from app.js with componentize-js: $COMPONENTIZE_JS if set,
# else ./node_modules/.bin/componentize-js (`npm install`), else componentize-js
# on PATH. `--disable http fetch-event` leaves out the engine's `fetch`, whose
# `wasi:http` imports hammer does not provide.
set -euo pipefail
cd "$(dirname "$0")"
WIT="${{HAMMER_WIT:-{wit}}}"
CJS="${{COMPONENTIZE_JS:-}}"
if [[ -z "$CJS" ]]; then
    if [[ -x node_modules/.bin/componentize-js ]]; then CJS=node_modules/.bin/componentize-js; else CJS=componentize-js; fi
fi
"$CJS" app.js --wit "$WIT" --world-name {world} --disable http fetch-event -o {name}.wasm
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
    "@bytecodealliance/preview2-shim": "0.25.0"
  }}
}}
"#,
        npm_name = name.to_ascii_lowercase().replace('_', "-"),
    )
}

fn readme(name: &str, kind: Kind) -> String {
    format!(
        r#"# {name}

A hammer {kind} plugin in JavaScript, built against `hammer:plugin@{INTERFACE_VERSION}` with
[componentize-js](https://www.npmjs.com/package/@bytecodealliance/componentize-js) (Node.js 18+):

```sh
npm install       # componentize-js, into node_modules/
./build.sh        # writes {name}.wasm (about 12 MB: it embeds the SpiderMonkey engine)
hammer train CONFIG --plugin {name}.wasm
```

hammer compiles the component once (several seconds) and then loads it from its cache.

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
- WIT `u64`/`s64` values are `BigInt`s (`info.iter`, an `integer` option's `val`,
  `argmax(1n)`); enums are strings (`'after-train-iter'`, `'info'`).
- Return an error by throwing a *string*: it becomes the call's `err`, named in hammer's
  message. Any other thrown value (an `Error`) traps the plugin.
- Module-level variables keep their values from call to call: that is the plugin's state.
- Tensors returned by the host are handles: drop them with `t[Symbol.dispose]()` when done.
"#,
        kind = kind.name()
    )
}

const HOOK_OPTIONS: &str = r#"
[options.every]
type = "integer"
default = 100
doc = "Log the loss every this many training iterations."
"#;

const LR_POLICY_OPTIONS: &str = r#"
[options.gamma]
type = "float"
default = 0.9
doc = "The factor the lr is multiplied by at the start of every epoch."
"#;

const HOOK: &str = r#"//
// Called after every training iteration; logs the loss every `every` iterations.

import { log, scalar } from 'hammer:plugin/host@0.1.0';

// The plugin's state: module-level variables live as long as the plugin.
let every = 100n;

export const hook = {
    setup(options) {
        for (const [key, value] of options) {
            if (key !== 'every' || value.tag !== 'integer') {
                throw `unknown or mistyped option \`${key}\` (the plugin takes \`every\`, an integer)`;
            }
            every = value.val > 1n ? value.val : 1n;
        }
        return ['after-train-iter'];
    },

    onPhase(info) {
        if ((info.iter + 1n) % every === 0n) {
            const loss = scalar('loss');
            if (loss !== undefined) {
                log('info', `iteration ${info.iter + 1n}: loss ${loss.toFixed(4)}`);
            }
        }
    },

    saveState() {
        return new Uint8Array(0);
    },

    loadState(_state) {},
};
"#;

const METRIC: &str = r#"//
// Percentage of samples whose top-scoring class is the target, computed on
// the host through tensor handles.

// The plugin's state: module-level variables live as long as the plugin.
let correct = 0.0;
let total = 0.0;

export const metric = {
    setup(options) {
        for (const [key] of options) {
            throw `unknown option \`${key}\` (the plugin takes none)`;
        }
    },

    reset() {
        correct = 0.0;
        total = 0.0;
    },

    process(output, targets, _loss) {
        const predicted = output.argmax(1n);
        try {
            const hits = predicted.eq(targets);
            try {
                correct += hits.sum();
                total += Number(hits.numel());
            } finally {
                hits[Symbol.dispose]();
            }
        } finally {
            predicted[Symbol.dispose]();
        }
    },

    compute() {
        return [['my_accuracy', total ? (100.0 * correct) / total : 0.0]];
    },

    saveState() {
        return new Uint8Array(0);
    },

    loadState(_state) {},
};
"#;

const LR_POLICY: &str = r#"//
// Multiplies the learning rate by `gamma` at the start of every epoch.

// The plugin's state: module-level variables live as long as the plugin.
let gamma = 0.9;

export const lrPolicy = {
    setup(options, _baseLr, _baseMomentum) {
        for (const [key, value] of options) {
            if (key !== 'gamma' || (value.tag !== 'float' && value.tag !== 'integer')) {
                throw `unknown or mistyped option \`${key}\` (the plugin takes \`gamma\`, a number)`;
            }
            gamma = Number(value.val);
        }
    },

    step(info, lr, momentum) {
        const newEpoch = info.innerIter === 0n && info.epoch > 0;
        return { lr: newEpoch ? lr * gamma : lr, momentum };
    },

    saveState() {
        return new Uint8Array(0);
    },

    loadState(_state) {},
};
"#;
