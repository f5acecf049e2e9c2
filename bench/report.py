"""latest.json (every number, the headline keys first), latest.md (tables and the verdict on each target)
and latest.png (throughput per door and workload, and the ratios against their targets)."""

import json
import time
from pathlib import Path

from .http_load import BASELINE, DOOR_LABELS, DOORS, INSTRUMENTED, UNINSTRUMENTED

HEADLINE_WORKLOAD = "get_by_id"  # the baseline's defined job: read a row by id


def headline(results: dict) -> dict:
    http = results["http"]["summary"]
    lambda_results = results["lambda"]
    databases = results["database"]
    first_size = next(iter(databases.values()))
    return {
        "flask_instrumented_over_uninstrumented": http[HEADLINE_WORKLOAD]["instrumented_over_uninstrumented"]["median"],
        "flask_uninstrumented_over_baseline": http[HEADLINE_WORKLOAD]["uninstrumented_over_baseline"]["median"],
        "lambda_instrumented_over_bare": lambda_results["warm"]["instrumented_over_bare"]["median"],
        "cold_import_ms_instrumented": lambda_results["cold_import_ms"]["instrumented"],
        "cold_import_ms_bare": lambda_results["cold_import_ms"]["bare"],
        "count_p50_ms_1m": databases["1m"]["count"]["p50_ms"] if "1m" in databases else None,
        "count_p50_ms_10m": databases["10m"]["count"]["p50_ms"] if "10m" in databases else None,
        "deep_page_over_first_page": first_size["deep_page_over_first_page"],
        "baseline_rps": http[HEADLINE_WORKLOAD][BASELINE]["rps"],
        "import_rows_per_s": results["bulk_import"]["rows_per_s"],
        "sam_build_unzipped_bytes": lambda_results["sam_build"].get("unzipped_bytes"),
        "machine": results["machine"],
    }


def targets(results: dict, keys: dict) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, passed); None when not measured in this run."""
    http = results["http"]["summary"]
    rows = []

    def worst(ratio: str) -> tuple[str, float]:
        name = min(http, key=lambda workload: http[workload][ratio]["median"])
        return name, http[name][ratio]["median"]

    for ratio, key, label in (
        (
            "instrumented_over_uninstrumented",
            "flask_instrumented_over_uninstrumented",
            "Flask instrumented ≥ 0.90× uninstrumented (req/s)",
        ),
        (
            "uninstrumented_over_baseline",
            "flask_uninstrumented_over_baseline",
            "Flask uninstrumented ≥ 0.90× baseline (req/s)",
        ),
    ):
        rows.append((f"{label}, GET by id", f"{keys[key]:.3f}×", keys[key] >= 0.90))
        name, value = worst(ratio)
        rows.append((f"{label}, every workload", f"worst {value:.3f}× ({name})", value >= 0.90))
    ratio = keys["lambda_instrumented_over_bare"]
    rows.append(("Lambda warm instrumented ≤ 1.5× bare resolver (µs)", f"{ratio:.3f}×", ratio <= 1.5))
    cold = keys["cold_import_ms_instrumented"]
    rows.append(("Cold import with all observability ≤ 150 ms (venv, bytecode cached)", f"{cold:.0f} ms", cold <= 150))
    sam = results["lambda"]["sam_build"]
    if sam.get("cold_import_ms_py312_as_built") is not None:
        as_lambda = sam["cold_import_ms_py312_as_built"]
        rows.append(
            (
                "… the sam build artifact on python3.12 as Lambda runs it (its bytecode, read-only)",
                f"{as_lambda:.0f} ms",
                as_lambda <= 150,
            )
        )
    first = results["lambda"]["cold_start_ms"]
    rows.append(
        (
            (
                "… and the first invocation after it, instrumented vs bare (not a target: what lazy imports "
                "move out of the import is paid here)"
            ),
            f"{first['instrumented']['total_ms']:.0f} vs {first['bare']['total_ms']:.0f} ms",
            None,
        )
    )
    for size, key in (("1M", "count_p50_ms_1m"), ("10M", "count_p50_ms_10m")):
        value = keys[key]
        rows.append(
            (
                f"GET /students/count p50 ≤ 1 ms at {size} (data layer)",
                "not measured (--rows-10m)" if value is None else f"{value:.3f} ms",
                None if value is None else value <= 1.0,
            )
        )
    deep = keys["deep_page_over_first_page"]
    rows.append(("Deep page ≤ 2× first page (data layer p50)", f"{deep:.2f}×", deep <= 2.0))
    http_deep = http["list_deep"][INSTRUMENTED]["p50_ms"] / http["list_first"][INSTRUMENTED]["p50_ms"]
    rows.append(("… over HTTP (instrumented door, wrk p50)", f"{http_deep:.2f}×", http_deep <= 2.0))
    imported = keys["import_rows_per_s"]
    rows.append(
        (
            (
                f"Bulk create ≥ 100k rows/s through the import path ({results['bulk_import']['rows']:,} generated "
                "students)"
            ),
            f"{imported:,.0f} rows/s",
            imported >= 100_000,
        )
    )
    return rows


def _verdict(passed: bool | None) -> str:
    return "–" if passed is None else ("**pass**" if passed else "**FAIL**")


def markdown(results: dict, keys: dict) -> str:
    settings = results["settings"]
    http = results["http"]["summary"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {results['finished_at']} on {keys['machine']}; {results['rows']:,} students; code at "
        f"{results['code']['commit']}"
        + (
            f" plus uncommitted changes to {len(results['code']['modified'])} files"
            if results["code"]["modified"]
            else ""
        )
        + ". Reproduce: `make bench` (or `.venv/bin/python -m bench`); method in `bench/README.md`.",
        "",
        (
            f"wrk: {settings['wrk_threads']} thread, {settings['wrk_connections']} connections, "
            f"{settings['wrk_duration_s']} s per run, {settings['repeats']} interleaved rounds per workload (rotating "
            f"order), medians shown; ratios are taken round by round, then the median. gunicorn: "
            f"{settings['gunicorn_workers']} workers × {settings['gunicorn_threads']} threads, pool of "
            f"{settings['db_pool_size']} per worker, for all three servers."
        ),
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        *(f"| {target} | {measured} | {_verdict(passed)} |" for target, measured, passed in targets(results, keys)),
        "",
        "## Flask doors under wrk",
        "",
        "Doors: " + "; ".join(f"**{name}**: {DOOR_LABELS[name]}" for name in DOORS) + ".",
        "",
        (
            "| workload | baseline req/s | p50 / p99 ms | uninstrumented req/s | p50 / p99 ms | instrumented req/s "
            "| p50 / p99 ms | uninstr. / baseline | instr. / uninstr. |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in http.values():
        cells = []
        for name in DOORS:
            door = entry[name]
            cells += [f"{door['rps']:,.0f}", f"{door['p50_ms']:.2f} / {door['p99_ms']:.2f}"]
        ratios = [entry[ratio] for ratio in ("uninstrumented_over_baseline", "instrumented_over_uninstrumented")]
        cells += [f"{ratio['median']:.2f} ({ratio['min']:.2f}–{ratio['max']:.2f})" for ratio in ratios]
        lines.append(f"| {entry['label']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        (
            "CPU µs per request under that load, read from /proc for each process tree: the door's gunicorn workers / "
            "PostgreSQL (all backends) / wrk. With 2 cores shared by all three, their sum sets the throughput."
        ),
        "",
        "| workload | baseline | uninstrumented | instrumented |",
        "|---|---:|---:|---:|",
    ]
    for entry in http.values():
        cells = [
            f"{entry[name]['app_cpu_us_per_request']:,.0f} / {entry[name]['postgres_cpu_us_per_request']:,.0f} / "
            f"{entry[name]['wrk_cpu_us_per_request']:,.0f}"
            for name in DOORS
        ]
        lines.append(f"| {entry['label']} | " + " | ".join(cells) + " |")
    signals = results["http"]["signals"]
    lines += [
        "",
        (
            f"Signals written during the HTTP runs (proof each door ran as labelled): JSON lines on stdout — "
            f"baseline {signals[BASELINE]:,}, uninstrumented {signals[UNINSTRUMENTED]:,}, "
            f"instrumented {signals[INSTRUMENTED]:,}; X-Ray datagrams received {signals['xray_datagrams']:,}."
        ),
        "",
        "## Lambda door",
        "",
    ]
    warm = results["lambda"]["warm"]
    cold = results["lambda"]["cold_import_ms"]
    first = results["lambda"]["cold_start_ms"]
    sam = results["lambda"]["sam_build"]
    lines += [
        "| handler | warm p50 µs | warm p99 µs | warm CPU p50 µs | cold import ms (`-X importtime`, venv) |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {label} | {warm[name]['p50_us']:,.0f} | {warm[name]['p99_us']:,.0f} | "
            f"{warm[name]['cpu_p50_us']:,.0f} | "
            f"{cold[name]:.0f} |"
            for name, label in (
                ("bare", "bare APIGatewayRestResolver (`bench/bare_lambda.py`)"),
                ("instrumented", "`handlers.api.lambda_handler` (logs + EMF + X-Ray)"),
            )
        ),
        "",
        (
            "Cold start in fresh processes (median of 5; Lambda environment, bytecode cached): import, then the first "
            "GET /students/{id} (first connection, first token verification, first model builds):"
        ),
        "",
        "| handler | import ms | first invocation ms | total ms |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | {first[name]['import_ms']:.0f} | {first[name]['first_invocation_ms']:.0f} | "
            f"{first[name]['total_ms']:.0f} |"
            for name in ("bare", "instrumented")
        ),
        "",
        (
            f"Warm ratio instrumented / bare: {warm['instrumented_over_bare']['median']:.2f}× "
            f"(blocks {warm['instrumented_over_bare']['min']:.2f}–{warm['instrumented_over_bare']['max']:.2f}); "
            f"{warm['bare']['invocations']:,} invocations each, GET /students/{{random id}}; X-Ray datagrams received "
            f"{results['lambda']['xray_datagrams']:,}."
        ),
        "",
    ]
    if sam.get("unzipped_bytes") is None:
        lines.append(f"`sam build` ApiFunction: not measured — {sam['reason']}")
    else:
        lines.append(
            f"`sam build` ApiFunction: {sam['unzipped_bytes'] / 2**20:.1f} MiB unzipped, "
            f"{sam['zipped_bytes'] / 2**20:.1f} MiB zipped, {sam['files']:,} files "
            f"(built in {sam['build_seconds']:.0f} s). "
            f"Its cold import on python3.12: {sam['cold_import_ms_py312_as_built']:.0f} ms as Lambda runs it "
            f"(read-only, with the bytecode the build ships), "
            f"{sam['cold_import_ms_py312_compiling']:.0f} ms if it had to compile every module."
        )
    lines += [
        "",
        "## Database (through the data layer, OBSERVABILITY=off)",
        "",
        (
            "| table size | count p50 / p99 ms | first page p50 ms | deep page p50 ms | deep / first "
            "| GET by id p50 ms (with audit row) | without audit row | `count(*)` ms |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for db in results["database"].values():
        lines.append(
            f"| {db['rows']:,} | {db['count']['p50_ms']:.3f} / {db['count']['p99_ms']:.3f} | "
            f"{db['first_page']['p50_ms']:.2f} | {db['deep_page']['p50_ms']:.2f} | "
            f"{db['deep_page_over_first_page']:.2f}× | {db['get_with_audit']['p50_ms']:.3f} | "
            f"{db['get_without_audit']['p50_ms']:.3f} | {db['count_star_ms']:.1f} |"
        )
    imported = results["bulk_import"]
    lines += [
        "",
        (
            f"Bulk create: {imported['rows']:,} generated students imported into the freshly migrated table by "
            f"`student-records-import` (each row validated by the API's model, one transaction, an audit row each; "
            f"every index, check and trigger active) in {imported['seconds']:.1f} s: "
            f"**{imported['rows_per_s']:,} rows/s**."
        ),
    ]
    if "bulk_create_10m_extension" in results:
        extension = results["bulk_create_10m_extension"]
        lines.append(
            f"Growing the table to 10M: {extension['rows']:,} more rows at {extension['rows_per_s']:,} rows/s."
        )
    postgres = results["postgres"]
    lines += [
        "",
        (
            f"PostgreSQL {postgres['server_version']}: shared_buffers {postgres['shared_buffers']}, synchronous_commit "
            f"{postgres['synchronous_commit']}, fsync {postgres['fsync']} (the embedded server's defaults)."
        ),
        "",
        f"Load average (1 min) before the run: {results['load_average_before']:.2f}"
        + (
            " — other processes were busy; treat absolute numbers with care."
            if results["load_average_before"] > 0.5
            else " (machine idle)."
        )
        + (
            f" The bench ran at niceness {results['niceness']} (`nice -n {results['niceness']}`), ahead of them."
            if results["niceness"] < 0
            else ""
        ),
        "",
        "Phase durations (s): "
        + ", ".join(f"{name} {seconds:.0f}" for name, seconds in results["phase_seconds"].items()),
        "",
    ]
    return "\n".join(lines)


def chart(results: dict, keys: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    http = results["http"]["summary"]
    workloads = list(http)
    figure, (throughput, ratios) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.27
    for index, name in enumerate(DOORS):
        positions = [w + (index - 1) * width for w in range(len(workloads))]
        values = [http[workload][name]["rps"] for workload in workloads]
        bars = throughput.bar(positions, values, width, label=DOOR_LABELS[name])
        throughput.bar_label(bars, labels=[f"{value:,.0f}" for value in values], fontsize=7, rotation=90, padding=2)
    throughput.set_xticks(
        range(len(workloads)), [http[w]["label"].split(" (")[0] for w in workloads], rotation=15, fontsize=8
    )
    throughput.set_ylabel("requests/s (median of rounds)")
    throughput.set_title(f"Flask doors under wrk, {results['rows']:,} students")
    throughput.set_ylim(0, 1.5 * max(http[w][name]["rps"] for w in workloads for name in DOORS))  # room for the legend
    throughput.legend(fontsize=8, loc="upper right")

    labels, values = [], []
    for workload in workloads:
        labels += [f"{workload}: instr./uninstr.", f"{workload}: uninstr./baseline"]
        values += [
            http[workload]["instrumented_over_uninstrumented"]["median"],
            http[workload]["uninstrumented_over_baseline"]["median"],
        ]
    labels.append("Lambda warm: bare / instr.")
    values.append(1 / keys["lambda_instrumented_over_bare"])
    colors = [
        "tab:green" if value >= (0.9 if index < len(values) - 1 else 1 / 1.5) else "tab:red"
        for index, value in enumerate(values)
    ]
    ratios.barh(range(len(values)), values, color=colors)
    ratios.axvline(0.9, color="black", linestyle="--", linewidth=1, label="Flask target 0.90")
    ratios.axvline(1 / 1.5, color="gray", linestyle=":", linewidth=1, label="Lambda target 1/1.5")
    ratios.set_yticks(range(len(values)), labels, fontsize=7)
    ratios.invert_yaxis()
    ratios.set_xlim(0, 1.15)
    ratios.set_title("Throughput ratios (green: target met)")
    ratios.legend(fontsize=7, loc="lower right")
    figure.text(0.01, 0.01, keys["machine"], fontsize=7, color="gray")
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict, directory: Path) -> None:
    results["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    keys = headline(results)
    (directory / "latest.json").write_text(json.dumps({**keys, **results}, indent=1) + "\n")
    (directory / "latest.md").write_text(markdown(results, keys))
    chart(results, keys, directory / "latest.png")
