"""The saved Logs Insights queries of queries/ (one YAML file each, rendered into the template as
AWS::Logs::QueryDefinition), and a local evaluator that runs them over captured JSON log lines.

    python -m infra.logs_insights NAME LOG [--param name=value ...]    (make logs-query NAME=... LOG=...)
    python -m infra.logs_insights --list

LOG holds what the doors print (`make run > captured.log`), or what `aws logs tail <group> --format short` prints of
a deployed stack's: one JSON object per line, after a prefix or not; other lines are ignored.
The output is a header line, then one line per row (columns aligned, `-` where a row has no value).

The evaluator implements the part of the Logs Insights query language the project's queries use, as AWS
documents it (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html), and refuses
anything else with an error naming what it met:
- `fields` (fields, `coalesce(...)`, `as` aliases), `filter` (= != < <= > >=, and/or/not, `like` or `=~` with a
  "substring" or a /regex/, `in [...]`, `ispresent(...)`), `stats` (count, sum, avg, min, max, pct, `by` fields
  and `bin(period)`; two stats in a row, the second over the rows of the first), `sort` (asc or desc), `limit`;
  `#` comments; `{{name}}` query parameters.
- Fields: JSON keys, nested ones by dots (`record.metrics.initDurationMs`, list items by index), `@message` (the
  whole line) and `@timestamp` (the line's own time: Powertools' `timestamp`, Lambda's `time`, API Gateway's
  `requestTime`, WAF's epoch `timestamp`, EMF's `_aws.Timestamp`; a line with none takes the previous line's).
  Locally every line is in every log group: a capture holds the lines of all of them.
- Values are loosely typed: two values that read as numbers compare as numbers, anything else as text; JSON
  true and false are 1 and 0. A comparison with a missing field is false (and `not` of it true).
- `stats` without `by` gives one row over every matching line (none when no line matched); columns are the
  `by` fields, then the aggregates, named by their alias or their text. `pct` is the nearest rank, as the alarm
  replay computes CloudWatch's percentiles.
- `sort`: AWS's natural order (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Sort.html):
  ascending, text before numbers, text in chunks (digits by length then value, the rest by code point); missing
  values last either way. The page names no default direction, so one must be given. Without `sort`, rows keep
  the capture's order (AWS promises none: every saved query sorts).
- `limit`: without it, at most 10,000 rows
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Limit.html).
"""

import argparse
import functools
import json
import math
import re
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyparsing as pp
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .alarm_replay import aggregate

REPO_ROOT = Path(__file__).resolve().parents[1]
QUERIES_DIR = REPO_ROOT / "queries"
DEFAULT_LIMIT = 10_000
# Query parameters, as QueryDefinition's Parameters reference them
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-logs-querydefinition-queryparameter.html).
_PARAMETER = re.compile(r"\{\{(\w+)\}\}")

Record = dict[str, Any]


class QueryError(ValueError):
    """A query the evaluator cannot run: a syntax error, or a command or function it does not implement."""


# ---- the saved queries (queries/*.yaml) -------------------------------------------------------------------------


class QueryParameter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=128)
    description: str = Field(min_length=1, max_length=512)
    default: str | None = Field(default=None, max_length=1024)


class SavedQuery(BaseModel):
    """One file of queries/: its name (`<stack>/<name>` in AWS), what it is for, the template's log groups it
    reads (logical ids of AWS::Logs::LogGroup resources), its parameters and its query."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    description: str = Field(min_length=1)
    log_groups: list[str] = Field(min_length=1)
    parameters: list[QueryParameter] = []
    query: str = Field(min_length=1)

    @model_validator(mode="after")
    def _parameters_match_and_query_runs(self) -> "SavedQuery":
        used, declared = set(_PARAMETER.findall(self.query)), {parameter.name for parameter in self.parameters}
        if used != declared:
            raise ValueError(f"the query uses parameters {sorted(used)}, the file declares {sorted(declared)}")
        parse(substitute(self.query, dict.fromkeys(declared, "x")))
        return self

    @property
    def logical_id(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-")) + "Query"

    @property
    def query_string(self) -> str:
        """What the QueryDefinition holds: the description as comments, then the query."""
        comments = [f"# {line}" for line in textwrap.wrap(" ".join(self.description.split()), 110)]
        return "\n".join(comments) + "\n" + self.query.strip() + "\n"

    def run(self, records: list[Record], values: dict[str, str] | None = None) -> "QueryResult":
        defaults = {parameter.name: parameter.default for parameter in self.parameters if parameter.default}
        unknown = set(values or {}) - {parameter.name for parameter in self.parameters}
        if unknown:
            raise QueryError(f"{self.name} has no parameter {', '.join(sorted(unknown))}")
        return run(substitute(self.query_string, defaults | (values or {})), records)


def load_saved_queries(directory: Path = QUERIES_DIR) -> dict[str, SavedQuery]:
    queries = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            query = SavedQuery.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (ValidationError, QueryError) as error:
            raise QueryError(f"queries/{path.name}: {error}") from None
        if query.name != path.stem:
            raise QueryError(f"queries/{path.name} is named {query.name!r}: name the file after the query")
        queries[query.name] = query
    return queries


def query_definitions(queries: dict[str, SavedQuery], resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An AWS::Logs::QueryDefinition per saved query, by logical id: named `<stack>/<query>` (the console shows a
    folder per stack), on the log groups it names; a group that exists under a condition is named where it does."""
    definitions = {}
    for query in queries.values():
        groups = []
        for logical_id in query.log_groups:
            group = resources.get(logical_id, {})
            if group.get("Type") != "AWS::Logs::LogGroup":
                raise QueryError(
                    f"queries/{query.name}.yaml reads {logical_id}: no log group of the template has that logical id"
                )
            reference = {"Ref": logical_id}
            groups.append(
                {"Fn::If": [group["Condition"], reference, {"Ref": "AWS::NoValue"}]}
                if "Condition" in group
                else reference
            )
        properties: dict[str, Any] = {
            "Name": {"Fn::Sub": f"${{AWS::StackName}}/{query.name}"},
            "QueryLanguage": "CWLI",
            "QueryString": query.query_string,
            "LogGroupNames": groups,
        }
        if query.parameters:
            properties["Parameters"] = [
                {"Name": parameter.name, "Description": parameter.description}
                | ({"DefaultValue": parameter.default} if parameter.default is not None else {})
                for parameter in query.parameters
            ]
        definitions[query.logical_id] = {"Type": "AWS::Logs::QueryDefinition", "Properties": properties}
    return definitions


def substitute(query: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        if match[1] not in values:
            raise QueryError(f"the query needs a value for its parameter {match[1]} (--param {match[1]}=...)")
        return values[match[1]]

    return _PARAMETER.sub(value, query)


# ---- the captured lines ------------------------------------------------------------------------------------------


def read_lines(lines: Iterable[str]) -> list[Record]:
    """Every line that holds a JSON object, with @timestamp and @message. The object may follow a prefix, such as
    the time `aws logs tail --format short` writes before each event."""
    records, last_time = [], None
    for line in lines:
        text = line.rstrip("\r\n")
        text = text[text.find("{") :] if "{" in text else ""
        if not text.endswith("}"):
            continue
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if not isinstance(document, dict):
            continue
        last_time = _line_time(document) or last_time
        records.append({**document, "@timestamp": last_time, "@message": text})
    return records


def _line_time(document: dict[str, Any]) -> datetime | None:
    emf = document.get("_aws")
    candidates = [
        (document.get("timestamp"), ("%Y-%m-%d %H:%M:%S,%f%z",)),  # Powertools (and the request line)
        (document.get("time"), ()),  # Lambda's platform lines: ISO 8601
        (document.get("requestTime"), ("%d/%b/%Y:%H:%M:%S %z",)),  # API Gateway's $context.requestTime
        (emf.get("Timestamp") if isinstance(emf, dict) else None, ()),
    ]
    for value, formats in candidates:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)  # epoch milliseconds (WAF, EMF)
        if isinstance(value, str):
            for text_format in formats:
                try:
                    return datetime.strptime(value, text_format)  # noqa: DTZ007 - each format ends in %z
                except ValueError:
                    pass
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


# ---- the query language: syntax --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    name: str


@dataclass(frozen=True)
class Constant:
    value: Any


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[Any, ...]


@dataclass(frozen=True)
class Comparison:
    operator: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Like:
    operand: Any
    pattern: re.Pattern
    negated: bool


@dataclass(frozen=True)
class In:
    operand: Any
    values: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True)
class Not:
    operand: Any


@dataclass(frozen=True)
class Junction:
    operator: str  # "and" or "or"
    operands: tuple[Any, ...]


@dataclass(frozen=True)
class Bin:
    seconds: float


@dataclass(frozen=True)
class Named:
    """An expression and its column name (its alias, or its text as written)."""

    expression: Any
    name: str


@dataclass(frozen=True)
class Fields:
    items: tuple[Named, ...]


@dataclass(frozen=True)
class Filter:
    condition: Any


@dataclass(frozen=True)
class Stats:
    aggregates: tuple[Named, ...]  # each expression a Call of an aggregation function
    groups: tuple[Named, ...]


@dataclass(frozen=True)
class Sort:
    keys: tuple[tuple[Any, bool], ...]  # (expression, descending)


@dataclass(frozen=True)
class Limit:
    count: int


AGGREGATIONS = {"count", "sum", "avg", "min", "max", "pct"}
FUNCTIONS = {"ispresent", "coalesce"}
# bin()'s units (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Stats.html); months,
# quarters and years have no fixed length and are not implemented.
_BIN_UNITS = {
    1e-3: ("ms", "msec", "millisecond"),
    1: ("s", "sec", "second"),
    60: ("m", "min", "minute"),
    3600: ("h", "hr", "hour"),
    86400: ("d", "day"),
    604800: ("w", "week"),
}
BIN_UNIT_SECONDS = {
    alias + plural: seconds
    for seconds, aliases in _BIN_UNITS.items()
    for alias in aliases
    for plural in (("", "s") if len(alias) > 1 else ("",))
}
COMMANDS = ("fields", "filter", "stats", "sort", "limit")


def _grammar() -> pp.ParserElement:
    keyword = {
        word: pp.CaselessKeyword(word)
        for word in ("and", "or", "not", "in", "like", "as", "by", "asc", "desc", *COMMANDS)
    }
    reserved = pp.MatchFirst(keyword.values())
    lpar, rpar = pp.Suppress("("), pp.Suppress(")")

    string = (pp.QuotedString('"', esc_char="\\") | pp.QuotedString("'", esc_char="\\")).set_parse_action(
        lambda t: Constant(t[0])
    )
    number = pp.Regex(r"-?\d+(\.\d+)?([eE][+-]?\d+)?").set_parse_action(lambda t: Constant(_parse_number(t[0])))
    regex = pp.Regex(r"/(?:\\.|[^/\\\n])+/").set_parse_action(_regex)
    field_name = pp.Regex(r"@?[A-Za-z_][\w]*(\.\w+)*") | pp.Regex(r"`[^`]+`").set_parse_action(lambda t: t[0][1:-1])
    field = (~reserved + field_name).set_parse_action(lambda t: FieldRef(t[0]))
    literal = string | number
    array = (
        (pp.Suppress("[") + pp.DelimitedList(literal) + pp.Suppress("]"))
        .set_name("[values]")
        .set_parse_action(lambda t: tuple(item.value for item in t))
    )

    expression = pp.Forward().set_name("an expression")
    bin_ = (pp.CaselessKeyword("bin") + lpar + pp.Regex(r"\w+") + rpar).set_parse_action(_bin)
    call_name = pp.Regex(r"[A-Za-z_]\w*") + pp.FollowedBy("(")
    call = (call_name + lpar + pp.Optional(pp.DelimitedList(expression)) + rpar).set_parse_action(_call)
    operand = (literal | bin_ | call | field).set_name("a field, a value or a function")
    comparison_operator = pp.one_of("= != < <= > >=")
    like = (
        operand + pp.Optional(keyword["not"]) + (keyword["like"] | pp.Literal("=~")) + (regex | string)
    ).set_parse_action(_like)
    membership = (operand + pp.Optional(keyword["not"]) + keyword["in"] + array).set_parse_action(_membership)
    compared = (operand + comparison_operator + operand).set_parse_action(lambda t: Comparison(t[1], t[0], t[2]))
    predicate = (like | membership | compared | operand).set_name("a condition or a value")
    expression <<= pp.infix_notation(
        predicate,
        [
            (keyword["not"], 1, pp.OpAssoc.RIGHT, lambda t: Not(t[0][1])),
            (keyword["and"], 2, pp.OpAssoc.LEFT, lambda t: Junction("and", tuple(t[0][0::2]))),
            (keyword["or"], 2, pp.OpAssoc.LEFT, lambda t: Junction("or", tuple(t[0][0::2]))),
        ],
    )

    def named(element: pp.ParserElement) -> pp.ParserElement:
        located = pp.Located(element) + pp.Optional(keyword["as"].suppress() + field_name)
        return located.set_parse_action(_named)

    fields = (keyword["fields"].suppress() + pp.DelimitedList(named(expression))).set_parse_action(
        lambda t: Fields(tuple(t))
    )
    filter_ = (keyword["filter"].suppress() + expression).set_parse_action(lambda t: Filter(t[0]))
    count_all = (pp.CaselessKeyword("count") + lpar + pp.Suppress("*") + rpar).set_parse_action(
        lambda: Call("count", ())
    )
    aggregation = (count_all | call).set_name("an aggregation, e.g. count(*)")
    stats = (
        keyword["stats"].suppress()
        + pp.Group(pp.DelimitedList(named(aggregation)))
        + pp.Optional(keyword["by"].suppress() + pp.Group(pp.DelimitedList(named(expression))))
    ).set_parse_action(_stats)
    sort_key = (expression + pp.Optional(keyword["asc"] | keyword["desc"], default="")).set_parse_action(_sort_key)
    sort = (keyword["sort"].suppress() + pp.DelimitedList(sort_key)).set_parse_action(lambda t: Sort(tuple(t)))
    limit = (keyword["limit"].suppress() + pp.Regex(r"\d+").set_name("a number of rows")).set_parse_action(
        lambda t: Limit(int(t[0]))
    )
    unknown = (~pp.MatchFirst(keyword[name] for name in COMMANDS) + pp.Regex(r"[A-Za-z]\w*")).set_parse_action(
        _refuse_command
    )
    command = fields | filter_ | stats | sort | limit | unknown
    query = pp.DelimitedList(command, delim="|") + pp.StringEnd()
    return query.ignore(pp.Regex(r"#[^\n]*"))


def _parse_number(text: str) -> int | float:
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def _regex(source: str, location: int, tokens: pp.ParseResults) -> re.Pattern:
    pattern = tokens[0][1:-1].replace("\\/", "/")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise pp.ParseFatalException(source, location, f"bad regular expression /{pattern}/: {error}") from None


def _bin(source: str, location: int, tokens: pp.ParseResults) -> Bin:
    match = re.fullmatch(r"(\d+)([a-z]+)", tokens[1].lower())
    if not match or match[2] not in BIN_UNIT_SECONDS:
        raise pp.ParseFatalException(source, location, f"unsupported bin() period: {tokens[1]}")
    return Bin(int(match[1]) * BIN_UNIT_SECONDS[match[2]])


def _call(source: str, location: int, tokens: pp.ParseResults) -> Any:
    function, arguments = tokens[0].lower(), tuple(tokens[1:])
    if function not in AGGREGATIONS | FUNCTIONS:
        raise pp.ParseFatalException(source, location, f"unsupported function: {function}()")
    if function == "pct" and (len(arguments) != 2 or not isinstance(arguments[1], Constant)):
        raise pp.ParseFatalException(source, location, "pct() takes a field and a percentile, e.g. pct(f, 99)")
    return Call(function, arguments)


def _like(tokens: pp.ParseResults) -> Like:
    operand, *middle, pattern = tokens
    if isinstance(pattern, Constant):
        pattern = re.compile(re.escape(str(pattern.value)))  # a "string": a substring
    return Like(operand, pattern, negated=len(middle) == 2)


def _membership(tokens: pp.ParseResults) -> In:
    operand, *middle, values = tokens
    return In(operand, values, negated=len(middle) == 2)


def _named(source: str, location: int, tokens: pp.ParseResults) -> Named:
    start, [expression], end, *alias = tokens
    if alias:
        return Named(expression, alias[0])
    if isinstance(expression, FieldRef):
        return Named(expression, expression.name)
    return Named(expression, " ".join(source[start:end].split()))


def _stats(source: str, location: int, tokens: pp.ParseResults) -> Stats:
    aggregates, groups = tuple(tokens[0]), tuple(tokens[1]) if len(tokens) > 1 else ()
    for item in aggregates:
        if item.expression.function not in AGGREGATIONS:
            raise pp.ParseFatalException(source, location, f"{item.expression.function}() is not an aggregation")
    return Stats(aggregates, groups)


def _sort_key(source: str, location: int, tokens: pp.ParseResults) -> tuple[Any, bool]:
    if not tokens[1]:
        raise pp.ParseFatalException(source, location, "sort needs asc or desc (AWS documents no default)")
    return tokens[0], tokens[1].lower() == "desc"


def _refuse_command(source: str, location: int, tokens: pp.ParseResults) -> None:
    raise pp.ParseFatalException(
        source, location, f"unsupported command: {tokens[0]} (this evaluator runs {', '.join(COMMANDS)})"
    )


_QUERY = _grammar()


@functools.lru_cache(maxsize=64)
def parse(query: str) -> tuple[Any, ...]:
    try:
        return tuple(_QUERY.parse_string(query, parse_all=True))
    except pp.ParseBaseException as error:
        what = "cannot read the query from here" if error.msg == "Expected end of text" else error.msg
        raise QueryError(f"{what} (line {error.lineno}, column {error.col}: {error.line.strip()!r})") from None


# ---- the query language: evaluation ----------------------------------------------------------------------------


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[Record]

    def cells(self) -> list[list[str]]:
        return [[format_value(row.get(column)) for column in self.columns] for row in self.rows]

    def table(self) -> list[str]:
        """A header line, then one line per row, in aligned columns (`-` for a missing value)."""
        cells = [[cell or "-" for cell in row] for row in self.cells()]
        widths = [max([len(column)] + [len(row[index]) for row in cells]) for index, column in enumerate(self.columns)]
        return [
            "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
            for line in [self.columns, *cells]
        ]


def run(query: str, records: list[Record]) -> QueryResult:
    rows, columns, limited = list(records), None, False
    for command in parse(query):
        if isinstance(command, Fields):
            rows = [{**row, **{item.name: _value(item.expression, row) for item in command.items}} for row in rows]
            columns = list(dict.fromkeys([*(columns or []), *(item.name for item in command.items)]))
        elif isinstance(command, Filter):
            rows = [row for row in rows if _truth(command.condition, row)]
        elif isinstance(command, Stats):
            rows = _stats_rows(command, rows)
            columns = [item.name for item in (*command.groups, *command.aggregates)]
        elif isinstance(command, Sort):
            rows = sorted(rows, key=functools.cmp_to_key(functools.partial(_compare_rows, command.keys)))
        else:
            rows, limited = rows[: command.count], True
    return QueryResult(columns or ["@timestamp", "@message"], rows if limited else rows[:DEFAULT_LIMIT])


def _field(row: Record, name: str) -> Any:
    if name in row:
        return row[name]
    value: Any = row
    for part in name.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _value(node: Any, row: Record) -> Any:
    if isinstance(node, FieldRef):
        return _field(row, node.name)
    if isinstance(node, Constant):
        return node.value
    if isinstance(node, Call) and node.function == "coalesce":
        return next(
            (value for value in (_value(argument, row) for argument in node.arguments) if value is not None), None
        )
    if isinstance(node, Bin):
        timestamp = row.get("@timestamp")
        if timestamp is None:
            return None
        return datetime.fromtimestamp(math.floor(timestamp.timestamp() / node.seconds) * node.seconds, UTC)
    if isinstance(node, Call | Comparison | Like | In | Not | Junction):
        return 1 if _truth(node, row) else 0
    raise QueryError(f"{node} cannot be used as a value")


def _truth(node: Any, row: Record) -> bool:
    if isinstance(node, Junction):
        outcomes = (_truth(operand, row) for operand in node.operands)
        return all(outcomes) if node.operator == "and" else any(outcomes)
    if isinstance(node, Not):
        return not _truth(node.operand, row)
    if isinstance(node, Comparison):
        order = _order(_value(node.left, row), _value(node.right, row))
        return (
            order is not None
            and {"=": order == 0, "!=": order != 0, "<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[
                node.operator
            ]
        )
    if isinstance(node, Like):
        value = _value(node.operand, row)
        return value is not None and bool(node.pattern.search(format_value(value))) != node.negated
    if isinstance(node, In):
        value = _value(node.operand, row)
        return value is not None and any(_order(value, item) == 0 for item in node.values) != node.negated
    if isinstance(node, Call) and node.function == "ispresent":
        return _value(node.arguments[0], row) is not None
    if isinstance(node, Call) and node.function in AGGREGATIONS:
        raise QueryError(f"{node.function}() aggregates: use it in stats")
    value = _value(node, row)
    return value not in (None, 0, "", False)


def _number(value: Any) -> float | None:
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp() * 1000
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*", value):
        return float(value)
    return None


def _order(left: Any, right: Any) -> int | None:
    """-1, 0 or 1; None when either is missing. Numbers (or text that reads as one) compare as numbers."""
    if left is None or right is None:
        return None
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        return (left_number > right_number) - (left_number < right_number)
    left_text, right_text = format_value(left), format_value(right)
    return (left_text > right_text) - (left_text < right_text)


def _stats_rows(command: Stats, rows: list[Record]) -> list[Record]:
    groups: dict[tuple, list[Record]] = {}
    for row in rows:
        key = tuple(_value(group.expression, row) for group in command.groups)
        groups.setdefault(tuple(_hashable(value) for value in key), []).append(row)
    result = []
    for members in groups.values():
        out = {group.name: _value(group.expression, members[0]) for group in command.groups}
        for item in command.aggregates:
            out[item.name] = _aggregate(item.expression, members)
        result.append(out)
    return result


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def _aggregate(call: Call, rows: list[Record]) -> Any:
    if call.function == "count":
        return len(rows) if not call.arguments else sum(_value(call.arguments[0], row) is not None for row in rows)
    values = [value for value in (_value(call.arguments[0], row) for row in rows) if value is not None]
    if call.function in ("min", "max"):
        if not values:
            return None
        ordered = sorted(values, key=functools.cmp_to_key(_natural_order))
        return ordered[0] if call.function == "min" else ordered[-1]
    numbers = [number for number in map(_number, values) if number is not None]
    if not numbers:
        return None
    if call.function == "pct":
        return aggregate(numbers, f"p{call.arguments[1].value}")
    return aggregate(numbers, {"sum": "Sum", "avg": "Average"}[call.function])


def _compare_rows(keys: tuple[tuple[Any, bool], ...], left: Record, right: Record) -> int:
    for expression, descending in keys:
        left_value, right_value = _value(expression, left), _value(expression, right)
        if left_value is None or right_value is None:
            order = (left_value is None) - (right_value is None)  # missing values last, either way
        else:
            order = _natural_order(left_value, right_value) * (-1 if descending else 1)
        if order:
            return order
    return 0


def _natural_order(left: Any, right: Any) -> int:
    left_number, right_number = _number(left), _number(right)
    if (left_number is None) != (right_number is None):
        return -1 if right_number is not None else 1  # text before numbers
    if left_number is not None:
        order = (left_number > right_number) - (left_number < right_number)
        left_text, right_text = format_value(left), format_value(right)  # "01" before "1", as AWS's example
        return order or (left_text > right_text) - (left_text < right_text)
    left_chunks, right_chunks = _chunks(format_value(left)), _chunks(format_value(right))
    for left_chunk, right_chunk in zip(left_chunks, right_chunks, strict=False):
        if left_chunk.isdigit() and right_chunk.isdigit():
            left_key, right_key = (len(left_chunk), int(left_chunk)), (len(right_chunk), int(right_chunk))
        else:
            left_key, right_key = left_chunk, right_chunk
        if left_key != right_key:
            return -1 if left_key < right_key else 1
    return (len(left_chunks) > len(right_chunks)) - (len(left_chunks) < len(right_chunks))


def _chunks(text: str) -> list[str]:
    """Runs of digits, and runs of anything else."""
    return re.findall(r"\d+|\D+", text)


def format_value(value: Any) -> str:
    """As a result shows it: times to the millisecond (UTC), whole numbers without a decimal point."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value).replace("\n", "\\n").replace("\t", "\\t")


# ---- the command ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", help="a saved query: the name of a file of queries/")
    parser.add_argument("log", nargs="?", type=Path, help="captured stdout of the doors (`-` for standard input)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for a parameter of the query ({{NAME}} in it)",
    )
    parser.add_argument("--list", action="store_true", help="list the saved queries")
    args = parser.parse_args(argv)
    queries = load_saved_queries()
    if args.list or not args.name:
        for query in queries.values():
            parameters = ", ".join(parameter.name for parameter in query.parameters)
            print(query.name + (f" (parameter: {parameters})" if parameters else ""))
            print(
                textwrap.fill(" ".join(query.description.split()), 116, initial_indent="    ", subsequent_indent="    ")
            )
        return 0 if args.list else 2
    if args.name not in queries:
        parser.error(f"no saved query {args.name!r}: one of {', '.join(queries)}")
    if args.log is None or (str(args.log) != "-" and not args.log.is_file()):
        parser.error(f"not a file: {args.log}")
    if any("=" not in parameter for parameter in args.param):
        parser.error("--param takes NAME=VALUE")
    values = dict(parameter.split("=", 1) for parameter in args.param)
    text = sys.stdin if str(args.log) == "-" else args.log.read_text(encoding="utf-8", errors="replace").splitlines()
    records = read_lines(text)
    try:
        result = queries[args.name].run(records, values)
    except QueryError as error:
        parser.error(str(error))
    print("\n".join(result.table()))
    print(f"{args.name}: {len(result.rows)} rows from {len(records)} JSON lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
