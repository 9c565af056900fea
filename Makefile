# The two commands of the README: `make run` and `make test`. One .venv for both.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install dev default-model benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev

## Predict the emotions of the example clips with the bundled default model.
run: $(VENV)/.installed
	$(BIN)/serkit predict examples/ --quiet

## The whole test suite (installs the dev extra into the same .venv).
test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

## Retrain the bundled default model on ../shared/data (see README "Default model"), with its ONNX files.
DATA ?= ../shared/data
DEFAULT_RECIPE ?= --model 'logreg[C=0.0003]' --features 'whisper_encoder[states=1-3,pooling=mean]' --normalize corpus
default-model: $(VENV)/.installed
	$(BIN)/serkit train --data $(DATA)/ravdess --data $(DATA)/savee --data $(DATA)/nemo $(DEFAULT_RECIPE) \
		--output src/serkit/default_model
	$(BIN)/serkit export src/serkit/default_model

## Speed, memory and accuracy figures quoted in the README (minutes to an hour; not tests).
benchmarks: $(VENV)/.installed
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/predict.py --hour
	$(BIN)/python benchmarks/results.py
	$(BIN)/python benchmarks/generalisation.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
