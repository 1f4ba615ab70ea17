# speaker-similarity — the README's commands.
#
#   make run    the main job: set-up, then the tutorial pipeline end to end on the
#               embedded synthetic corpus (or on SPEAKER_DATA=/path/to/speakers)
#   make test   set-up, then every test: Rust unit/integration/parity tests, clippy,
#               notebooks executed with the real Rust kernel, CLI, chart and browser
#               tests
#   make fuzz   the fuzzer over every input a user can give (FUZZ_SECONDS=600)
#
# Both install what they need: a Python venv with the Jupyter tools, evcxr_jupyter
# (cargo install, ~12 minutes on 2 cores, only when missing) and its `rust` kernel.

SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_REF := .venv-ref
PY_REF := $(VENV_REF)/bin/python
OUT ?= out
SHARED ?= ../shared/datasets
BIN := target/release/speaker-similarity
export SPEAKER_SHARED_DATASETS ?= $(abspath $(SHARED))

.PHONY: run test setup venv kernel kernel-startup browser build lint rust-test notebook-test app-test chart-test ray-test \
        lab notebooks demo fixtures bench bench-memory bench-enroll clean help \
        fuzz fuzz-smoke

help:
	@sed -n '3,12p' Makefile

## ---------------------------------------------------------------- main job
run: setup build
	$(BIN) demo --out $(OUT)/demo $(if $(SPEAKER_DATA),--data "$(SPEAKER_DATA)")
	$(PY) tests/run_notebooks.py --out $(OUT)/notebooks $(if $(SPEAKER_DATA),--data "$(SPEAKER_DATA)")
	@echo "Tutorial done: report and plots in $(OUT)/demo, executed notebooks in $(OUT)/notebooks"

## ---------------------------------------------------------------- tests
test: setup browser lint rust-test fuzz-smoke app-test ray-test chart-test notebook-test
	@echo "All tests passed."

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The second run repeats the library's unit tests on the portable (scalar) kernels
# (SPEAKER_SIMILARITY_SCALAR=1, see crate/src/simd.rs); --workspace keeps the first
# build's feature set, so nothing is compiled again.
rust-test:
	$(CARGO) test --workspace
	SPEAKER_SIMILARITY_SCALAR=1 $(CARGO) test --workspace --lib

# The web app in headless Chromium (Selenium + Debian's chromium/chromedriver);
# screenshots land in tests/artifacts/. The CLI's tests are Rust tests (app/tests/),
# except `export`'s, which read its files back with numpy / pandas / pyarrow
# (tests/test_export.py, against examples/export_reference that `cargo test` builds).
# The browser tests drive the debug binary `cargo test` already built (dependencies
# are optimised in debug builds too), sparing CI a release build.
app-test: venv browser
	$(CARGO) test --workspace --no-run
	SPEAKER_SIMILARITY_BIN=target/debug/speaker-similarity $(PY) -m pytest -q tests/test_web.py tests/test_export.py

# Sharded training through Ray (scripts/ray_shards.py: the UBM, 3 shards as Ray
# tasks, the merge) on a synthetic corpus, checked against a single-machine
# `train --all`. Ray lives in its own venv (.venv-ray, requirements-ray.txt): a
# large wheel the other tests need not wait for. Runs the debug binary `cargo test`
# built (in CARGO_TARGET_DIR when set).
VENV_RAY := .venv-ray
PY_RAY := $(VENV_RAY)/bin/python
$(VENV_RAY)/.installed: requirements-ray.txt
	test -x $(PY_RAY) || $(PYTHON) -m venv $(VENV_RAY)
	$(PY_RAY) -m pip install -q -r requirements-ray.txt
	touch $@

ray-test: $(VENV_RAY)/.installed
	$(CARGO) test --workspace --no-run
	SPEAKER_SIMILARITY_BIN=$(FUZZ_TARGET_DIR)/debug/speaker-similarity $(PY_RAY) -m pytest -q tests/test_ray_shards.py

# One chart of every kind in headless Chromium: no clipped or overlapping labels, no
# legend over data (crate/examples/chart_gallery.rs draws them; screenshots in
# tests/artifacts/charts/).
chart-test: venv browser
	$(PY) -m pytest -q tests/test_charts.py

# Fuzzing on stable Rust (fuzz/): every target, seeded; findings in fuzz/findings/,
# and the exit status is non-zero on any. `make fuzz FUZZ_SECONDS=600` for a long run.
FUZZ_SECONDS ?= 600
FUZZ_SEED ?= 1
FUZZ_TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
fuzz:
	$(CARGO) build --release -p speaker-similarity-fuzz
	nice -n 5 $(FUZZ_TARGET_DIR)/release/speaker-similarity-fuzz --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED)

# In `make test`: a short seeded run on the debug build `cargo test` made, with a
# generous watchdog (30 s), so it finds regressions without costing CI much time.
fuzz-smoke:
	$(CARGO) test --workspace --no-run
	$(FUZZ_TARGET_DIR)/debug/speaker-similarity-fuzz --seconds 45 --seed 42 --hang-seconds 30 --report-every 15

notebook-test:
	$(PY) -m pytest -q tests/test_notebooks.py

build:
	$(CARGO) build --release -p speaker-similarity

## ---------------------------------------------------------------- set-up
setup: venv kernel

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

# The Rust Jupyter kernel: build evcxr_jupyter only when missing, then register the
# `rust` kernelspec as evcxr_jupyter behind kernel/evcxr-slot (idempotent): each
# running kernel gets its own persistent build slot, so a warm start reuses cargo's
# build of the crate instead of compiling it again (see kernel/install.py).
# evcxr links every cell with mold when it is installed (Debian's `mold`): a warm
# notebook reaches its first result about 6 s sooner than with the system linker.
kernel: venv
	@command -v evcxr_jupyter >/dev/null 2>&1 || { \
	  echo "Installing evcxr_jupyter (cargo install, about 12 minutes on 2 cores)"; \
	  $(CARGO) install --locked evcxr_jupyter; }
	@if ! command -v mold >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing mold (Debian), the linker evcxr uses when present"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  { $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mold >/dev/null; } || \
	  echo "mold not installed: evcxr links with the system linker (slower cells)"; \
	fi
	@$(PY) kernel/install.py
	@echo "Rust kernel ready: $$(evcxr_jupyter --version 2>/dev/null || echo evcxr_jupyter)"

# Kernel start-up on a minimal notebook, in fresh build slots: cold, then warm.
kernel-startup: setup
	$(PY) tests/run_notebooks.py --startup

# Debian's Chromium and ChromeDriver for the browser tests, when missing.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "Installing chromium and chromium-driver (Debian)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

## ---------------------------------------------------------------- for people
lab: setup
	$(VENV)/bin/jupyter lab notebooks/

notebooks: setup
	$(PY) tests/run_notebooks.py --out $(OUT)/notebooks $(if $(SPEAKER_DATA),--data "$(SPEAKER_DATA)")

demo: build
	$(BIN) demo --out $(OUT)/demo $(if $(SPEAKER_DATA),--data "$(SPEAKER_DATA)")

## ---------------------------------------------------------------- references
$(VENV_REF)/.installed: requirements-ref.txt
	test -x $(PY_REF) || $(PYTHON) -m venv $(VENV_REF)
	$(PY_REF) -m pip install -q -r requirements-ref.txt
	touch $@

# Regenerate the librosa / scikit-learn fixtures the parity tests compare with.
fixtures: $(VENV_REF)/.installed
	for s in scripts/fixtures_*.py; do $(PY_REF) $$s || exit 1; done

# Side-by-side speed: the Python anchor and ours on the same data, same run.
# Peak RSS and clips/s of evaluate and train --all on the synthetic corpus at 100,
# 200, 400 and 650 speakers x 20 clips (SIZES="100 200" for fewer; BEFORE_BIN=... to
# compare with an older binary).
bench-memory: build
	BIN=$(BIN) nice -n 5 bench/memory_scaling.sh

# Enrolment of one speaker from 10 clips into a 100-speaker model (goal <= 2 s),
# beside retraining all 101 speakers in the same run (bench/enroll_speed.sh).
bench-enroll: build
	BIN=$(BIN) nice -n 5 bench/enroll_speed.sh

bench: $(VENV_REF)/.installed
	$(PY_REF) bench/features_vs_librosa.py
	$(PY_REF) bench/models_vs_sklearn.py
	$(PY_REF) bench/pipeline_vs_python.py --data $(SHARED)/dsp34

clean:
	rm -rf $(OUT) target
