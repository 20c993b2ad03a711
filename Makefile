# `make demo` and `make test` are all a newcomer runs; both create .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# TensorFlow's CUDA build where a GPU exists, the CPU build elsewhere.
TF_EXTRA := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
INSTALLED := $(VENV)/.installed-$(TF_EXTRA)
# Data tests read KERASSEQ_DATA_DIR, else the shared copies beside the
# checkout (../shared/data) when they exist; without either they skip.
DATA_DIR := $(or $(KERASSEQ_DATA_DIR),$(wildcard ../shared/data))

.PHONY: install test demo bench clean

$(INSTALLED): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(TF_EXTRA),dev,distributed]"
	touch $@

install: $(INSTALLED)

test: $(INSTALLED)
	$(if $(DATA_DIR),KERASSEQ_DATA_DIR=$(abspath $(DATA_DIR))) $(PY) -m pytest -q

demo: $(INSTALLED)
	$(VENV)/bin/kerasseq train weather --data nyc --target temp --past 48 \
		--horizon 24h --cell gru --units 32 --epochs 30 --out runs/demo --overwrite

bench: $(INSTALLED)
	$(PY) bench/cells.py
	$(PY) bench/windows.py
	$(PY) bench/attention.py
	$(PY) bench/lm.py
	$(PY) bench/serving.py
	$(PY) bench/distributed.py

clean:
	rm -rf $(VENV) runs .pytest_cache
