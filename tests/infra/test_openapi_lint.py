"""openapi.json passes Spectral's OpenAPI ruleset (spectral:oas, .spectral.yaml) with no finding at all: every
operation described, every tag declared, servers and a contact given. Spectral comes from `make tools`."""

import json
import subprocess
from pathlib import Path

import pytest

from deployed.contract_check import OPENAPI_PATH
from rest_contract.operations import OPERATIONS, TAGS

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECTRAL = REPO_ROOT / ".tools" / "spectral" / "node_modules" / ".bin" / "spectral"


def spectral_findings(document: Path) -> list[dict]:
    if not SPECTRAL.exists():
        pytest.fail("Spectral is not installed: run `make tools` (make test does it first)")
    result = subprocess.run(
        [
            str(SPECTRAL),
            "lint",
            str(document),
            "--ruleset",
            str(REPO_ROOT / ".spectral.yaml"),
            "--format",
            "json",
            "--fail-severity",
            "hint",
            "--quiet",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == (1 if findings else 0), result.stderr
    return findings


def test_the_committed_document_has_no_spectral_finding():
    # Given the committed OpenAPI document
    # When Spectral lints it with its OpenAPI ruleset
    findings = spectral_findings(OPENAPI_PATH)
    # Then there is no finding, of any severity
    assert [(finding["code"], ".".join(map(str, finding["path"])), finding["message"]) for finding in findings] == []


def test_spectral_finds_what_the_generator_guards_against(tmp_path):
    # Given the document without an operation's description, its tags' declarations, its servers and its contact
    document = json.loads(OPENAPI_PATH.read_text())
    del document["paths"]["/health"]["get"]["description"], document["tags"], document["servers"]
    del document["info"]["contact"]
    broken = tmp_path / "openapi.json"
    broken.write_text(json.dumps(document))
    # When Spectral lints it
    codes = {finding["code"] for finding in spectral_findings(broken)}
    # Then it names each, so that the test above can fail
    assert {"operation-description", "operation-tag-defined", "oas3-api-servers", "info-contact"} <= codes


def test_every_operation_is_described_beyond_its_summary_and_every_tag_is_declared():
    for operation in OPERATIONS:
        assert operation.description.strip() and operation.description != operation.summary, operation.operation_id
        assert operation.tag in TAGS, operation.operation_id
    assert all(TAGS.values())
