"""Dashboard preview: the real dashboard bodies drawn from EMF written by the app's own recorder, and the log
widget's query run over log lines written by the app's own logger."""

import contextlib
import io
import json
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from infra import dashboards
from infra.alarm_replay import ALARM, INSUFFICIENT_DATA, OK
from infra.dashboard_preview import (
    AWS_NO_DATA,
    COLUMN_PX,
    HEADER_PX,
    MARGIN_PX,
    ROW_PX,
    DashboardPreview,
    Panel,
    legend_layout,
    main,
    markdown_lines,
    render_all,
)
from observability.catalog import (
    CLIENT_ERRORS,
    COLD_STARTS,
    DB_CONNECTION_ERRORS,
    DB_QUERY_LATENCY,
    ENROLLMENTS_CREATED,
    ENROLLMENTS_DROPPED,
    GRADES_RECORDED,
    READINESS_FAILURES,
    REQUESTS,
    SERVER_ERRORS,
    STUDENTS_CREATED,
    STUDENTS_TOTAL,
    Dimension,
)
from observability.context import current_request
from observability.emf import MetricsRecorder
from rest_contract.problems import problem_for_exception
from student_records.errors import DatabaseUnavailable
from tests.infra.aws_timeline import AwsTimeline

T0 = 1_795_000_020  # a minute boundary (seconds)
MINUTES = 12
CONNECTION_ERROR_MINUTES = (9, 10, 11)  # the last three: db-connection-errors ends in ALARM
METRIC_PANEL_KINDS = {"timeSeries", "singleValue", "bar", "no-local-data"}


def _emf_lines() -> list[str]:
    """Twelve minutes of both doors' EMF, one flush per minute at second 10: steady traffic, a few 4xx, and in the
    last three minutes database connection errors with 5xx on the Flask door."""
    lines = []
    for minute in range(MINUTES):
        written: list[str] = []
        recorder = MetricsRecorder("StudentRecords", written.append)
        failing = minute in CONNECTION_ERROR_MINUTES
        for door, requests in (("lambda", 10), ("flask", 20)):
            route = {Dimension.FRONT_DOOR: door, Dimension.ROUTE: "/students"}
            for number in range(requests):
                recorder.put(REQUESTS, 1, route)
                recorder.put(SERVER_ERRORS, 1 if failing and door == "flask" and number < 5 else 0, route)
                recorder.put(CLIENT_ERRORS, 1 if number == 0 else 0, route)
        for query, latency in (("students.get", 4.0), ("students.list", 9.0)):
            recorder.put(DB_QUERY_LATENCY, latency + minute, {Dimension.QUERY_NAME: query})
        if failing:
            recorder.put(DB_CONNECTION_ERRORS, 3)
        recorder.put(READINESS_FAILURES, 0)
        recorder.put(STUDENTS_TOTAL, 100 + minute)
        recorder.put(STUDENTS_CREATED, 2)
        if minute == 0:
            # The deployed function name is a placeholder in the dashboard; locally it is the local door's.
            recorder.put(COLD_STARTS, 1, {Dimension.FUNCTION_NAME: "student-records-api"})
        recorder.flush()
        for line in written:
            document = json.loads(line)
            document["_aws"]["Timestamp"] = (T0 + minute * 60 + 10) * 1000
            lines.append(json.dumps(document))
    return lines


ERROR_MINUTES = (9, 10)  # a 5xx in each, logged at ERROR


def _error_lines() -> list[str]:
    """The ERROR line the app writes for a 5xx (its exception's types, the request's correlation id), one in each
    of ERROR_MINUTES, at second 30."""
    lines = []
    for minute in ERROR_MINUTES:
        written = io.StringIO()
        # As while a request is served: its observation is what the log lines read their correlation id from.
        token = current_request.set(SimpleNamespace(correlation_id=f"preview-request-{minute}"))
        try:
            with contextlib.redirect_stdout(written):
                assert problem_for_exception(DatabaseUnavailable("no database connection")).status == 503
        finally:
            current_request.reset(token)
        [line] = written.getvalue().splitlines()
        document = json.loads(line)
        document["timestamp"] = _logged_time(_minute(minute).timestamp() + 30)
        lines.append(json.dumps(document))
    return lines


def _logged_time(seconds: float) -> str:
    """As Powertools writes `timestamp`: 2026-11-18 12:34:56,789+0000."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3] + "+0000"


def _minute(minute: int) -> datetime:
    return datetime.fromtimestamp(T0 + minute * 60, UTC)


def _body(name: str) -> dict:
    return dashboards.with_sample_values(dashboards.load_dashboard(dashboards.DASHBOARDS_DIR / f"{name}.json"))


def _panel(preview: DashboardPreview, title: str) -> Panel:
    return next(panel for panel in preview.panels if panel.title == title)


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@pytest.fixture(scope="module")
def previews(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DashboardPreview]:
    out = tmp_path_factory.mktemp("previews")
    lines = _emf_lines() + _error_lines()
    return {preview.name: preview for preview in render_all(lines, out, source="a test timeline")}


def test_a_png_per_dashboard_with_a_panel_per_widget(previews):
    # Given every committed dashboard body, When rendered from the timeline
    for path in dashboards.dashboard_files():
        preview = previews[path.stem]
        widgets = _body(path.stem)["widgets"]
        # Then each has its PNG, and one panel per widget, of the widget's kind, in order
        assert preview.png.is_file()
        assert len(preview.panels) == len(widgets)
        for widget, panel in zip(widgets, preview.panels, strict=True):
            expected = METRIC_PANEL_KINDS if widget["type"] == "metric" else {widget["type"]}
            assert panel.kind in expected, (widget["properties"].get("title"), panel.kind)


def test_image_dimensions_follow_the_grid(previews):
    for name, preview in previews.items():
        # Given the grid rows the widgets use
        rows = max(widget["y"] + widget["height"] for widget in _body(name)["widgets"])
        # Then the image is 24 columns wide and as tall as those rows, under the header
        assert _png_size(preview.png) == (preview.width_px, preview.height_px)
        assert preview.width_px == dashboards.GRID_COLUMNS * COLUMN_PX + 2 * MARGIN_PX
        assert preview.height_px == HEADER_PX + rows * ROW_PX + MARGIN_PX


def test_app_metric_panels_plot_a_line_per_metric_with_the_widget_statistic(previews):
    # When the requests panel is drawn (Sum per minute, by front door)
    panel = _panel(previews["service-overview"], "Requests by front door (per minute)")
    # Then each door's line has one point per minute, the sum of that minute's requests
    assert panel.kind == "timeSeries"
    assert panel.lines["lambda door"] == [(_minute(minute), 10.0) for minute in range(MINUTES)]
    assert panel.lines["flask door"] == [(_minute(minute), 20.0) for minute in range(MINUTES)]
    # And API Gateway's own metric is named as having no local data, not drawn
    assert "API Gateway" not in panel.lines
    assert f"API Gateway: {AWS_NO_DATA}" in panel.notes


def test_percentiles_per_period(previews):
    panel = _panel(previews["service-overview"], "DB query latency p99 by query (ms)")
    # Then the search draws every emitted series of the schema, labelled by its dimension value,
    assert set(panel.lines) == {"students.get", "students.list", "all queries"}
    assert panel.lines["students.list"][3] == (_minute(3), 12.0)
    # and the plain metric (no dimensions) takes p99 over both queries' values of each minute
    assert panel.lines["all queries"][3] == (_minute(3), 12.0)


def test_metric_math_over_ids(previews):
    panel = _panel(previews["service-overview"], "5xx rate by front door (%)")
    # Then 100 * errors / requests is computed per minute: 5 of 20 Flask requests failed in the last minutes
    flask = dict(panel.lines["flask door 5xx %"])
    assert flask[_minute(8)] == 0.0
    assert flask[_minute(9)] == 25.0
    assert set(dict(panel.lines["lambda door 5xx %"]).values()) == {0.0}
    # And the expression over API Gateway's metric is left undrawn, with the note
    assert f"API Gateway 5xx %: {AWS_NO_DATA}" in panel.notes


def test_deploy_time_dimension_values_match_the_local_ones(previews):
    panel = _panel(previews["service-overview"], "Invocations and cold starts")
    assert panel.lines["cold starts"] == [(_minute(0), 1.0)]
    assert f"invocations: {AWS_NO_DATA}" in panel.notes


def test_aws_metric_panels_carry_the_no_local_data_note(previews):
    # Given the widgets whose metrics are all in AWS namespaces the timeline has nothing of (Application Signals' are
    # computed from the doors' own)
    body = _body("service-overview")
    aws_only = [
        widget["properties"]["title"]
        for widget in body["widgets"]
        if widget["type"] == "metric"
        and all(
            isinstance(row[0], str) and row[0].startswith("AWS/") and row[0] != "AWS/ApplicationSignals"
            for row in widget["properties"]["metrics"]
        )
    ]
    assert "RDS CPU (%)" in aws_only
    # Then each is drawn with its title and the note, and no line
    for title in aws_only:
        panel = _panel(previews["service-overview"], title)
        assert panel.kind == "no-local-data"
        assert panel.lines == {}
        assert all(note.endswith(AWS_NO_DATA) for note in panel.notes) and panel.notes


@pytest.fixture(scope="module")
def previews_with_aws_metrics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DashboardPreview]:
    """The same timeline, with the metrics the local stack's API Gateway and Lambda stand-ins write beside it: ten
    requests and invocations a minute, one invocation failing in each of the connection errors' minutes."""
    timeline = AwsTimeline(T0)
    for minute in range(MINUTES):
        timeline.requests(minute, 10)
        timeline.invocations(minute, 10, failed=1 if minute in CONNECTION_ERROR_MINUTES else 0)
    out = tmp_path_factory.mktemp("previews-with-aws-metrics")
    return {
        preview.name: preview for preview in render_all(_emf_lines() + timeline.lines, out, source="a test timeline")
    }


def test_api_gateway_and_lambda_panels_are_drawn_from_the_local_stacks_aws_metrics(previews_with_aws_metrics):
    overview = previews_with_aws_metrics["service-overview"]
    # Then API Gateway's Count is drawn beside the doors' own requests, per minute
    requests = _panel(overview, "Requests by front door (per minute)")
    assert requests.lines["API Gateway"] == [(_minute(minute), 10.0) for minute in range(MINUTES)]
    # And its latency percentiles, and its 5xx rate as metric math over its Average
    latency = _panel(overview, "API Gateway latency (ms)")
    assert latency.kind == "timeSeries" and set(latency.lines) == {"latency p99", "integration p99", "latency p50"}
    assert set(dict(_panel(overview, "5xx rate by front door (%)").lines["API Gateway 5xx %"]).values()) == {0.0}
    # And Lambda's invocations, errors, duration and concurrency of the API function
    assert _panel(overview, "Invocations and cold starts").lines["invocations"] == [
        (_minute(minute), 10.0) for minute in range(MINUTES)
    ]
    errors = _panel(overview, "Lambda errors and throttles")
    assert [value for _, value in errors.lines["errors"]] == [
        1.0 if minute in CONNECTION_ERROR_MINUTES else 0.0 for minute in range(MINUTES)
    ]
    assert set(_panel(overview, "Lambda duration (ms; timeout 10 000)").lines) == {"p50", "p90", "p99"}
    assert {value for _, value in _panel(overview, "Lambda concurrency").lines["concurrent executions"]} == {1.0}
    # And what nothing local produces still says so: no throttle, no other function's invocation
    assert {note for note in errors.notes if note.endswith(AWS_NO_DATA)} == {
        f"throttles: {AWS_NO_DATA}",
        f"migrations errors: {AWS_NO_DATA}",
        f"signing keys errors: {AWS_NO_DATA}",
    }


def test_alarm_panel_shows_replayed_states(previews):
    states = _panel(previews["service-overview"], "Alarms").alarm_states
    # Then every alarm of the widget is listed under its name (the ARN placeholder resolved)
    assert len(states) == len(dashboards.alarm_arns(_body("service-overview")))
    # And the app's alarms show where the replay ended: connection errors in 3 of the last 5 minutes
    assert states["db-connection-errors"] == ALARM
    assert states["on-call-page"] == ALARM
    assert states["readiness-failures"] == OK
    # And the alarms on AWS metrics, which nothing local can evaluate, show no data
    assert states["db-cpu-high"] == INSUFFICIENT_DATA


def test_single_value_and_bar_views_show_the_latest_period(previews):
    business = previews["business"]
    total = _panel(business, "Students (total)")
    assert total.kind == "singleValue"
    assert total.lines["students"][-1][1] == 100 + MINUTES - 1
    bars = _panel(business, "Created, updated, deleted (per hour)")
    assert bars.kind == "bar"
    # The hour holding the whole timeline: 2 created per minute
    assert bars.lines["created"][0][1] == 2.0 * MINUTES


def test_text_widgets(previews):
    text = previews["business"].panels[0]
    assert text.kind == "text"
    assert text.text_lines[0] == ("Student records: business", True)


def test_a_log_widget_is_a_table_of_its_query_run_over_the_capture(previews):
    # Given the timeline's two ERROR lines; When "Recent errors" is drawn
    log = _panel(previews["service-overview"], "Recent errors (both doors), newest first")
    # Then it holds its query's rows: the columns of its fields, newest first, each error's request and exception
    assert log.kind == "log"
    assert log.columns == [
        "@timestamp",
        "level",
        "name",
        "message",
        "exception_type",
        "correlation_id",
        "xray_trace_id",
    ]
    assert [row[5] for row in log.rows] == [f"preview-request-{minute}" for minute in reversed(ERROR_MINUTES)]
    assert [row[0] for row in log.rows] == [
        (_minute(minute) + timedelta(seconds=30)).strftime("%Y-%m-%d %H:%M:%S.000")
        for minute in reversed(ERROR_MINUTES)
    ]
    assert {(row[1], row[3], row[4]) for row in log.rows} == {
        ("ERROR", "request failed", "student_records.errors.DatabaseUnavailable")
    }
    assert log.notes == ["2 rows of its Logs Insights query, run over the capture"]


def test_a_log_widgets_times_are_on_the_dashboards_compressed_clock(tmp_path):
    # Given the timeline drawn with time compressed 60 times (the first EMF flush, at second 10, starts the clock)
    [preview] = render_all(
        _emf_lines() + _error_lines(),
        tmp_path,
        time_scale=60,
        paths=[dashboards.DASHBOARDS_DIR / "service-overview.json"],
    )
    log = _panel(preview, "Recent errors (both doors), newest first")
    # Then each error's time is where the metric panels draw that moment
    start = T0 + 10
    assert [row[0] for row in log.rows] == [
        datetime.fromtimestamp(start + (T0 + minute * 60 + 30 - start) * 60, UTC).strftime("%Y-%m-%d %H:%M:%S.000")
        for minute in reversed(ERROR_MINUTES)
    ]


def test_a_log_widget_whose_query_cannot_run_locally_says_why(tmp_path):
    # Given a dashboard whose log widget uses a command the local evaluator does not implement
    body = {
        "widgets": [
            {
                "type": "log",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 6,
                "properties": {
                    "title": "Parsed",
                    "region": "eu-west-1",
                    "view": "table",
                    "query": "SOURCE 'some-group' | parse @message '* *' as a, b | limit 5",
                },
            }
        ]
    }
    path = tmp_path / "parsed.json"
    path.write_text(json.dumps(body))
    # When it is drawn
    [preview] = render_all(_error_lines(), tmp_path, paths=[path])
    # Then the panel names the command it could not run, and has no rows
    [panel] = preview.panels
    assert panel.kind == "log" and panel.rows == []
    assert panel.notes[0].startswith("Logs Insights query not run locally: unsupported command: parse")


def test_markdown_becomes_plain_lines_with_bold_headings():
    lines = markdown_lines("## On call\nSee **this** and [the runbooks](https://example.org/r) or `code`.", 80)
    assert lines == [("On call", True), ("See this and the runbooks or code.", False)]


def test_a_legend_never_runs_past_its_panel():
    # Given more labels than a small panel's legend area can list
    labels = [f"students.query_number_{number}" for number in range(40)]
    # When laid out in 350 x 100 pixels
    layout = legend_layout(labels, 350, 100)
    # Then it fits, listing what it can and counting the rest
    assert layout.height_px <= 100
    assert 0 < layout.shown < len(labels)
    assert layout.shown + 1 <= layout.rows * layout.columns
    # And a few short labels keep the usual font, all listed
    assert legend_layout(["p50", "p99"], 350, 100).font_size == 8
    assert legend_layout(["p50", "p99"], 350, 100).shown == 2


def test_no_emf_draws_every_panel_without_data(tmp_path):
    # Given a log with no EMF at all, When the dashboard with every kind of widget is rendered
    [preview] = render_all(["not an EMF line"], tmp_path, paths=[dashboards.DASHBOARDS_DIR / "service-overview.json"])
    # Then every panel is still drawn, with no line, and every alarm has no data
    assert preview.png.is_file()
    assert len(preview.panels) == len(_body("service-overview")["widgets"])
    assert all(not any(panel.lines.values()) for panel in preview.panels)
    assert set(_panel(preview, "Alarms").alarm_states.values()) == {INSUFFICIENT_DATA}


def test_command_writes_a_png_per_dashboard(tmp_path, capsys):
    # Given an EMF log file, When the command runs with time compressed 60 times
    log = tmp_path / "captured.log"
    log.write_text("\n".join(["starting", *_emf_lines()]) + "\n")
    assert main([str(log), "--out", str(tmp_path / "images"), "--time-scale", "60"]) == 0
    # Then it writes and names one PNG per dashboard
    written = sorted(path.name for path in (tmp_path / "images").glob("*.png"))
    assert written == sorted(f"{path.stem}.png" for path in dashboards.dashboard_files())
    printed = capsys.readouterr().out
    assert all(name in printed for name in written)


def test_command_needs_logs_or_a_capture(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "give EMF log files, or --capture SECONDS" in capsys.readouterr().err


@pytest.fixture(scope="module")
def previews_with_every_stand_in(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DashboardPreview]:
    """The same timeline, with every AWS namespace the local stack's stand-ins write: API Gateway and Lambda (a
    throttle in minute 4), the load balancer (two healthy targets, one unhealthy in the connection errors' minutes)
    and the web ACL (a block in minute 7), and the RDS monitor, each minute."""
    timeline = AwsTimeline(T0)
    for minute in range(MINUTES):
        timeline.requests(minute, 10)
        timeline.invocations(minute, 10)
        failing = minute in CONNECTION_ERROR_MINUTES
        timeline.balanced_requests(minute, 20, response_s=0.05)
        timeline.hosts(minute, healthy=1 if failing else 2, unhealthy=1 if failing else 0)
        timeline.database(
            minute,
            CPUUtilization=20.0 + minute,
            DatabaseConnections=6,
            FreeableMemory=8e8,
            FreeStorageSpace=2e10,
            ReadLatency=0.0001,
            WriteLatency=0.002,
        )
    timeline.throttles(4, 1)
    timeline.blocked(7, 3)
    out = tmp_path_factory.mktemp("previews-with-every-stand-in")
    return {
        preview.name: preview
        for preview in render_all(_emf_lines() + _enrollment_lines() + timeline.lines, out, source="a test timeline")
    }


def _enrollment_lines() -> list[str]:
    """An enrollment, a drop and a grade in minute 5, as the domain records them."""
    written: list[str] = []
    recorder = MetricsRecorder("StudentRecords", written.append)
    for spec in (ENROLLMENTS_CREATED, ENROLLMENTS_DROPPED, GRADES_RECORDED):
        recorder.put(spec, 1)
    recorder.flush()
    documents = [json.loads(line) for line in written]
    for document in documents:
        document["_aws"]["Timestamp"] = (T0 + 5 * 60 + 10) * 1000
    return [json.dumps(document) for document in documents]


def test_no_metric_panel_is_left_without_local_data(previews_with_every_stand_in):
    # Given every stand-in's metrics beside the doors' own
    for preview in previews_with_every_stand_in.values():
        for panel in preview.panels:
            # Then every metric panel is drawn from them: none is left saying its AWS metrics have no local data
            assert panel.kind != "no-local-data", (preview.name, panel.title, panel.notes)


def test_load_balancer_web_acl_and_rds_panels_draw_the_stand_ins_metrics(previews_with_every_stand_in):
    overview = previews_with_every_stand_in["service-overview"]
    # Then the balancer's requests per minute, its targets' health, the ACL's blocks and the database's CPU are drawn
    assert _panel(overview, "Load balancer: requests and 5xx (per minute)").lines["requests"] == [
        (_minute(minute), 20.0) for minute in range(MINUTES)
    ]
    targets = _panel(overview, "Load balancer: targets (readiness)")
    assert dict(targets.lines["unhealthy"])[_minute(9)] == 1.0 and dict(targets.lines["healthy"])[_minute(9)] == 1.0
    assert _panel(overview, "Web ACL: blocked by rule (per minute)").lines["rate-limit-per-ip"] == [(_minute(7), 3.0)]
    assert _panel(overview, "RDS CPU (%)").lines["CPUUtilization"][3] == (_minute(3), 23.0)
    # And the managed rule groups, which nothing local stands in for, say so
    assert f"aws-common: {AWS_NO_DATA}" in _panel(overview, "Web ACL: blocked by rule (per minute)").notes


def test_slo_panels_are_computed_from_the_doors_requests_as_application_signals_would(previews_with_every_stand_in):
    overview = previews_with_every_stand_in["service-overview"]
    # Given 5 of the Flask door's 20 requests a minute answered 5xx in the last three minutes (15 of 240 in all)
    burn = dict(_panel(overview, "Burn rate over the last hour (1 = on budget)").lines["availability-flask"])
    # Then the hour's burn rate at the last minute is that error rate over the 0.1 % budget, and 0 before the errors
    assert burn[_minute(MINUTES - 1)] == pytest.approx(15 / 240 / 0.001)
    assert burn[_minute(8)] == 0.0
    # And the Lambda door, which served everything, kept its attainment at 100 %
    attainment = _panel(overview, "SLO attainment, 28 days (%)")
    assert {value for _, value in attainment.lines["availability-lambda"]} == {100.0}
