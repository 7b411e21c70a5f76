# Two commands do all set-up: `make report` (the offline demo) and `make test`.
# Both use one virtual environment: `report` installs the base package only (the caption path:
# no torch, Ray, Playwright or `datasets`); `test` adds the [dev] extra (every extra + test tools).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BASE_STAMP := $(VENV)/.base-stamp
DEV_STAMP := $(VENV)/.installed-stamp

.PHONY: report test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(BASE_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $(BASE_STAMP)

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(BASE_STAMP) $(DEV_STAMP)

## Profile the bundled offline demo and print the path of its HTML report.
report: $(BASE_STAMP)
	$(VENV)/bin/bias-profiler run pipelines/sample.toml

## Lint, check the import layers (pyproject [tool.importlinter]), then run the whole test suite.
test: $(DEV_STAMP)
	$(VENV)/bin/ruff check profiler tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check profiler tests bench
	$(VENV)/bin/ruff format --check profiler tests bench || true

## Caption-path benchmark (figures go to BENCHMARKS.md).
bench: $(DEV_STAMP)
	$(PY) bench/caption_profile.py

clean:
	rm -rf $(VENV) reports/sample reports/demo-data bench/out
