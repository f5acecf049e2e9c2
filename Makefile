# Every target creates the virtual environment first, so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.PHONY: run test openapi clean token aws-user aws-token e2e drill import dashboards-preview bench bench-profile tools template sam-build build-ApiFunction build-MigrationsFunction build-SigningKeysFunction

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

## run: PostgreSQL (embedded unless DATABASE_URL is set), migrations, demo data, both doors on 127.0.0.1
run: $(STAMP)
	$(BIN)/python -m local_stack.run

## test: the whole suite against a real PostgreSQL server (and the infrastructure checks, with the tools)
test: $(STAMP) tools
	$(BIN)/python -m pytest

## drill: outage drill: load on both doors while PostgreSQL stops 10 s; checks and figures (exit 1 on failure)
drill: $(STAMP)
	$(BIN)/python -m local_stack.drill

## dashboards-preview: a PNG per dashboard in docs/images, from EMF=<captured stdout> [TIME_SCALE=60], else from a 90 s local capture
dashboards-preview: $(STAMP)
	$(BIN)/python -m infra.dashboard_preview $(or $(EMF),--capture 90) $(if $(TIME_SCALE),--time-scale $(TIME_SCALE))

## import: validate and load students from CSV: make import FILE=students.csv [REPORT=rejected.csv] (exit 1 when rows were rejected)
import: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make import FILE=students.csv [REPORT=rejected.csv]" >&2; exit 2; }
	$(BIN)/python -m local_stack.import_students "$(FILE)" $(if $(REPORT),--report "$(REPORT)")

## bench: baseline vs the Flask door (off, instrumented) under wrk, the Lambda handler warm and cold, the database
## at 1M students (BENCH_ROWS=N to change; BENCH_ARGS=--rows-10m adds 10M); ~10 min; results in bench/results/
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## bench-profile: where the instrumented doors spend their extra time (bench/results/profile.md)
bench-profile: $(STAMP)
	$(BIN)/python -m bench.profile

## openapi: regenerate the committed OpenAPI document from the code
openapi: $(STAMP)
	$(BIN)/python -m rest_contract.openapi > openapi.json

# Infrastructure tools, each in a virtual environment of its own under .tools/: aws-sam-cli pins its own
# boto3, and checkov is large; neither belongs in the app's environment.
TOOLS          := .tools
SAM_TOOLS      := aws-sam-cli==1.170.0 cfn-lint==1.58.0
CHECKOV_TOOLS  := checkov==3.3.30
SAM_STAMP      := $(TOOLS)/sam/.installed-$(shell echo $(SAM_TOOLS) | cksum | cut -d' ' -f1)
CHECKOV_STAMP  := $(TOOLS)/checkov/.installed-$(shell echo $(CHECKOV_TOOLS) | cksum | cut -d' ' -f1)
# sam build needs the function runtime's python on PATH; pyenv keeps it out of PATH unless asked.
PYTHON312_BIN  ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin))

$(SAM_STAMP):
	@test -x $(TOOLS)/sam/bin/python || $(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install --quiet --disable-pip-version-check $(SAM_TOOLS)
	@rm -f $(TOOLS)/sam/.installed-* && touch $@

$(CHECKOV_STAMP):
	@test -x $(TOOLS)/checkov/bin/python || $(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check $(CHECKOV_TOOLS)
	@rm -f $(TOOLS)/checkov/.installed-* && touch $@

## tools: aws-sam-cli, cfn-lint and checkov, pinned, in .tools/
tools: $(SAM_STAMP) $(CHECKOV_STAMP)

## template: render template.yaml from infra/template.src.yaml, dashboards/ and alarms/
template: $(STAMP)
	$(BIN)/python -m infra.render

## sam-build: build the Lambda functions into .aws-sam/build
sam-build: $(SAM_STAMP)
	PATH="$(PYTHON312_BIN):$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS)/sam/bin/sam build --template-file template.yaml

# Called by `sam build` (BuildMethod: makefile) from the repository root with ARTIFACTS_DIR set. A function
# gets only what it runs: the app's packages, the migrations, and the runtime dependencies of pyproject.toml
# at the versions of requirements.lock, as wheels for Lambda's python3.12 on x86_64 (Amazon Linux 2023,
# glibc 2.34). boto3, botocore and their own dependencies are then removed: the runtime provides them.
LAMBDA_PACKAGES         := handlers rest_contract student_records observability sql
LAMBDA_DEPENDENCIES      = $(shell $(PYTHON) -c 'import shlex, tomllib; print(shlex.join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
LAMBDA_RUNTIME_PROVIDED := boto3 boto3-* botocore botocore-* s3transfer s3transfer-* jmespath jmespath-* \
                           urllib3 urllib3-* dateutil python_dateutil-* six.py six-*
build-ApiFunction build-MigrationsFunction build-SigningKeysFunction:
	cp -R $(LAMBDA_PACKAGES) "$(ARTIFACTS_DIR)/"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target "$(ARTIFACTS_DIR)" \
		--implementation cp --python-version 3.12 --only-binary=:all: --platform manylinux2014_x86_64 \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_34_x86_64 \
		--constraint requirements.lock $(LAMBDA_DEPENDENCIES)
	cd "$(ARTIFACTS_DIR)" && rm -rf $(LAMBDA_RUNTIME_PROVIDED) bin
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	# /var/task is read-only: without bytecode shipped, every cold start compiles every module (~0.8 s).
	python3.12 -m compileall -q --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)"

clean:
	rm -rf $(VENV) .pytest_cache

## token: a development bearer token for `make run`: ROLE=admin|registrar|teacher|student (STUDENT=<id> for students,
## SUBJECT=<user id>, e.g. SUBJECT=demo-teacher-grace for the teacher of the demo CS offerings)
token: $(STAMP)
	@$(BIN)/python -m local_stack.dev_auth token --role $(ROLE) $(if $(STUDENT),--student $(STUDENT)) $(if $(SUBJECT),--subject $(SUBJECT))

## aws-user: a user of a deployed stack's user pool: STACK=<stack> ROLE=admin|registrar|teacher|student EMAIL=<e-mail>
## (STUDENT=<id> for students); prints a generated password once, or sets PASSWORD from the environment
aws-user: $(STAMP)
	@$(BIN)/python -m deployed.users $(if $(ROLE),create $(if $(STACK),--stack "$(STACK)") --role "$(ROLE)" $(if $(EMAIL),--email "$(EMAIL)") $(if $(STUDENT),--student "$(STUDENT)"),roles)

## aws-token: the ID token of a user of a deployed stack: STACK=<stack> EMAIL=<e-mail> (PASSWORD from the environment,
## else asked for; an MFA code is asked for when the user has MFA): TOKEN=$$(make -s aws-token STACK=s EMAIL=e)
aws-token: $(STAMP)
	@$(BIN)/python -m deployed.users token $(if $(STACK),--stack "$(STACK)") $(if $(EMAIL),--email "$(EMAIL)")

## e2e: the contract's scenarios over HTTP: API_URL=<Lambda door> [FLASK_URL=<Flask door>], e.g. against `make run`
## API_URL=http://127.0.0.1:3000 FLASK_URL=http://127.0.0.1:8000; STACK=<stack> uses its user pool and URLs and checks
## the run's signals arrived (E2E_ARGS=--signals-timeout 300); exit 1 when a scenario fails
e2e: $(STAMP)
	@$(BIN)/python -m deployed.e2e $(if $(API_URL),--api-url "$(API_URL)") $(if $(FLASK_URL),--flask-url "$(FLASK_URL)") $(if $(STACK),--stack "$(STACK)") $(E2E_ARGS)
