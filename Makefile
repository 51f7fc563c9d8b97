# audiolab: two commands do all the set-up.
#   make reports   create .venv if missing, install, regenerate reports/
#   make test      create .venv if missing, install, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PROFILE ?= full
# folds trained at once, in processes of one thread each (auto: one per core); see README, Speed
WORKERS ?= auto

.PHONY: reports test install benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test]'  # requirements.txt + the two extras
	$(BIN)/python -m ipykernel install --sys-prefix >/dev/null  # the "python3" kernel papermill and nbval start: this venv
	touch $@

install: $(VENV)/.installed

reports: install
	AUDIOLAB_WORKERS=$(WORKERS) $(BIN)/audiolab reports --profile $(PROFILE)

test: install
	$(BIN)/python -m pytest

benchmark: install
	$(BIN)/python benchmarks/epoch_speed.py

clean:
	rm -rf $(VENV) .pytest_cache
