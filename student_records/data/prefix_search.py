"""Prefix search (q=): the LIKE pattern for a lower(column) text_pattern_ops index."""


def like_prefix(text: str) -> str:
    """`text` as a case-insensitive prefix pattern, its LIKE wildcards taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
