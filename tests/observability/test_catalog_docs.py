from pathlib import Path

from observability.catalog import CATALOG, render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"


def test_docs_catalog_is_fresh():
    assert DOC.read_text() == render_markdown(), "run `python -m observability.catalog > docs/observability.md`"


def test_every_metric_is_documented():
    text = DOC.read_text()
    assert all(f"`{name}`" in text for name in CATALOG)
