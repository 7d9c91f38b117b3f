# Two entry points (see README): `make run` opens the app, `make test` runs the whole suite headless.
# Both create .venv and install the project from pyproject.toml on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test install install-test system-deps vulkan-deps clean-venv gpu-wheels

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

system-deps:
	@bash scripts/system-deps.sh

# ncnn's Vulkan path: the loader and Mesa's drivers (a software device where there is no GPU), so the
# Vulkan tests run rather than skip.
vulkan-deps:
	@bash scripts/system-deps.sh --vulkan

run: install system-deps
	$(PY) main.py

test: install-test vulkan-deps
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# The wheels scripts/gpu_check.sh installs on a GPU machine without internet (scripts/gpu_wheels.txt).
gpu-wheels:
	grep -v '^#' scripts/gpu_wheels.txt | xargs $(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: \
		--python-version 3.12 --implementation py --platform any -d .whl

clean-venv:
	rm -rf $(VENV)
