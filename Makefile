# Two commands for a fresh machine with only Python: `make demo` and `make test`.
# A GPU user overrides the torch requirement, e.g. `make test TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?= -n 2 --dist loadscope

.PHONY: demo test test-unit test-e2e test-all bench study suite install install-dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch first, pinned, so the project's open range never pulls a CUDA build
$(VENV)/.stamp-torch: | $(PY)
	$(PIP) install $(TORCH)
	touch $@

# the main install carries the ONNX export extra, so every documented command runs after make demo
$(VENV)/.stamp-install: pyproject.toml $(VENV)/.stamp-torch
	$(PIP) install -e '.[export]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml $(VENV)/.stamp-torch
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.stamp-install

install: $(VENV)/.stamp-install
install-dev: $(VENV)/.stamp-dev

# The main job: collect expert demonstrations in summer, train a liquid (NCP CfC) policy, evaluate it
# in closed loop in summer, fall, winter and urban, and write a video (about 10-15 minutes on 2 cores).
demo: $(VENV)/.stamp-install
	$(VENV)/bin/navlnn pipeline hydra.run.dir=outputs/demo

# The complete test run, in two tiers: unit and component tests (under 5 minutes on 2 cores), then
# the end-to-end subprocess tests (pipeline, torchrun, SIGKILL resume, DAgger, the wheel).
test: test-unit test-e2e

test-unit: $(VENV)/.stamp-dev
	$(PY) -m pytest $(PYTEST_ARGS)

test-e2e: $(VENV)/.stamp-dev
	$(PY) -m pytest $(PYTEST_ARGS) -m e2e

# both tiers and the tests marked slow (the full env-checker grid, long studies' checks)
test-all: $(VENV)/.stamp-dev
	$(PY) -m pytest $(PYTEST_ARGS) -m ''

bench: $(VENV)/.stamp-dev
	$(PY) experiments/bench_liquid.py

# The out-of-distribution study (experiments/ood_seasons): six heads x 3 seeds trained in summer with
# the chosen recipe, flown in every season, the city, fog and dusk, compared layout by layout with the
# committed run of the previous recipe (about 5 hours on 2 cores); resumable.
study: $(VENV)/.stamp-install
	PATH=$(abspath $(VENV))/bin:$$PATH BEFORE=experiments/ood_seasons/results-data LABELS=data,data_photometric_erasing_norm \
	  bash experiments/ood_seasons/run.sh

# The MIT suite (experiments/mit_suite): eleven heads x 3 seeds, fly_to_target in every scene and the
# paper's other tasks in summer and fall, attention measured; extends the baseline study's run folder
# (same data; only the five heads it lacks are trained); resumable.
suite: $(VENV)/.stamp-install
	PATH=$(abspath $(VENV))/bin:$$PATH bash experiments/mit_suite/run.sh

clean:
	rm -rf $(VENV) outputs multirun
