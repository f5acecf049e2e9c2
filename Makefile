# Every target creates the virtual environment first, so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.PHONY: run test openapi clean token

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

## run: PostgreSQL (embedded unless DATABASE_URL is set), migrations, demo data, both doors on 127.0.0.1
run: $(STAMP)
	$(BIN)/python -m local_stack.run

## test: the whole suite against a real PostgreSQL server
test: $(STAMP)
	$(BIN)/python -m pytest

## openapi: regenerate the committed OpenAPI document from the code
openapi: $(STAMP)
	$(BIN)/python -m rest_contract.openapi > openapi.json

clean:
	rm -rf $(VENV) .pytest_cache

## token: a development bearer token for `make run`: ROLE=admin|registrar|teacher|student (STUDENT=<id> for students)
token: $(STAMP)
	@$(BIN)/python -m local_stack.dev_auth token --role $(ROLE) $(if $(STUDENT),--student $(STUDENT))
