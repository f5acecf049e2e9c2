"""The generated blocks of README.md and docs/observability.md: fresh, and refused when their markers are gone."""

import pytest

from infra.docs import BLOCKS
from observability.catalog import CATALOG


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.title)
def test_every_generated_block_of_the_docs_is_fresh(block):
    text = block.document.read_text(encoding="utf-8")
    assert text == block.refreshed(text), f"{block.document.name}'s {block.title} is stale: run `make generate`"


def test_a_document_without_its_markers_is_refused_naming_the_block():
    with pytest.raises(ValueError, match="the markers of the metric catalog are missing"):
        BLOCKS[1].refreshed("# a document whose generated block was deleted\n")


def test_every_metric_is_documented():
    text = BLOCKS[1].document.read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in CATALOG)
