"""Test tiers, given by where a test lives: one map here rather than a marker in every file (a pytest plugin, loaded by
tests/conftest.py; the markers are registered in pyproject.toml).

    unit         one layer in this process: models, settings, the data layer and the importer against the session's
                 PostgreSQL server (real, as everywhere), handlers, and the staleness of the generated files
    contract     the REST contract through both doors in this process
    hostile      hostile input against both doors in this process: schemathesis, injection, unicode, tokens
    integration  doors, gateways, trace viewer and databases as processes of their own; `make run` end to end
    infra        the template and the tools that check it (cfn-lint, checkov, sam), dashboards and alarms
    slow         besides its tier, a test that takes most of a minute or more: sam build, the drill, end-to-end runs

`make test-fast` runs `-m "unit or contract"`, `make test` everything (the hostile tier alone takes as long as the
contract's). A test in a file this map does not place fails the collection, so that no test escapes every tier, and
tests/infra/test_tiers.py checks that each tier holds tests."""

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
UNIT, CONTRACT, HOSTILE, INTEGRATION, INFRA, SLOW = "unit", "contract", "hostile", "integration", "infra", "slow"
TIER_MARKERS = (UNIT, CONTRACT, HOSTILE, INTEGRATION, INFRA)

# A folder or a file under tests/, and its tier; the longest entry that contains a test's file decides.
TIERS = {
    "test_config.py": UNIT,
    "test_dates.py": UNIT,
    "test_openapi.py": UNIT,
    "test_resources.py": UNIT,
    "data": UNIT,
    "importer": UNIT,
    "handlers": UNIT,
    "flask_backend": UNIT,
    "contract": CONTRACT,
    "hostile": HOSTILE,
    "observability": INTEGRATION,
    "observability/test_surface.py": UNIT,
    "reliability": INTEGRATION,
    "local_stack": INTEGRATION,
    "deployed": INTEGRATION,
    "infra": INFRA,
    "infra/test_render.py": UNIT,
    "infra/test_generated_docs.py": UNIT,
    "infra/test_makefile.py": UNIT,
    "infra/test_tiers.py": UNIT,
}
SLOW_FILES = {
    "infra/test_sam_build.py",
    "infra/test_dashboard_preview.py",
    "local_stack/test_run_end_to_end.py",
    "reliability/test_outage_drill.py",
    "reliability/test_alarms_proof.py",
    "deployed/test_e2e_suite.py",
    "deployed/test_e2e_against_a_stack.py",
}


def tier_of(relative: str) -> str | None:
    """The tier of a test file, given as a path relative to tests/ ("contract/test_listing.py")."""
    containing = [entry for entry in TIERS if relative == entry or relative.startswith(entry + "/")]
    return TIERS[max(containing, key=len)] if containing else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unplaced = set()
    for item in items:
        relative = item.path.resolve().relative_to(TESTS).as_posix()
        tier = tier_of(relative)
        if tier is None:
            unplaced.add(relative)
            continue
        item.add_marker(tier)
        if relative in SLOW_FILES:
            item.add_marker(SLOW)
    if unplaced:
        raise pytest.UsageError(f"no test tier for {', '.join(sorted(unplaced))}: place it in TIERS, tests/tiers.py")
