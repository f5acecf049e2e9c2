"""What log lines may say about an exception: types and frames, never its text."""

from observability.logs import exception_fields


def test_no_exception_text_reaches_the_fields():
    try:
        try:
            raise ValueError("Failing row contains (1, Ada, ada@example.org)")
        except ValueError as cause:
            raise RuntimeError("wrapped: ada@example.org") from cause
    except RuntimeError as error:
        fields = exception_fields(error)
    assert fields["exception_type"] == "builtins.RuntimeError"
    assert fields["exception_chain"] == ["builtins.RuntimeError", "builtins.ValueError"]
    assert any("test_exception_fields.py" in frame for frame in fields["stack"])
    assert "ada@example.org" not in repr(fields) and "Ada" not in repr(fields)
