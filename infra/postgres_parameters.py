"""The PostgreSQL server parameters in infra/postgresql.conf, for the embedded server and for RDS.

One file holds the parameters both servers run with. A line ending in ``# rds-only`` goes only to the RDS DB
parameter group, one ending in ``# local-only`` only to the embedded server, any other setting to both:

    load()                      -> every setting, with its scope, reason and line number
    embedded_server_settings()  -> {name: value} that local_stack/embedded_postgres.py includes in its data directory
    rds_parameters()            -> {name: value} for an AWS::RDS::DBParameterGroup's Parameters (infra/render.py)

The file is read as a strict subset of postgresql.conf syntax, so a typo cannot pass silently (PostgreSQL itself
accepts any dotted name as a placeholder, and an RDS parameter group fails only at deploy time): one
``name = value`` per line, the value a bare word (``terse``, ``500``, ``-1``) or a single-quoted string
(``''`` or ``\\'`` for a quote, ``\\\\`` for a backslash), each setting with a one-line ``#`` comment on the line
above saying why, and nothing after a value but one of the two markers. Anything else is refused with
a ParameterFileError naming the file and line. Values stay strings, as written: PostgreSQL parses them itself,
and CloudFormation wants strings.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PARAMETERS_FILE = REPO_ROOT / "infra" / "postgresql.conf"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?"
_SETTING = re.compile(
    rf"""^(?P<name>{_NAME})\s*=\s*
         (?P<value>'(?:[^'\\]|''|\\.)*'|[A-Za-z0-9_.+-]+)
         \s*(?:\#\s*(?P<comment>.*?))?\s*$""",
    re.VERBOSE,
)
_INCLUDE_DIRECTIVES = frozenset({"include", "include_if_exists", "include_dir"})


class Scope(enum.Enum):
    BOTH = ""
    RDS_ONLY = "rds-only"
    LOCAL_ONLY = "local-only"


_MARKERS = {scope.value: scope for scope in Scope if scope.value}


class ParameterFileError(ValueError):
    """The parameters file has a line this loader does not accept; the message names the file and line."""


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    scope: Scope
    why: str
    line: int

    @property
    def for_rds(self) -> bool:
        return self.scope is not Scope.LOCAL_ONLY

    @property
    def for_embedded_server(self) -> bool:
        return self.scope is not Scope.RDS_ONLY


def load(path: Path = PARAMETERS_FILE) -> tuple[Parameter, ...]:
    """Every setting of the file, in file order."""
    return parse(Path(path).read_text(encoding="utf-8"), source=_display_name(Path(path)))


def parse(text: str, source: str = "<text>") -> tuple[Parameter, ...]:
    parameters: list[Parameter] = []
    seen: dict[str, int] = {}
    why: str | None = None  # the comment line just above, if the line above was a comment
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            why = None
            continue
        if line.startswith("#"):
            why = line.lstrip("#").strip() or None
            continue

        def refuse(reason: str) -> ParameterFileError:  # called within this iteration only
            return ParameterFileError(f"{source}:{number}: {reason}: {raw.strip()!r}")  # noqa: B023

        first_word = re.split(r"[\s=]", line, maxsplit=1)[0]
        if first_word in _INCLUDE_DIRECTIVES:
            raise refuse("include directives are not supported; put the setting in this file")
        match = _SETTING.match(line)
        if match is None:
            raise refuse("expected `name = value` (a bare word or a single-quoted string), then at most a marker")
        name = match["name"]
        comment = match["comment"]
        if comment is None:
            scope = Scope.BOTH
        elif comment in _MARKERS:
            scope = _MARKERS[comment]
        else:
            raise refuse(f"the only comments allowed after a value are {' and '.join(f'# {m}' for m in _MARKERS)}")
        if name in seen:
            raise refuse(f"{name} is already set on line {seen[name]}")
        if why is None:
            raise refuse(f"{name} needs a one-line `# why` comment on the line above")
        parameters.append(Parameter(name, _unquote(match["value"], refuse), scope, why, number))
        seen[name] = number
        why = None
    return tuple(parameters)


def embedded_server_settings(path: Path = PARAMETERS_FILE) -> dict[str, str]:
    """The settings for the embedded server: every line but the rds-only ones."""
    return {p.name: p.value for p in load(path) if p.for_embedded_server}


def rds_parameters(path: Path = PARAMETERS_FILE) -> dict[str, str]:
    """The DB parameter group's Parameters: every line but the local-only ones, values as strings."""
    return {p.name: p.value for p in load(path) if p.for_rds}


def conf_text(settings: Mapping[str, str], header: str = "") -> str:
    """Settings in postgresql.conf syntax, every value quoted (PostgreSQL accepts any value quoted)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for name, value in settings.items():
        if not re.fullmatch(_NAME, name):
            raise ValueError(f"not a parameter name: {name!r}")
        lines.append(f"{name} = '{_quote(value)}'")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "''")


def _unquote(value: str, refuse) -> str:
    if not value.startswith("'"):
        return value
    body, result, index = value[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "'" or char == "\\":  # '' or \' or \\ (the pattern guarantees a following character)
            escaped = body[index + 1]
            if char == "\\" and escaped not in "'\\":
                raise refuse(f"unsupported escape \\{escaped} in a quoted value (only \\' and \\\\ are)")
            result.append(escaped)
            index += 2
        else:
            result.append(char)
            index += 1
    return "".join(result)


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
