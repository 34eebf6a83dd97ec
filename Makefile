# Two commands: `make run` and `make test`. Both set everything up first.
# `make test-fast` is the inner loop: SQLite only, no browser, no Prism.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PORT    ?= 5000

.PHONY: run test test-fast lint setup clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

## run: the bot on embedded defaults (SQLite, embedded queue, local outbox) at http://127.0.0.1:$(PORT)
run: setup
	$(BIN)/puente db upgrade
	$(BIN)/python -m bot.devserver --port $(PORT)

## test: the whole suite (SQLite and PostgreSQL, real redis-server, fake Twilio API, browser)
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q $(PYTEST_ARGS)

## test-fast: the inner loop: SQLite only, no browser, no Prism (still a real redis-server)
test-fast: setup
	PUENTE_TEST_DATABASES=sqlite $(BIN)/pytest -q -m "not browser and not prism" -p no:cacheprovider $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache
