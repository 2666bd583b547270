# fan_det: `make demo` and `make test` each set everything up first; `make setup` is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.fan_det-setup
# every target keeps fetched and built files in the checkout's .cache/ (fan_det's own default is the
# user's cache folder); a FAN_DET_CACHE set by the caller still wins
FAN_DET_CACHE ?= $(CURDIR)/.cache
export FAN_DET_CACHE
LOG := $(VENV)/setup.log
ARCH := $(shell uname -m)
# torch/torchvision pairs that install on these machines (x86_64: CUDA build, runs on the CPU too).
ifeq ($(ARCH),aarch64)
TORCH_PIN := torch==2.9.1 torchvision==0.24.1
else
TORCH_PIN := torch==2.14.1 torchvision==0.29.1
endif

.PHONY: setup demo test test-fast lint bench mutation clean-cache

setup: $(STAMP)
	@$(PY) -m fan_det.data.fetch

$(STAMP): pyproject.toml scripts/install_detectron2.py
	@echo "== setup: virtual environment in $(VENV)/ (pip's log: $(LOG))"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -q --upgrade pip wheel > $(LOG) 2>&1 || { cat $(LOG); exit 1; }
	@$(PY) -c "import torch, torchvision" 2>/dev/null || { echo "== setup: $(TORCH_PIN)"; \
	  $(PIP) install -q $(TORCH_PIN) >> $(LOG) 2>&1 || { cat $(LOG); exit 1; }; }
	@echo "== setup: fan_det (editable) and its dependencies"
	@$(PIP) install -q -e '.[dev]' >> $(LOG) 2>&1 || { cat $(LOG); exit 1; }
	@$(PY) -c "import fan_det, timm, imagecorruptions, pycocotools"
	@$(PY) scripts/install_detectron2.py
	@touch $@

demo: setup
	@$(PY) -m fan_det.demo

test: setup
	@bash scripts/install_chromium.sh
	@$(PY) -m pytest -q -n auto --dist loadfile

lint: setup
	@$(VENV)/bin/ruff check fan_det tests benchmarks scripts datasets

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Mutation testing (not in CI): mutmut mutates the modules [tool.mutmut] names in pyproject.toml one change at
# a time and runs the fast tests that execute each mutant; the killed fraction per module follows. Mutated
# code writes file-hash memos and test datasets: it gets a copy of the cache, never the cache itself.
mutation: setup
	@rm -rf mutants mutants-cache
	@if [ -d "$(FAN_DET_CACHE)" ]; then cp -a "$(FAN_DET_CACHE)" mutants-cache; else mkdir mutants-cache; fi
	@time FAN_DET_CACHE=$(CURDIR)/mutants-cache OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children $$(nproc) \
	  > mutation.log 2>&1 || { tail -c 3000 mutation.log; exit 1; }
	@$(PY) scripts/mutation_report.py

clean-cache:
	rm -rf .cache
