"""Dashboard preview: draws every CloudWatch dashboard body (dashboards/*.json) as a PNG, from the app's own
EMF output, so a dashboard change can be seen (and reviewed) without deploying it.

    python -m infra.dashboard_preview EMF_LOG [EMF_LOG ...] [--out docs/images] [--time-scale N]
    python -m infra.dashboard_preview --capture SECONDS [--save-capture FILE] [--out docs/images]

Widgets are laid out on CloudWatch's 24-column grid (one column and one grid row are fixed pixel sizes).
Metric widgets are computed like CloudWatch would: each metric's statistic per period (the same aggregation as the
alarm replay), metric math of + - * / and FILL over ids, and SEARCH expressions matching every emitted series with
the search's namespace, dimension names and MetricName. Metrics in AWS namespaces are drawn from the EMF the local
stack's stand-ins write for them (API Gateway, Lambda, RDS, the load balancer and the web ACL:
local_stack/cloudwatch.py's users), and Application Signals' from the doors' own (the SLOs' attainment and burn
rates, computed as the alarm replay computes them); those with no local data say so instead of drawing a line. Alarm
widgets show the states the alarm replay reaches, with each alarm's state history over the capture. Log widgets run
their Logs Insights query over the captured JSON lines (infra/logs_insights.py) and show its rows as a table.
Placeholders get the values a stack called student-records has (infra/render.py's stack_values: ApiName, the
functions' names, the parameters' defaults), the metrics namespace (which must match the EMF) and alarm ARNs (named
after the alarms in alarms/); any other gets a sample value, and a dimension value set at deploy time that way
matches any emitted value.

`--time-scale 60` compresses time as the alarm replay does (each one-minute period lasts one second of the
log), so a short capture fills a dashboard's hours; time labels show the dashboard's (expanded) time, UTC.
`--capture SECONDS` first runs the local stack itself (embedded PostgreSQL, both doors, the AWS stand-ins) under users
on loopback, through the fault library's faults (local_stack/faults.py, capture_emf below), and renders what it
printed.
"""

import argparse
import json
import math
import random
import re
import sys
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from observability.settings import METRICS_NAMESPACE

from . import logs_insights, metric_math
from .alarm_replay import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    REGION,
    SeriesKey,
    aggregate,
    datapoints_from_emf,
    replay,
    with_application_signals,
)
from .alarms import AlarmCatalog, load_alarms
from .dashboards import (
    GRID_COLUMNS,
    SAMPLE_ACCOUNT,
    SAMPLE_REGION,
    dashboard_files,
    load_dashboard,
    placeholders,
    resolve_shorthand,
    sample_values,
    substitute,
)
from .render import DEFAULT_STACK_NAME, stack_values

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "docs" / "images"

COLUMN_PX = 64
ROW_PX = 44
MARGIN_PX = 16
HEADER_PX = 64
GAP_PX = 4  # between neighbouring panels
DPI = 100

AWS_NO_DATA = "AWS metric — no local data"
CAPTURE_TIME_SCALE = 60.0
DEFAULT_PERIOD_S = 300  # CloudWatch's, when neither the metric nor the widget sets one
DEFAULT_STAT = "Average"

STATE_COLORS = {OK: "#2e8540", ALARM: "#d13212", INSUFFICIENT_DATA: "#879596"}
BACKGROUND, PANEL, BORDER, GRID, INK, FAINT = "#f2f3f3", "#ffffff", "#d5dbdb", "#eaeded", "#16191f", "#687078"
NOTE_PX = 14  # one footnote line under a chart
LOG_FONT = 7.5  # a log widget's table: font size, and column widths in characters
LOG_GAP_CHARS, LOG_MIN_COLUMN_CHARS, LOG_MAX_COLUMN_CHARS = 2, 6, 48

_SEARCH = re.compile(
    r"^SEARCH\(\s*'\{(?P<schema>[^}]*)\}(?P<terms>[^']*)'\s*,\s*'(?P<stat>[^']+)'\s*,\s*(?P<period>\d+)\s*\)$"
)
_SEARCH_TERM = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_EMPHASIS = re.compile(r"\*\*|__|`")
_LOG_SOURCES = re.compile(r"^\s*(?:SOURCE\s+'[^']*'\s*\|\s*)+")  # a log widget's log groups, before its query


# ---- what was drawn (returned, so that tests and callers can check it) ------------------------------------------


@dataclass
class Panel:
    """One widget as drawn. kind: timeSeries, singleValue or bar (metric widgets with local data), no-local-data
    (metric widgets on AWS metrics only), alarm, text or log (a table: columns and rows)."""

    kind: str
    title: str
    lines: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)  # label -> points drawn
    notes: list[str] = field(default_factory=list)
    alarm_states: dict[str, str] = field(default_factory=dict)  # alarm name -> state shown
    text_lines: list[tuple[str, bool]] = field(default_factory=list)  # (line, bold) of text widgets
    columns: list[str] = field(default_factory=list)  # a log widget's table
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class DashboardPreview:
    name: str
    png: Path
    width_px: int
    height_px: int
    panels: list[Panel]


# ---- time: the capture's clock, expanded by the time scale ----------------------------------------------------


@dataclass(frozen=True)
class Clock:
    start: float  # first and last EMF timestamps, in seconds
    end: float
    time_scale: float

    def expand(self, timestamp: float) -> float:
        """The dashboard time of a log time, in seconds: the capture's start, then time_scale seconds per second."""
        return self.start + (timestamp - self.start) * self.time_scale

    def shown(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(self.expand(timestamp), UTC)


# ---- the data behind a metric widget --------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricLine:
    """One row of a widget's metrics array: a metric (namespace set) or an expression."""

    id: str | None
    label: str
    visible: bool
    stat: str
    period: int
    namespace: str | None = None
    name: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    expression: str | None = None


@dataclass
class Series:
    label: str
    values: dict[float, float]  # period start (dashboard time, seconds) -> value


@dataclass
class NotDrawn:
    label: str
    reason: str


Result = list[Series] | NotDrawn


def metric_lines(properties: dict[str, Any]) -> list[MetricLine]:
    widget_stat = properties.get("stat", DEFAULT_STAT)
    widget_period = properties.get("period", DEFAULT_PERIOD_S)
    lines, previous = [], None
    for row in properties.get("metrics", []):
        if len(row) == 1 and isinstance(row[0], dict):
            options = row[0]
            lines.append(
                MetricLine(
                    options["id"],
                    options.get("label", options["id"]),
                    options.get("visible", True),
                    widget_stat,
                    options.get("period", widget_period),
                    expression=options["expression"],
                )
            )
            continue
        options = row[-1] if isinstance(row[-1], dict) else {}
        parts = row[:-1] if options else row
        previous = resolve_shorthand(parts, previous) or parts  # the body was validated: a "." always resolves
        namespace, name, *dimension_parts = previous
        lines.append(
            MetricLine(
                options.get("id"),
                options.get("label", name),
                options.get("visible", True),
                options.get("stat", widget_stat),
                options.get("period", widget_period),
                namespace,
                name,
                tuple(zip(dimension_parts[0::2], dimension_parts[1::2], strict=True)),
            )
        )
    return lines


class WidgetData:
    """Evaluates a metric widget's lines against the EMF series, as CloudWatch would against its metrics."""

    def __init__(
        self,
        lines: list[MetricLine],
        series: dict[SeriesKey, list[tuple[float, float]]],
        clock: Clock,
        deploy_time_values: frozenset[str],
    ) -> None:
        self._lines = lines
        self._by_id = {line.id: line for line in lines if line.id}
        self._series = series
        self._clock = clock
        self._deploy_time_values = deploy_time_values
        self._results: dict[str, Result] = {}

    def visible(self) -> list[Result]:
        return [self._result(line) for line in self._lines if line.visible]

    def _result(self, line: MetricLine) -> Result:
        if line.id is None:
            return self._compute(line)
        if line.id not in self._results:
            self._results[line.id] = self._compute(line)
        return self._results[line.id]

    def _compute(self, line: MetricLine) -> Result:
        if line.expression is not None:
            if line.expression.lstrip().upper().startswith("SEARCH("):
                return self._search(line)
            return self._math(line)
        if not _supported_statistic(line.stat):
            return NotDrawn(line.label, f"statistic {line.stat} not previewed")
        points = [point for key, key_points in self._series.items() if self._matches(key, line) for point in key_points]
        if not points and line.namespace.startswith("AWS/"):
            return NotDrawn(line.label, AWS_NO_DATA)
        return [Series(line.label, self._per_period(points, line.stat, line.period))]

    def _matches(self, key: SeriesKey, line: MetricLine) -> bool:
        namespace, name, dimensions = key
        emitted = dict(dimensions)
        return (
            (namespace, name) == (line.namespace, line.name)
            and set(emitted) == {n for n, _ in line.dimensions}
            and all(emitted[n] == value or value in self._deploy_time_values for n, value in line.dimensions)
        )

    def _per_period(self, points: list[tuple[float, float]], stat: str, period: int) -> dict[float, float]:
        # Periods start on the dashboard's clock (whole minutes, hours), as CloudWatch aligns them.
        buckets: dict[float, list[float]] = defaultdict(list)
        for timestamp, value in points:
            buckets[math.floor(self._clock.expand(timestamp) / period) * period].append(value)
        return {start: aggregate(values, stat) for start, values in sorted(buckets.items())}

    def _search(self, line: MetricLine) -> Result:
        match = _SEARCH.match(line.expression.strip())
        terms = dict(_SEARCH_TERM.findall(match["terms"])) if match else {}
        if (
            not match
            or _SEARCH_TERM.sub("", match["terms"]).strip()
            or "MetricName" not in terms
            or not _supported_statistic(match["stat"])
        ):
            return NotDrawn(line.label or line.id, "SEARCH form not previewed")
        namespace, *dimension_names = [part.strip().strip('"') for part in match["schema"].split(",")]
        metric_name = terms.pop("MetricName")
        found = []
        for (key_namespace, key_name, dimensions), points in sorted(self._series.items(), key=lambda kv: str(kv[0])):
            emitted = dict(dimensions)
            if (key_namespace, key_name) != (namespace, metric_name) or set(emitted) != set(dimension_names):
                continue
            if any(emitted.get(name) != value for name, value in terms.items()):
                continue
            # CloudWatch labels each search result by its dimension values, after the expression's own label.
            label = " ".join(filter(None, [line.label, *(emitted[name] for name in dimension_names)]))
            found.append(Series(label, self._per_period(points, match["stat"], int(match["period"]))))
        return found

    def _math(self, line: MetricLine) -> Result:
        try:
            references = sorted(metric_math.inputs(line.expression))
            metric_math.evaluate(line.expression, dict.fromkeys(references, 1.0))  # refuses what it cannot compute
        except metric_math.MetricMathError:
            return NotDrawn(line.label, "metric math not previewed")
        inputs = {}
        for reference in references:
            result = self._result(self._by_id[reference])
            if isinstance(result, NotDrawn):
                return NotDrawn(line.label, result.reason)
            if len(result) != 1:
                return NotDrawn(line.label, "metric math over a SEARCH not previewed")
            inputs[reference] = result[0].values
        starts = sorted({start for values in inputs.values() for start in values})
        computed = {
            start: metric_math.evaluate(line.expression, {name: values.get(start) for name, values in inputs.items()})
            for start in starts
        }
        return [Series(line.label, {start: value for start, value in computed.items() if value is not None})]


def _supported_statistic(stat: str) -> bool:
    try:
        aggregate([1.0], stat)
    except ValueError:
        return False
    return True


# ---- placeholders ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedDashboard:
    body: dict[str, Any]
    deploy_time_values: frozenset[str]  # sample values standing for names set at deploy (function names, ...)
    alarm_names: dict[str, str]  # alarm ARN -> alarm name in alarms/


def resolve_dashboard(text: str, catalog: AlarmCatalog, namespace: str) -> ResolvedDashboard:
    """The body with placeholders filled: the stack's values where the template gives them (to match what the local
    stack emits), the real metrics namespace (to match the EMF), alarm ARNs named as the template names the alarms
    (${AWS::StackName}-<name>), and with_sample_values' values for the others."""
    names = placeholders(text)
    known = {name: value for name, value in stack_values().items() if name in names}
    values = (
        sample_values(names)
        | known
        | {"MetricsNamespace": namespace, "AWS::StackName": DEFAULT_STACK_NAME, "AWS::Region": REGION}
    )
    alarm_names = {}
    for alarm in (*catalog.alarms, catalog.composite):
        arn_placeholder = f"{alarm.logical_id}.Arn"
        if arn_placeholder in names:
            arn = f"arn:aws:cloudwatch:{SAMPLE_REGION}:{SAMPLE_ACCOUNT}:alarm:{DEFAULT_STACK_NAME}-{alarm.name}"
            values[arn_placeholder] = arn
            alarm_names[arn] = alarm.name
    fixed = {namespace, REGION, SAMPLE_REGION, SAMPLE_ACCOUNT, DEFAULT_STACK_NAME, *alarm_names, *known.values()}
    return ResolvedDashboard(
        json.loads(substitute(text, values)),
        frozenset(value for value in values.values() if value not in fixed),
        alarm_names,
    )


# ---- alarm states ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmHistory:
    state: str  # the last state reached
    changes: tuple[tuple[float, str], ...]  # (log seconds, new state), oldest first
    replayed: bool  # False: on AWS metrics, so nothing local to evaluate


def alarm_histories(
    catalog: AlarmCatalog, lines: list[str], namespace: str, time_scale: float
) -> dict[str, AlarmHistory]:
    result = replay(catalog, lines, namespace=namespace, time_scale=time_scale)
    # The composite follows its paging children, which are replayed whenever any alarm is.
    replayed = set(result.replayed) | ({catalog.composite.name} if result.replayed else set())
    histories = {}
    for name in [alarm.name for alarm in catalog.alarms] + [catalog.composite.name]:
        changes = tuple((t.at.timestamp(), t.new_state) for t in result.transitions if t.alarm == name)
        histories[name] = AlarmHistory(changes[-1][1] if changes else INSUFFICIENT_DATA, changes, name in replayed)
    return histories


# ---- rendering --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A place on the figure, in pixels from the top left."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def inset(self, left: float = 0, top: float = 0, right: float = 0, bottom: float = 0) -> "Box":
        return Box(self.left + left, self.top + top, self.width - left - right, self.height - top - bottom)


class Canvas:
    """A figure drawn in pixels from the top left: frames, text and badges on one overlay (an Axes each would cost
    more than the drawing), and a real Axes only for each chart."""

    def __init__(self, width_px: int, height_px: int) -> None:
        self.width_px, self.height_px = width_px, height_px
        self.figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor=BACKGROUND)
        FigureCanvasAgg(self.figure)
        self._overlay = self.figure.add_axes((0, 0, 1, 1), zorder=0)
        self._overlay.set_axis_off()
        self._overlay.set_xlim(0, width_px)
        self._overlay.set_ylim(height_px, 0)

    def axes(self, box: Box) -> Axes:
        axes = self.figure.add_axes(
            (
                box.left / self.width_px,
                1 - box.bottom / self.height_px,
                box.width / self.width_px,
                box.height / self.height_px,
            ),
            zorder=1,
        )
        axes.set_facecolor("none")
        return axes

    def frame(self, box: Box) -> Rectangle:
        """A panel's white frame; what is written in the panel is clipped to it."""
        return self._overlay.add_patch(
            Rectangle((box.left, box.top), box.width, box.height, facecolor=PANEL, edgecolor=BORDER, linewidth=1)
        )

    def rectangle(self, box: Box, color: str) -> None:
        self._overlay.add_patch(
            Rectangle((box.left, box.top), box.width, box.height, facecolor=color, edgecolor="none")
        )

    def text(self, x: float, y: float, text: str, clip: Rectangle | None = None, **style: Any) -> None:
        written = self._overlay.text(x, y, text, **({"color": INK, "va": "center"} | style))
        if clip is not None:
            written.set_clip_path(clip)

    def legend(
        self, at_left: float, at_top: float, colors: list[str], labels: list[str], layout: "LegendLayout"
    ) -> None:
        shown = labels[: layout.shown]
        handles = [Line2D([], [], color=color, linewidth=2) for color in colors[: layout.shown]]
        if layout.shown < len(labels):
            shown.append(f"+ {len(labels) - layout.shown} more")
            handles.append(Line2D([], [], linewidth=0))
        self.figure.legend(
            handles,
            shown,
            loc="upper left",
            ncols=layout.columns,
            frameon=False,
            fontsize=layout.font_size,
            bbox_to_anchor=(at_left / self.width_px, 1 - at_top / self.height_px),
            borderaxespad=0,
            handlelength=1.4,
            columnspacing=1.2,
            borderpad=0,
        )

    def save(self, png: Path) -> None:
        self.figure.savefig(png, dpi=DPI, facecolor=BACKGROUND)


def render_dashboard(
    path: Path,
    out_dir: Path,
    series: dict[SeriesKey, list[tuple[float, float]]],
    histories: dict[str, AlarmHistory],
    clock: Clock,
    catalog: AlarmCatalog,
    namespace: str,
    source: str,
    records: list[logs_insights.Record],
) -> DashboardPreview:
    dashboard = resolve_dashboard(load_dashboard(path), catalog, namespace)
    widgets = dashboard.body["widgets"]
    rows = max(widget["y"] + widget["height"] for widget in widgets)
    canvas = Canvas(GRID_COLUMNS * COLUMN_PX + 2 * MARGIN_PX, HEADER_PX + rows * ROW_PX + MARGIN_PX)
    _draw_header(canvas, path, clock, source)
    panels = []
    for widget in widgets:
        properties = widget["properties"]
        box = Box(
            MARGIN_PX + widget["x"] * COLUMN_PX,
            HEADER_PX + widget["y"] * ROW_PX,
            widget["width"] * COLUMN_PX,
            widget["height"] * ROW_PX,
        ).inset(GAP_PX, GAP_PX, GAP_PX, GAP_PX)
        frame = canvas.frame(box)
        if properties.get("title"):
            canvas.text(box.left + 10, box.top + 14, properties["title"], clip=frame, fontsize=10, fontweight="bold")
        if widget["type"] == "metric":
            data = WidgetData(metric_lines(properties), series, clock, dashboard.deploy_time_values)
            panels.append(_draw_metric(canvas, frame, box, properties, data.visible(), clock))
        elif widget["type"] == "alarm":
            panels.append(_draw_alarms(canvas, frame, box, properties, dashboard.alarm_names, histories, clock))
        elif widget["type"] == "text":
            panels.append(_draw_text(canvas, frame, box, properties))
        else:
            panels.append(_draw_log(canvas, frame, box, properties, records))
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{path.stem}.png"
    canvas.save(png)
    return DashboardPreview(path.stem, png, canvas.width_px, canvas.height_px, panels)


def _draw_header(canvas: Canvas, path: Path, clock: Clock, source: str) -> None:
    canvas.text(MARGIN_PX, HEADER_PX * 0.32, path.stem, fontsize=16, fontweight="bold")
    if clock.end > clock.start:
        shown = f"{clock.shown(clock.start):%Y-%m-%d %H:%M} to {clock.shown(clock.end):%H:%M} UTC"
        span = f"capture of {clock.end - clock.start:.0f} s" + (
            f", time compressed {clock.time_scale:g}× (1 s of log = {clock.time_scale:g} s shown)"
            if clock.time_scale != 1
            else ""
        )
    else:
        shown, span = "no EMF datapoints", "nothing captured"
    canvas.text(
        MARGIN_PX,
        HEADER_PX * 0.75,
        f"Preview of dashboards/{path.name} from {source} · {shown} · {span} · placeholders filled with sample values",
        fontsize=9,
        color=FAINT,
    )


def _draw_metric(
    canvas: Canvas, frame: Rectangle, box: Box, properties: dict[str, Any], results: list[Result], clock: Clock
) -> Panel:
    title = properties.get("title", "")
    drawn = [series for result in results if not isinstance(result, NotDrawn) for series in result]
    not_drawn = [result for result in results if isinstance(result, NotDrawn)]
    notes = [f"{result.label}: {result.reason}" for result in not_drawn]
    if not drawn and not_drawn and all(result.reason == AWS_NO_DATA for result in not_drawn):
        return _draw_no_local_data(canvas, frame, box, title, not_drawn)
    view = properties.get("view", "timeSeries")
    if view == "singleValue":
        return _draw_single_values(canvas, frame, box, title, drawn, notes, properties.get("sparkline", False))
    if view == "bar":
        return _draw_bars(canvas, frame, box, title, drawn, notes)
    if view != "timeSeries":
        notes.append(f"{view} view drawn as a time series")
    return _draw_time_series(
        canvas, frame, box, title, drawn, notes, clock, properties.get("yAxis", {}).get("left", {})
    )


def _draw_no_local_data(canvas: Canvas, frame: Rectangle, box: Box, title: str, not_drawn: list[NotDrawn]) -> Panel:
    middle_x, middle_y = box.left + box.width / 2, box.top + 14 + box.height / 2
    canvas.text(
        middle_x, middle_y - 10, AWS_NO_DATA, clip=frame, ha="center", fontsize=10, color=FAINT, fontstyle="italic"
    )
    listed = ", ".join(dict.fromkeys(result.label for result in not_drawn))
    canvas.text(
        middle_x,
        middle_y + 6,
        textwrap.fill(f"({listed})", _characters_per_line(box.width, 8)),
        clip=frame,
        ha="center",
        va="top",
        fontsize=8,
        color=FAINT,
    )
    return Panel("no-local-data", title, notes=[f"{result.label}: {result.reason}" for result in not_drawn])


def _draw_time_series(
    canvas: Canvas,
    frame: Rectangle,
    box: Box,
    title: str,
    drawn: list[Series],
    notes: list[str],
    clock: Clock,
    left_axis: dict[str, Any],
) -> Panel:
    entries = [(series, _points(series)) for series in drawn]
    labels = [series.label for series in drawn]
    legend = legend_layout(labels, box.width - 28, box.height * 0.4)
    legend_px = legend.height_px + 6 if labels else 0
    notes_px = NOTE_PX * len(notes)
    axes = canvas.axes(box.inset(left=52, top=32, right=14, bottom=24 + legend_px + notes_px))
    colors = _palette(len(entries))
    for (_, points), color in zip(entries, colors, strict=True):
        axes.plot(
            [time for time, _ in points],
            [value for _, value in points],
            color=color,
            linewidth=1.5,
            marker="o" if len(points) <= 3 else None,
            markersize=3,
        )
    if clock.end > clock.start:
        # The capture's window, widened to a period that starts before it; a little room so edge points show.
        times = [clock.shown(clock.start), clock.shown(clock.end)]
        times += [time for _, points in entries for time, _ in points]
        room = (max(times) - min(times)) * 0.015
        axes.set_xlim(min(times) - room, max(times) + room)
    values = [value for _, points in entries for _, value in points]
    _style_time_axes(axes, box.width, whole_numbers=all(value.is_integer() for value in values))
    if not values:
        axes.text(
            0.5,
            0.5,
            "no datapoints",
            transform=axes.transAxes,
            ha="center",
            va="center",
            color=FAINT,
            fontsize=9,
            fontstyle="italic",
        )
        axes.set_ylim(0, 1)
    elif "min" in left_axis or "max" in left_axis:
        axes.set_ylim(left_axis.get("min"), left_axis.get("max"))
    elif min(values) >= 0:
        axes.set_ylim(bottom=0)  # counts, rates and latencies read best from zero
    if labels:
        canvas.legend(box.left + 14, box.bottom - legend_px - notes_px, colors, labels, legend)
    _draw_notes(canvas, frame, box, notes)
    return Panel("timeSeries", title, {series.label: points for series, points in entries}, notes)


def _draw_single_values(
    canvas: Canvas, frame: Rectangle, box: Box, title: str, drawn: list[Series], notes: list[str], sparkline: bool
) -> Panel:
    lines = {series.label: _points(series) for series in drawn}
    width = (box.width - 20) / max(len(lines), 1)
    color = _palette(1)[0]
    for index, (label, points) in enumerate(lines.items()):
        cell = Box(box.left + 10 + index * width, box.top + 30, width, box.height - 36 - NOTE_PX * len(notes))
        canvas.text(
            cell.left + 6,
            cell.top + cell.height * 0.28,
            _compact(points[-1][1]) if points else "–",
            clip=frame,
            fontsize=30,
            color=color,
        )
        canvas.text(cell.left + 6, cell.top + cell.height * 0.55, label, clip=frame, fontsize=9, color=FAINT)
        if sparkline and len(points) > 1:
            spark = canvas.axes(cell.inset(left=6, top=cell.height * 0.66, right=6, bottom=4))
            spark.plot([time for time, _ in points], [value for _, value in points], color=color, linewidth=1)
            spark.set_axis_off()
            spark.xaxis.set_major_locator(ticker.NullLocator())
    _draw_notes(canvas, frame, box, notes)
    return Panel("singleValue", title, lines, notes)


def _draw_bars(canvas: Canvas, frame: Rectangle, box: Box, title: str, drawn: list[Series], notes: list[str]) -> Panel:
    """CloudWatch's bar view: one bar per metric, its latest datapoint."""
    lines = {series.label: _points(series)[-1:] for series in drawn}
    latest = {label: points[0][1] if points else 0.0 for label, points in lines.items()}
    notes = ["each bar: the latest period's value", *notes]
    label_px = _text_width_px(max((len(label) for label in latest), default=4), 8) + 16
    axes = canvas.axes(box.inset(left=label_px, top=34, right=40, bottom=24 + NOTE_PX * len(notes)))
    labels = list(latest)[::-1]  # first metric on top, as in the widget
    bars = axes.barh(labels, [latest[label] for label in labels], color=_palette(len(labels))[::-1], height=0.6)
    axes.bar_label(bars, labels=[_compact(latest[label]) for label in labels], padding=4, fontsize=8, color=INK)
    axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: _compact(value)))
    axes.tick_params(labelsize=8, colors=FAINT, length=0)
    axes.grid(axis="x", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    for spine in axes.spines.values():
        spine.set_visible(False)
    _draw_notes(canvas, frame, box, notes)
    return Panel("bar", title, lines, notes)


def _draw_notes(canvas: Canvas, frame: Rectangle, box: Box, notes: list[str]) -> None:
    for index, note in enumerate(notes):
        canvas.text(
            box.left + 14,
            box.bottom - NOTE_PX * (len(notes) - index - 0.5) - 2,
            note,
            clip=frame,
            fontsize=7.5,
            color=FAINT,
            fontstyle="italic",
        )


def _draw_alarms(
    canvas: Canvas,
    frame: Rectangle,
    box: Box,
    properties: dict[str, Any],
    alarm_names: dict[str, str],
    histories: dict[str, AlarmHistory],
    clock: Clock,
) -> Panel:
    names = [alarm_names.get(arn, arn.rsplit(":", 1)[-1]) for arn in properties["alarms"]]
    area = box.inset(left=10, top=30, right=10, bottom=22)
    row_px = area.height / len(names)
    strip = Box(area.left + area.width * 0.6, 0, area.width * 0.4, 0)
    states = {}
    for index, name in enumerate(names):
        history = histories.get(name)
        state = history.state if history else INSUFFICIENT_DATA
        states[name] = state
        top, middle = area.top + index * row_px, area.top + (index + 0.5) * row_px
        canvas.rectangle(Box(area.left, top + row_px * 0.12, 108, row_px * 0.76), STATE_COLORS[state])
        canvas.text(area.left + 54, middle, state, ha="center", fontsize=6, color="white", fontweight="bold")
        canvas.text(area.left + 116, middle, name, clip=frame, fontsize=8)
        if history is None or not history.replayed:
            why = AWS_NO_DATA if history else "not an alarm in alarms/"
            canvas.text(strip.left, middle, why, clip=frame, fontsize=7, color=FAINT, fontstyle="italic")
        elif clock.end > clock.start:
            _draw_state_strip(canvas, history, clock, Box(strip.left, top + row_px * 0.25, strip.width, row_px / 2))
    if clock.end > clock.start:
        caption_y = area.bottom + 11
        canvas.text(strip.left, caption_y, f"{clock.shown(clock.start):%H:%M}", fontsize=7, color=FAINT)
        canvas.text(
            strip.left + strip.width / 2, caption_y, "state over the capture", ha="center", fontsize=7, color=FAINT
        )
        canvas.text(area.right, caption_y, f"{clock.shown(clock.end):%H:%M}", ha="right", fontsize=7, color=FAINT)
    return Panel("alarm", properties.get("title", ""), alarm_states=states)


def _draw_state_strip(canvas: Canvas, history: AlarmHistory, clock: Clock, strip: Box) -> None:
    moments = [clock.start] + [max(at, clock.start) for at, _ in history.changes] + [clock.end]
    states = [INSUFFICIENT_DATA] + [state for _, state in history.changes]
    span = clock.end - clock.start
    for state, changed_at, next_change_at in zip(states, moments, moments[1:], strict=False):
        begin, end = min(changed_at, clock.end), min(next_change_at, clock.end)
        if end > begin:
            canvas.rectangle(
                Box(
                    strip.left + strip.width * (begin - clock.start) / span,
                    strip.top,
                    strip.width * (end - begin) / span,
                    strip.height,
                ),
                STATE_COLORS[state],
            )


def _draw_text(canvas: Canvas, frame: Rectangle, box: Box, properties: dict[str, Any]) -> Panel:
    lines = markdown_lines(properties["markdown"], _characters_per_line(box.width - 20, 9))
    _write_lines(canvas, frame, box, lines, top_px=14, style={"fontsize": 9}, heading_size=13)
    return Panel("text", "", text_lines=lines)


def _draw_log(
    canvas: Canvas, frame: Rectangle, box: Box, properties: dict[str, Any], records: list[logs_insights.Record]
) -> Panel:
    """The widget's query run over the capture (its SOURCE clauses name log groups; locally every line is in
    all of them), as a table: the header, then the rows that fit, each cell cut to its column."""
    title = properties.get("title", "")
    try:
        result = logs_insights.run(_LOG_SOURCES.sub("", properties["query"], count=1), records)
    except logs_insights.QueryError as error:
        note = f"Logs Insights query not run locally: {error}"
        _draw_notes(canvas, frame, box, [note])
        return Panel("log", title, notes=[note])
    rows = result.cells()
    area = box.inset(left=10, top=30, right=10, bottom=NOTE_PX + 6)
    row_px = LOG_FONT * 1.9
    shown = rows[: max(0, int(area.height // row_px) - 1)]
    widths = _column_widths(result.columns, shown, _characters_per_line(area.width, LOG_FONT, monospace=True))
    for index, (cells, bold) in enumerate([(result.columns, True), *((row, False) for row in shown)]):
        offset = 0
        for text, width in zip(cells, widths, strict=True):
            cut = text if len(text) <= width else text[: max(width - 1, 0)] + "…"
            canvas.text(
                area.left + _text_width_px(offset, LOG_FONT, monospace=True),
                area.top + (index + 0.5) * row_px,
                cut,
                clip=frame,
                fontsize=LOG_FONT,
                family="monospace",
                fontweight="bold" if bold else "normal",
                color=INK if bold or text else FAINT,
            )
            offset += width + LOG_GAP_CHARS
    note = (
        f"{len(rows)} rows of its Logs Insights query, run over the capture"
        + (f" ({len(shown)} shown)" if len(shown) < len(rows) else "")
        if rows
        else "no rows: nothing in the capture matches its Logs Insights query"
    )
    _draw_notes(canvas, frame, box, [note])
    return Panel("log", title, notes=[note], columns=result.columns, rows=rows)


def _column_widths(columns: list[str], rows: list[list[str]], characters: int) -> list[int]:
    """Each column as wide as its longest cell (at most LOG_MAX_COLUMN_CHARS), the widest narrowed first until
    the row fits the panel."""
    widths = [
        min(max(len(cell) for cell in [column, *(row[index] for row in rows)]), LOG_MAX_COLUMN_CHARS)
        for index, column in enumerate(columns)
    ]
    room = characters - LOG_GAP_CHARS * (len(columns) - 1)
    while sum(widths) > room and max(widths) > LOG_MIN_COLUMN_CHARS:
        widths[widths.index(max(widths))] -= 1
    return widths


def _write_lines(
    canvas: Canvas,
    frame: Rectangle,
    box: Box,
    lines: list[tuple[str, bool]],
    top_px: float,
    style: dict[str, Any],
    heading_size: float | None = None,
) -> None:
    y = box.top + top_px
    for text, bold in lines:
        size = heading_size if bold and heading_size else style["fontsize"]
        y += size * 1.55
        canvas.text(
            box.left + 10,
            y,
            text,
            clip=frame,
            va="baseline",
            **(style | {"fontsize": size, "fontweight": "bold" if bold else "normal"}),
        )


def markdown_lines(markdown: str, width: int) -> list[tuple[str, bool]]:
    """Markdown as plain lines, wrapped to `width` characters: (text, is a heading)."""
    lines = []
    for raw in markdown.splitlines():
        heading = raw.lstrip().startswith("#")
        text = _MARKDOWN_EMPHASIS.sub("", _MARKDOWN_LINK.sub(r"\1", raw.lstrip("# ").rstrip()))
        lines += [(wrapped, heading) for wrapped in textwrap.wrap(text, width) or [""]]
    return lines


def _points(series: Series) -> list[tuple[datetime, float]]:
    return [(datetime.fromtimestamp(start, UTC), value) for start, value in series.values.items()]


def _style_time_axes(axes: Axes, width_px: float, whole_numbers: bool) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=max(5, int(width_px // 90)))
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC, show_offset=False))
    axes.yaxis.set_major_locator(ticker.MaxNLocator(nbins=4, integer=whole_numbers))
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: _compact(value)))
    axes.tick_params(labelsize=8, colors=FAINT, length=0, pad=4)
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    for name, spine in axes.spines.items():
        spine.set_visible(name == "bottom")
        spine.set_color(BORDER)


def _palette(count: int) -> list[str]:
    # CloudWatch's own colour order is category10.
    category10 = [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
        "#bcbd22",
        "#17becf",
    ]
    light = [
        "#aec7e8",
        "#ffbb78",
        "#98df8a",
        "#ff9896",
        "#c5b0d5",
        "#c49c94",
        "#f7b6d2",
        "#c7c7c7",
        "#dbdb8d",
        "#9edae5",
    ]
    colors = category10 + light  # past ten lines, the light shades of the same ten
    return [colors[index % len(colors)] for index in range(count)]


def _text_width_px(characters: int, font_size: float, monospace: bool = False) -> float:
    # Font sizes are in points (1/72 inch); an average DejaVu character is about 0.55 em wide, 0.6 in mono.
    return characters * font_size * DPI / 72 * (0.6 if monospace else 0.55)


@dataclass(frozen=True)
class LegendLayout:
    columns: int
    rows: int
    font_size: float
    shown: int  # entries listed; the rest are counted in a last "+ N more" entry

    @property
    def height_px(self) -> float:
        return self.rows * self.font_size * 1.75


def legend_layout(labels: list[str], width_px: float, max_height_px: float) -> LegendLayout:
    """As many columns as the longest label allows; a smaller font, then "+ N more", rather than a legend that
    runs past its panel (CloudWatch scrolls its legend instead)."""
    longest = max((len(label) for label in labels), default=0)
    for font_size in (8, 7):
        columns = max(1, min(len(labels), int(width_px // (_text_width_px(longest, font_size) + 34))))
        layout = LegendLayout(columns, math.ceil(len(labels) / columns), font_size, len(labels))
        if layout.height_px <= max_height_px:
            return layout
    rows = max(1, int(max_height_px // (font_size * 1.75)))
    return LegendLayout(columns, rows, font_size, rows * columns - 1)


def _characters_per_line(width_px: float, font_size: float, monospace: bool = False) -> int:
    return max(10, int(width_px / _text_width_px(1, font_size, monospace)))


def _compact(value: float) -> str:
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


# ---- the whole run --------------------------------------------------------------------------------------------


def render_all(
    lines: list[str],
    out_dir: Path,
    *,
    time_scale: float = 1.0,
    namespace: str = METRICS_NAMESPACE,
    source: str = "EMF",
    paths: Iterable[Path] | None = None,
) -> list[DashboardPreview]:
    series = with_application_signals(datapoints_from_emf(lines), namespace, time_scale)
    times = [timestamp for points in series.values() for timestamp, _ in points]
    clock = Clock(min(times, default=0.0), max(times, default=0.0), time_scale)
    catalog = load_alarms()
    histories = alarm_histories(catalog, lines, namespace, time_scale)
    records = logs_insights.read_lines(lines)
    for record in records if clock.end > clock.start else ():  # on the dashboard's clock, as the metric panels
        if record["@timestamp"] is not None:
            record["@timestamp"] = clock.shown(record["@timestamp"].timestamp())
    return [
        render_dashboard(path, out_dir, series, histories, clock, catalog, namespace, source, records)
        for path in (dashboard_files() if paths is None else paths)
    ]


def capture_emf(seconds: float, time_scale: float, log: Callable[[str], None]) -> list[str]:
    """Runs the local stack (local_stack/scratch_stack.py, with the AWS stand-ins) for `seconds` under users on both
    doors (creates, reads, changes, deletes, and a share of 4xx) and the readiness schedule, through a sequence of real
    faults (local_stack/faults.py: the ones `make alarms-proof` proves the alarms with, shorter), so that every panel
    has something to draw: crashed Lambda environments, a surge past the function's concurrency, a held lock, a
    flood past the web ACL's rate limit, the Flask door's processes killed, and PostgreSQL down for the middle sixth.
    Returns what the stack printed (EMF among the log lines). The function runs with 4 environments at most (a stack
    deployed with ApiReservedConcurrency=4), so that a surge of a few clients is throttled."""
    # The app's packages only here: rendering needs none of them.
    from local_stack import faults
    from local_stack.functions import FailingMigration, SigningKeysOutage
    from local_stack.scratch_stack import scratch_stack

    minute_s = 60 / time_scale
    # Several flushes per (compressed) minute, as on a busy host.
    env = {"METRICS_FLUSH_INTERVAL_S": str(max(minute_s / 4, 0.25)), "LAMBDA_CONCURRENCY": "4"}
    with scratch_stack(env, log, prefix="dashboard-preview-", time_scale=time_scale) as stack:
        tokens = {role: stack.token(role) for role in ("registrar", "admin")}
        # People, not a benchmark: a think time between requests, so that none of them trips the web ACL's rate limit
        # (a client that retries a refusal at once would stay blocked); the flood is the one that does.
        users = faults.Load(
            stack.door_urls,
            faults.Mix(tokens, busy=True),
            workers=6,
            pause_s=0.2,
            think=random.Random("dashboard-preview"),
        )
        # The other functions, as AWS runs them: the migrations at each deployment, the signing keys on schedule.
        deployment, signing_keys = FailingMigration(stack), SigningKeysOutage(stack)
        step = seconds / 12
        # Past the web ACL's limit (1,500 requests in 5 minutes of alarm time: 5 a second) by 40 %, for longer than
        # the rule's window, so that its address is blocked whatever rate loopback allows.
        flood = faults.Flood(stack, per_second=7 * time_scale)
        # Each fault with how long it lasts, then as long again of calm; PostgreSQL's outage in the middle.
        before = [(faults.LambdaCrashes(stack, every_s=0.5), step / 2), (faults.Surge(stack, clients=8), step / 2)]
        after = [(faults.HeldLock(stack), step / 2), (flood, step), (faults.FlaskDoorDown(stack), step / 2)]
        log(
            f"users on both doors for {seconds:g} s, through {', '.join(f.name for f, _ in before + after)}, and"
            " PostgreSQL down for the middle sixth"
        )
        try:
            with users, faults.readiness_schedule(stack, time_scale):
                time.sleep(step)  # the capture's own schedule: calm first
                for fault, lasting in before:
                    with fault:
                        time.sleep(lasting)
                    time.sleep(step / 2)
                with faults.DatabaseDown(stack):
                    time.sleep(2 * step)
                time.sleep(step)
                for fault, lasting in after:
                    with fault:
                        time.sleep(lasting)
                    time.sleep(step / 2)
                time.sleep(max(seconds - 10 * step, 0))
        finally:
            deployment.close()
            signing_keys.close()
        return stack.stop()


def _log(message: str) -> None:
    print(f"[dashboard-preview] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "emf_logs",
        type=Path,
        nargs="*",
        metavar="EMF_LOG",
        help="files holding the app's stdout (EMF lines among others)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNGs (docs/images)")
    parser.add_argument(
        "--time-scale",
        type=float,
        help=f"compress time as the alarm replay does (default 1, or {CAPTURE_TIME_SCALE:g} with"
        " --capture: each one-minute period lasts one second)",
    )
    parser.add_argument("--namespace", default=METRICS_NAMESPACE)
    parser.add_argument(
        "--capture",
        type=float,
        metavar="SECONDS",
        help="run the local stack under load for SECONDS (a database stop included) and render that",
    )
    parser.add_argument("--save-capture", type=Path, metavar="FILE", help="with --capture: keep the captured lines")
    args = parser.parse_args(argv)
    if bool(args.emf_logs) == bool(args.capture):
        parser.error("give EMF log files, or --capture SECONDS")
    if args.save_capture and not args.capture:
        parser.error("--save-capture goes with --capture")
    missing = [str(path) for path in args.emf_logs if not path.is_file()]
    if missing:
        parser.error(f"not a file: {', '.join(missing)}")
    time_scale = args.time_scale or (CAPTURE_TIME_SCALE if args.capture else 1.0)
    if args.capture:
        lines = capture_emf(args.capture, time_scale, _log)
        source = f"a {args.capture:g} s local capture"
        if args.save_capture:
            args.save_capture.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        lines = [
            line for path in args.emf_logs for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        ]
        source = ", ".join(path.name for path in args.emf_logs)
    for preview in render_all(lines, args.out, time_scale=time_scale, namespace=args.namespace, source=source):
        kinds = Counter(panel.kind for panel in preview.panels)
        print(
            f"{preview.png}  {preview.width_px}x{preview.height_px}  {len(preview.panels)} panels "
            f"({', '.join(f'{count} {kind}' for kind, count in sorted(kinds.items()))})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
