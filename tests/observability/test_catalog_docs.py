from observability.catalog import CATALOG, DOC, with_catalog


def test_docs_catalog_is_fresh():
    text = DOC.read_text(encoding="utf-8")
    assert text == with_catalog(text), "docs/observability.md's metric catalog is stale: run `make generate`"


def test_every_metric_is_documented():
    text = DOC.read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in CATALOG)
