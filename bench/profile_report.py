"""bench/results/profile.json and profile.md from what bench/profile.py measured."""

import json
import time
from pathlib import Path

# Files whose frames are listed as hot spots: signals, and what the project does that the baseline does not.
SIGNAL_FILES = (
    "observability/",
    "aws_xray_sdk/",
    "aws_lambda_powertools/logging",
    "logging/__init__.py",
    "json/",
    "orjson",
)
PROJECT_EXTRA_FILES = (
    "student_records/config.py",
    "rest_contract/",
    "jwt/",
    "flask_backend/rate_limit.py",
    "limits/",
    "psycopg_pool/",
    "pydantic",
    "student_records/data/",
    "student_records/service.py",
)
HOT_SPOTS_SHOWN = 22
_LOGGER_DECORATOR = ("decorate", "aws_lambda_powertools/logging/logger.py")
_XRAY_FLASK = "observability/flask_tracing.py"
_REQUEST_LINE = ("write_request_line", "observability/request_log.py")
_EMF_PUT = ("put_many", "observability/emf.py")  # `put` calls it too
# Where the signals' time goes, as disjoint entry points: (label, [(sign, function, file)]); a difference of
# two frames isolates a wrapper from what it wraps.
SIGNAL_ENTRY_POINTS = {
    "flask full": [
        ("X-Ray: end, serialize and send the request segment", [(1, "end_segment", _XRAY_FLASK)]),
        ("X-Ray: start the request segment (trace header, sampling decision)", [(1, "begin_segment", _XRAY_FLASK)]),
        ("X-Ray: status on the segment, trace header on the response", [(1, "record_response", _XRAY_FLASK)]),
        ("X-Ray: one subsegment per SQL statement", [(1, "database_subsegment", "observability/tracing.py")]),
        ("request log line", [(1, *_REQUEST_LINE)]),
        ("EMF: request, statement and pool metrics recorded", [(1, *_EMF_PUT)]),
        ("X-Ray: route and correlation annotations", [(1, "annotate", "observability/tracing.py")]),
        (
            "request observation start: correlation id",
            [(1, "_observe", "observability/flask_door.py"), (-1, "begin_segment", _XRAY_FLASK)],
        ),
    ],
    "lambda full": [
        (
            "X-Ray: the `## lambda_handler` subsegment (begin; end, serialize and send)",
            [(1, "_begin_handler_trace", "observability/lambda_door.py"), (1, "end", "observability/tracing.py")],
        ),
        (
            "X-Ray: one subsegment per SQL statement (sent inside the handler's datagram)",
            [(1, "database_subsegment", "observability/tracing.py")],
        ),
        ("request log line", [(1, *_REQUEST_LINE)]),
        ("EMF: flush per invocation", [(1, "flush", "observability/emf.py")]),
        ("EMF: request, statement and pool metrics recorded", [(1, *_EMF_PUT)]),
        (
            "Powertools Logger: inject_lambda_context",
            [(1, *_LOGGER_DECORATOR), (-1, "handler", "observability/lambda_door.py")],
        ),
        ("X-Ray: route and correlation annotations", [(1, "annotate", "observability/tracing.py")]),
        ("request observation start", [(1, "__init__", "observability/requests.py")]),
    ],
}


def _ladder_rows(ladders: dict, kind: str) -> list[str]:
    cpu = {name.removeprefix(f"{kind} "): us for name, us in ladders["cpu_us"].items() if name.startswith(kind)}
    wall = {name.removeprefix(f"{kind} "): us for name, us in ladders["wall_us"].items() if name.startswith(kind)}
    reference_name = "baseline" if kind == "flask" else "bare"
    reference = cpu[reference_name]
    rows = [
        f"| {name} | {us:,.0f} | {us / reference:.2f}× | {us - cpu['off']:+,.0f} | {wall[name]:,.0f} |"
        for name, us in cpu.items()
    ]
    full, off = cpu["full"], cpu["off"]
    traces, request_log = full - cpu["no traces"], full - cpu["no request log"]
    rows += [
        "",
        (
            f"In CPU: signals cost {full - off:,.0f} µs per request ({(full - off) / full:.0%} of the instrumented "
            f"request): traces {traces:,.0f} µs, the request log line {request_log:,.0f} µs, metrics and the rest "
            f"{full - off - traces - request_log:,.0f} µs. Without signals the project costs {off - reference:,.0f} µs "
            f"more than the {reference_name} ({off / reference:.2f}×)."
        ),
    ]
    return rows


def _signal_entry_points(variant: str, profile: dict, unprofiled_us: float) -> list[str]:
    scale = unprofiled_us / profile["profiled_cpu_us_per_request"]
    inclusive = {(frame["function"], frame["file"]): frame for frame in profile["frames"]}
    measured = []
    for label, terms in SIGNAL_ENTRY_POINTS[variant]:
        total, where = 0.0, []
        for sign, function, file in terms:
            frame = inclusive.get((function, file))
            if frame is not None:
                total += sign * frame["inclusive_us"] * scale
                where.append(f"{file}:{frame['line']}")
        measured.append((label, total, where[0] if where else "–"))
    signals = sum(total for _, total, _ in measured)
    rows = ["| where the signals' time goes | entry point | µs / request | share of signals |", "|---|---|---:|---:|"]
    rows += [
        f"| {label} | {where} | {total:,.0f} | {total / signals:.0%} |"
        for label, total, where in sorted(measured, key=lambda item: -item[1])
    ]
    rows.append(f"| **all of the above** | | **{signals:,.0f}** | |")
    return rows


def _hot_spots(profile: dict, unprofiled_us: float, files: tuple[str, ...]) -> list[str]:
    """Frames of the given files by CPU per request, scaled from the profiled run to the unprofiled one."""
    scale = unprofiled_us / profile["profiled_cpu_us_per_request"]
    frames = [frame for frame in profile["frames"] if any(part in frame["file"] for part in files)]
    rows = ["| function | file:line | CPU µs / request (incl.) | self | share of request |", "|---|---|---:|---:|---:|"]
    for frame in frames[:HOT_SPOTS_SHOWN]:
        inclusive = frame["inclusive_us"] * scale
        rows.append(
            f"| `{frame['function']}` | {frame['file']}:{frame['line']} | {inclusive:,.1f} | "
            f"{frame['self_us'] * scale:,.1f} | {inclusive / unprofiled_us:.1%} |"
        )
    return rows


def markdown(results: dict) -> str:
    ladders = results["ladders"]
    cpu, profiles = ladders["cpu_us"], ladders["profiles"]
    components = results["components_us"]
    cold = results["cold_import"]
    lines = [
        "# Profile of the gaps",
        "",
        (
            f"Run {results['finished_at']}, {results['rows']:,} students; `python -m bench.profile`. "
            "Every number is µs "
            "per GET /students/{random id} unless said otherwise. CPU is the serving thread's own (time.thread_time): "
            "unlike wall time it leaves out waiting for PostgreSQL, whose commit latency swings with the disk. The "
            "reading of these numbers, and the fixes, are in bench/README.md."
        ),
        "",
        "## 1. In-process ladders (one request at a time, no network)",
        "",
        "### Flask door (WSGI called directly)",
        "",
        "| variant | CPU µs / request | × baseline | vs off | wall µs / request |",
        "|---|---:|---:|---:|---:|",
        *_ladder_rows(ladders, "flask"),
        "",
        "### Lambda door (handler called directly, Lambda environment)",
        "",
        "| variant | CPU µs / request | × bare | vs off | wall µs / request |",
        "|---|---:|---:|---:|---:|",
        *_ladder_rows(ladders, "lambda"),
        "",
        "## 2. What the baseline skips, timed alone (OBSERVABILITY=off)",
        "",
        "| piece | µs |",
        "|---|---:|",
        *(
            f"| {name.removesuffix('_us').replace('_', ' ')} | {value:,.1f} |"
            for name, value in components.items()
            if name != "flask_door_cpu_us"
        ),
        "",
        (
            "The audit row costs a read "
            f"{components['get_with_audit_us'] - components['get_without_audit_us']:,.0f} µs "
            f"(an INSERT and a WAL flush at commit); the pool's check costs each checkout "
            f"{components['pool_checkout_with_check_us'] - components['pool_checkout_without_check_us']:,.0f} µs "
            "(a round "
            "trip); parsing the connection string twice per statement (DatabaseSettings.trace_url and .user) "
            f"{components['conninfo_parsing_per_statement_us']:,.0f} µs, signals on or off."
        ),
        "",
        (
            "The Flask door (OBSERVABILITY=off) with parts switched off at run time: CPU µs per request, "
            "blocks interleaved."
        ),
        "",
        "| door | CPU µs / request | saved |",
        "|---|---:|---:|",
        *(
            f"| {name} | {value:,.0f} | {components['flask_door_cpu_us']['as is'] - value:+,.0f} |"
            for name, value in components["flask_door_cpu_us"].items()
        ),
        "",
        "## 3. Hot spots (pyinstrument clocked by the thread's CPU time, scaled to the unprofiled CPU per request)",
        "",
    ]
    for variant, title in (("flask full", "Flask door"), ("lambda full", "Lambda handler")):
        lines += [
            f"### {title}, fully instrumented: the signals by entry point (CPU)",
            "",
            *_signal_entry_points(variant, profiles[variant], cpu[variant]),
            "",
        ]
    for variant, files, title in (
        ("flask full", SIGNAL_FILES, "Flask door, fully instrumented: signal frames"),
        ("lambda full", SIGNAL_FILES, "Lambda handler, fully instrumented: signal frames"),
        ("flask off", PROJECT_EXTRA_FILES, "Flask door, OBSERVABILITY=off: what the baseline does not do"),
        ("lambda off", PROJECT_EXTRA_FILES, "Lambda handler, OBSERVABILITY=off: what the bare resolver does not do"),
    ):
        lines += [
            f"### {title}",
            "",
            *_hot_spots(profiles[variant], cpu[variant], files),
            "",
            f"Whole tree: `bench/results/profiles/{variant.replace(' ', '-')}.txt`.",
            "",
        ]
    lines += [
        "## 4. Bulk create: COPY of 100,000 students into the loaded table",
        "",
        "| schema | rows/s |",
        "|---|---:|",
        *(f"| {name} | {value:,} |" for name, value in results["bulk_create_rows_per_s"].items()),
        "",
        "## 5. Cold import of handlers.api (`-X importtime`, own time by top-level package)",
        "",
        f"Total {cold['total_ms']:.0f} ms.",
        "",
        "| package | ms |",
        "|---|---:|",
        *(f"| {name} | {ms:.1f} |" for name, ms in cold["by_package_ms"].items()),
        "",
        "Cumulative (a module and everything it imported first): "
        + ", ".join(f"`{name}` {ms:.0f} ms" for name, ms in cold["cumulative_ms"].items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def write(results: dict, directory: Path) -> None:
    """Also renders again from a profile.json read back (its run's time kept), after the report changed."""
    results.setdefault("finished_at", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    (directory / "profile.json").write_text(json.dumps(results, indent=1) + "\n")
    (directory / "profile.md").write_text(markdown(results))
