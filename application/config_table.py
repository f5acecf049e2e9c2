"""The configuration table of README.md, generated from the settings' sections and their fields' docstrings (read
from the source here, so that building a section at run time parses no source); `make generate` (infra/docs.py)
writes it into README.md, and a test fails when it is stale."""

import ast
import inspect
import itertools
import textwrap
from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from observability import ObservabilitySettings
from rest_contract.auth import AuthSettings
from student_records.settings import DatabaseSettings

from .settings import CursorSettings, HttpSettings, ProcessSettings, variables_of

REPO_ROOT = Path(__file__).resolve().parents[1]
_SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("Database", DatabaseSettings),
    ("Authentication", AuthSettings),
    ("HTTP limits", HttpSettings),
    ("Page cursors", CursorSettings),
    ("Logs, metrics and traces", ObservabilitySettings),
    ("Processes around the service (gunicorn, `make run`)", ProcessSettings),
)


def render_markdown() -> str:
    """The configuration table of README.md."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for title, section in _SECTIONS:
        lines.append(f"| **{title}** | | |")
        meanings = descriptions(section)
        for name, field in section.model_fields.items():
            names = " / ".join(f"`{variable}`" for variable in variables_of(field))
            lines.append(f"| {names} | {_default(field)} | {meanings[name]} |")
    return "\n".join(lines)


def descriptions(section: type[BaseModel]) -> dict[str, str]:
    """Each field's docstring (the string right below it in the class), on one line; KeyError for a field without."""
    (definition,) = ast.parse(textwrap.dedent(inspect.getsource(section))).body
    found = {}
    body = definition.body if isinstance(definition, ast.ClassDef) else []
    for statement, following in itertools.pairwise(body):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            found[statement.target.id] = " ".join(following.value.value.split())
    return found


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None:
        return "–"
    if isinstance(value, SecretStr):
        return "a development key"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Path) and value.is_absolute():
        return f"`{value.relative_to(REPO_ROOT)}/`"
    return f"`{value}`"
