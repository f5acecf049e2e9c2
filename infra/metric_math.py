"""The part of CloudWatch metric math the dashboards and alarms use: + - * / over metric ids and numbers,
FILL(id, number), and MIN([...]) / MAX([...]) across series. Evaluated for the alarm replay and the dashboard
previews; checked for gaps.

A period where an input has no datapoint has no result, as in CloudWatch: `created - deleted` is empty in
every minute without a delete. FILL(deleted, 0) gives that input a value there. So an expression that
combines metrics must FILL each one that can be absent: every input but a divisor (a rate without
requests is rightly empty).
"""

import ast
import operator

_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
FILL = "FILL"
# Across series, per period. A period where any series has no value has none here: a multi-window burn-rate
# alarm must see both windows over its threshold.
_ACROSS = {"MIN": min, "MAX": max}


class MetricMathError(ValueError):
    pass


def inputs(expression: str) -> set[str]:
    """The metric ids an expression reads."""
    tree = _parse(expression)
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and id(node) not in functions}


def unfilled_inputs(expression: str) -> list[str]:
    """The inputs of an expression over two or more metrics that are neither in FILL(...) nor a divisor."""
    tree = _parse(expression)
    if len(inputs(expression)) < 2:
        return []
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            exempt |= {id(argument) for argument in node.args}
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            exempt |= {id(inner) for inner in ast.walk(node.right)}
    return sorted(
        {
            node.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id != FILL and id(node) not in exempt
        }
    )


def evaluate(expression: str, variables: dict[str, float | None]) -> float | None:
    """The expression's value for one period; None (no datapoint) when an unfilled input is missing or a
    division has no denominator, as CloudWatch leaves such a period empty."""

    def value(node: ast.AST) -> float | None:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            return variables[node.id]
        if _is_fill(node):
            filled = value(node.args[0])
            return float(node.args[1].value) if filled is None else filled
        if _is_across(node):
            values = [value(item) for item in node.args[0].elts]
            return None if any(item is None for item in values) else _ACROSS[node.func.id](values)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left, right = value(node.left), value(node.right)
            if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
                return None
            return _ARITHMETIC[type(node.op)](left, right)
        raise MetricMathError(f"unsupported metric math in {expression!r}")

    return value(_parse(expression))


def _is_fill(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == FILL
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Name)
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, (int, float))
    )


def _is_across(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _ACROSS
        and len(node.args) == 1
        and isinstance(node.args[0], ast.List)
        and bool(node.args[0].elts)
    )


def _parse(expression: str) -> ast.Expression:
    try:
        return ast.parse(expression, mode="eval")
    except SyntaxError:
        raise MetricMathError(f"not metric math this project evaluates: {expression!r}") from None
