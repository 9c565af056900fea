# The two commands of the README: `make run` (the core install: predicts with the bundled model) and
# `make test` (every extra and the dev tools). One .venv for both. Also: dist, lint, docs (see .ci/run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install dev dist lint docs default-model benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The core alone: what `serkit predict` needs.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

# Every extra and the dev tools (tests, lint, docs, build).
$(VENV)/.dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev

## Predict the emotions of the example clips with the bundled default model.
run: $(VENV)/.installed
	$(BIN)/serkit predict examples/ --quiet

## The whole test suite (installs every extra and the dev tools into the same .venv).
test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

## The sdist and the wheel, in dist/.
dist: $(VENV)/.dev
	rm -rf dist
	$(BIN)/python -m build -q --outdir dist . >/dev/null

## ruff (lint and format check) and mypy on src/, as configured in pyproject.toml.
lint: $(VENV)/.dev
	$(BIN)/ruff check src
	$(BIN)/ruff format --check src
	$(BIN)/mypy

## The documentation site in site/ (mkdocs.yml); --strict: a broken link or reference fails it.
docs: $(VENV)/.dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -q

## Retrain the bundled default model on ../shared/data (see docs/models.md), with its ONNX files.
DATA ?= ../shared/data
DEFAULT_RECIPE ?= --model 'logreg[C=0.0003]' --features 'whisper_encoder[states=1-3,pooling=mean]' --normalize corpus
default-model: $(VENV)/.installed
	$(BIN)/serkit train --data $(DATA)/ravdess --data $(DATA)/savee --data $(DATA)/nemo $(DEFAULT_RECIPE) \
		--output src/serkit/default_model
	$(BIN)/serkit export src/serkit/default_model

## Speed, memory and accuracy figures quoted in the docs (minutes to an hour; not tests; see docs/results.md).
benchmarks: $(VENV)/.installed
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/predict.py --hour
	$(BIN)/python benchmarks/results.py
	$(BIN)/python benchmarks/generalisation.py

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache
