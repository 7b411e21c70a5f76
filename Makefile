# Two commands do all set-up: `make report` (the offline demo) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: report test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Profile the bundled offline demo and print the path of its HTML report.
report: $(STAMP)
	$(VENV)/bin/bias-profiler run pipelines/sample.toml

## Lint, check the import layers (pyproject [tool.importlinter]), then run the whole test suite.
test: $(STAMP)
	$(VENV)/bin/ruff check profiler tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check profiler tests bench
	$(VENV)/bin/ruff format --check profiler tests bench || true

## Caption-path benchmark (figures go to BENCHMARKS.md).
bench: $(STAMP)
	$(PY) bench/caption_profile.py

clean:
	rm -rf $(VENV) reports/sample reports/demo-data bench/out
