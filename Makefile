# hammer's two commands: `make train` (the tutorial job) and `make test`.
# Both set up what they need first (`make setup`), idempotently.
#
# Builds and the Python venv live outside the clone, in $(CACHE), so a second
# run — or CI on the same machine — rebuilds only what changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

CACHE ?= $(HOME)/.cache/hammer
VENV ?= $(CACHE)/venv
PYTHON := $(VENV)/bin/python
export CARGO_TARGET_DIR ?= $(CACHE)/target
export HAMMER_PYTHON := $(PYTHON)
# The JavaScript plugin toolchain polyglot/js/setup.sh installs (the tests build with it).
export HAMMER_JS_TOOLCHAIN := $(CACHE)/node
# wit-bindgen, wasm-tools and the WASI adapter of the C plugins (polyglot/c/setup.sh).
export HAMMER_C_TOOLCHAIN := $(CACHE)/tools
# libtorch is the venv's torch package; found once it is installed.
LIBTORCH_DIR = $(shell ls -d $(VENV)/lib/python3*/site-packages/torch 2>/dev/null)
CARGO = LIBTORCH=$(LIBTORCH_DIR) cargo
HAMMER = $(CARGO_TARGET_DIR)/debug/hammer
SETUP_STAMP := $(VENV)/.hammer-setup

.PHONY: setup build train test bench clean-cache

# The venv and the wasm target once (a stamp), then each plugin language's
# toolchain (polyglot/setup.sh checks before it installs).
setup: $(SETUP_STAMP)
	@dpkg -s libgloo-dev fonts-dejavu-core >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libgloo-dev fonts-dejavu-core; }
	VENV=$(VENV) CACHE=$(CACHE) polyglot/setup.sh

$(SETUP_STAMP): python/requirements.txt
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r python/requirements.txt
	rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
	touch $@

build: setup
	$(CARGO) build --workspace --all-targets
	plugins/build.sh
	plugins/bundle.sh $(HAMMER)

train: build
	$(HAMMER) train configs/tutorial.toml --job-name tutorial-$$(date +%Y%m%d-%H%M%S)

test: build
	tests/guests/build.sh
	VENV=$(VENV) CACHE=$(CACHE) polyglot/build.sh
	CARGO_TARGET_DIR=$(CACHE)/plugins-native-target cargo test --manifest-path plugins/Cargo.toml --quiet
	$(CARGO) test --workspace

bench: build
	PATH=$(VENV)/bin:$$PATH CACHE=$(CACHE) VENV=$(VENV) bench/run.sh

clean-cache:
	rm -rf $(CACHE)
