"""The test tiers (tests/tiers.py): every test file has one, every tier holds tests (pytest's exit 5 for an empty
selection is a failure, and a tier that silently selects nothing would be one), and `make test-fast` stays clear of
sam build, checkov, the drill and the end-to-end runs."""

import re
from pathlib import Path

from tests.tiers import CONTRACT, SLOW_FILES, TIER_MARKERS, TIERS, UNIT, tier_of

TESTS = Path(__file__).resolve().parents[1]
PYPROJECT = (TESTS.parent / "pyproject.toml").read_text()
MAKEFILE = (TESTS.parent / "Makefile").read_text()
FAST = {UNIT, CONTRACT}


def placed_files() -> list[str]:
    return sorted(path.relative_to(TESTS).as_posix() for path in TESTS.rglob("test_*.py"))


def test_every_test_file_has_a_tier():
    assert [name for name in placed_files() if tier_of(name) is None] == []


def test_every_entry_of_the_map_is_a_place_that_holds_tests():
    # A renamed folder or file must not leave an entry behind that places nothing.
    for entry in [*TIERS, *SLOW_FILES]:
        assert any(name == entry or name.startswith(entry + "/") for name in placed_files()), entry


def test_every_tier_holds_tests():
    tiers = {tier_of(name) for name in placed_files()}
    assert tiers == set(TIER_MARKERS)
    assert SLOW_FILES


def test_the_markers_are_registered_for_strict_markers():
    for marker in [*TIER_MARKERS, "slow"]:
        assert re.search(rf'^\s+"{marker}: ', PYPROJECT, re.MULTILINE), marker


def test_the_fast_tiers_run_no_sam_build_checkov_drill_or_end_to_end():
    # Given the files that build with sam, run checkov and cfn-lint, the drill, and make run or a stack end to end
    heavy = [
        "infra/test_sam_build.py",
        "infra/test_cloudformation.py",
        "reliability/test_outage_drill.py",
        "local_stack/test_run_end_to_end.py",
        "deployed/test_e2e_suite.py",
        "infra/test_dashboard_preview.py",
    ]
    # Then none is in a tier `make test-fast` selects, and the slow ones are marked so
    assert {name: tier_of(name) for name in heavy if tier_of(name) in FAST} == {}
    assert set(heavy) - {"infra/test_cloudformation.py"} <= SLOW_FILES
    assert 'pytest -m "unit or contract"' in MAKEFILE
