# The two entry points: `make demo` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO := demo-output
CONFIG := configs/quickstart.yaml

.PHONY: demo test test-long lint bench bench-quick clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

# Tests run in up to 4 processes (pytest-xdist): many are dominated by single-threaded XLA
# compilation, so two processes on 2 cores take 10.6 min where one takes 15.9 min. Each test
# file runs in one process (--dist loadfile), so the programs its tests share (module fixtures,
# jitted functions) compile once instead of once per process.
test: lint
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadfile

# The tests marked `long`: the CLI end to end, the two-device training step, the toy
# estimators' C2ST and coverage against the exact posterior, and the fast tier's slowest
# oracle, training and sampling checks (over ~20 s each on 2 cores). .ci/run runs them after
# `make test`, so CI checks everything `make test` leaves out for speed.
test-long: $(STAMP)
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadfile -m long

demo: $(STAMP)
	$(VENV)/bin/cigars config check $(CONFIG)
	mkdir -p $(DEMO)
	$(VENV)/bin/cigars config show $(CONFIG) > $(DEMO)/config.yaml
	test -f $(DEMO)/bank.h5 || $(VENV)/bin/cigars bank $(CONFIG) -o $(DEMO)/bank.h5
	$(VENV)/bin/cigars simulate $(CONFIG) --bank $(DEMO)/bank.h5 -o $(DEMO)/mock.fits --overwrite
	$(VENV)/bin/cigars plot hubble $(DEMO)/mock.fits -o $(DEMO)/hubble.png --undetected
	rm -rf $(DEMO)/run
	$(VENV)/bin/cigars train $(CONFIG) --bank $(DEMO)/bank.h5 -o $(DEMO)/run
	$(VENV)/bin/cigars infer $(DEMO)/run $(DEMO)/mock.fits -o $(DEMO)/posterior.nc
	$(VENV)/bin/cigars plot posterior $(DEMO)/posterior.nc --mock $(DEMO)/mock.fits -o $(DEMO)
	$(VENV)/bin/cigars validate $(DEMO)/run -o $(DEMO)/validation --n-sims 30 --num-samples 200
	@echo "demo: done; outputs under $(DEMO)/"
	@echo "demo: validation report $(DEMO)/validation/report.json, figures $(DEMO)/validation/*.png"

bench: $(STAMP)
	$(PY) -m benchmarks

bench-quick: $(STAMP)
	$(PY) -m benchmarks --quick

clean:
	rm -rf $(DEMO) .pytest_cache
