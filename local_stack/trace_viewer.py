"""A local stand-in for the X-Ray daemon that prints each request's trace as a tree instead of uploading it.

The SDKs send segment documents over UDP; a trace arrives in pieces (subsegments are streamed on their own,
and inside Lambda the function's segment is never sent at all), so pieces wait, grouped by trace id, until
the trace's root segment arrives complete. Run it with `python -m local_stack.trace_viewer`.

A statement's subsegment is named after its database (`student_records@127.0.0.1`); its line shows the query's
name first, from its `query_name` annotation. `--annotation query_name=students.get` prints only the traces with
that annotation somewhere in their tree (the console's `annotation.query_name = "students.get"`). With
TRACES_FILE=path (or `--traces-file`), every document received is also appended to that file, one JSON document per
line, as it arrived: traces to keep, diff, share, or read back in a test.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from observability.xray_daemon import (
    DAEMON_ADDRESS_VARIABLE,
    DEFAULT_DAEMON_ADDRESS,
    daemon_address,
    parse_daemon_address,
)

from .ports import Port, PortInUse, is_address_in_use

# Room for the largest UDP datagram (the daemon reads 64 KiB; senders keep within it, xray_daemon.MAX_DATAGRAM_BYTES).
MAX_DATAGRAM_BYTES = 65536
TRACES_FILE_VARIABLE = "TRACES_FILE"
QUERY_NAME_ANNOTATION = "query_name"
# Bursts (many doors and requests at once; the SDK's own streaming past 30 subsegments) must fit the receive buffer.
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
SQL_PREVIEW_CHARS = 160
MESSAGE_PREVIEW_CHARS = 120
# How often serve_forever looks up from the socket to see whether it was asked to stop.
POLL_INTERVAL_S = 0.1


@dataclass
class Trace:
    trace_id: str
    root: dict  # the root segment, every received piece attached under its parent's "subsegments"


@dataclass
class _PendingTrace:
    first_seen: float
    documents_by_id: dict[str, dict] = field(default_factory=dict)


class TraceAssembler:
    """Joins segment documents into traces; pure, so it can be fed by hand."""

    def __init__(
        self, *, max_age_s: float = 60.0, max_pending: int = 1000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_age_s = max_age_s
        self._max_pending = max_pending
        self._clock = clock
        # Insertion order is arrival order, so the oldest trace is always first.
        self._pending: OrderedDict[str, _PendingTrace] = OrderedDict()
        self.dropped = 0

    def add(self, document: dict) -> list[Trace]:
        """Take one document (as `parse_datagram` returns it); return the traces it completes."""
        self._drop_expired()
        trace_id = document["trace_id"]
        if _is_complete_root(document):
            pending = self._pending.pop(trace_id, None)
            pieces = pending.documents_by_id.values() if pending else ()
            return [Trace(trace_id, _assemble(document, pieces))]
        pending = self._pending.get(trace_id)
        if pending is None:
            if len(self._pending) >= self._max_pending:
                self._pending.popitem(last=False)
                self.dropped += 1
            pending = self._pending[trace_id] = _PendingTrace(first_seen=self._clock())
        # A later version of the same entity (e.g. complete after in progress) replaces the earlier one.
        pending.documents_by_id[document["id"]] = document
        return []

    def _drop_expired(self) -> None:
        oldest_kept = self._clock() - self._max_age_s
        while self._pending and next(iter(self._pending.values())).first_seen < oldest_kept:
            self._pending.popitem(last=False)
            self.dropped += 1


def _is_complete_root(document: dict) -> bool:
    is_root = document.get("parent_id") is None and document.get("type") != "subsegment"
    return is_root and not document.get("in_progress")


def _assemble(root_document: dict, pieces: Iterable[dict]) -> dict:
    """A copy of the root with every piece attached under its parent, wherever in the tree that parent is."""
    waiting_by_parent: defaultdict[str | None, list[dict]] = defaultdict(list)
    for piece in pieces:
        if piece["id"] != root_document["id"]:
            waiting_by_parent[piece.get("parent_id")].append(piece)
    root, to_visit = _copy_tree(root_document)
    while to_visit:
        entity = to_visit.pop()
        for piece in waiting_by_parent.pop(entity["id"], ()):
            child, child_entities = _copy_tree(piece)
            entity["subsegments"].append(child)
            to_visit.extend(child_entities)
    # Pieces whose parent never arrived still show their timings and SQL; render_trace marks them.
    for orphans in waiting_by_parent.values():
        root["subsegments"].extend(_copy_tree(orphan)[0] for orphan in orphans)
    return root


def _copy_tree(entity: dict) -> tuple[dict, list[dict]]:
    """A copy of `entity` whose subsegment lists are new, so attaching pieces never alters a received document;
    also every entity of the copy, so pieces can be attached to any of them."""
    children = [_copy_tree(child) for child in entity.get("subsegments", ())]
    copy = {**entity, "subsegments": [child for child, _ in children]}
    return copy, [copy, *(descendant for _, descendants in children for descendant in descendants)]


def parse_datagram(data: bytes) -> dict | None:
    """The document in one daemon-protocol datagram, or None when it is not a usable segment or subsegment."""
    header, newline, body = data.partition(b"\n")
    try:
        if not newline or json.loads(header).get("format") != "json":
            return None
        document = json.loads(body)
        if not _is_entity(document) or not isinstance(document.get("trace_id"), str):
            return None
    except (ValueError, AttributeError, RecursionError):  # bad UTF-8 or JSON, a header not an object, deep nesting
        return None
    if document.get("type") == "subsegment" and document.get("parent_id") is None:
        return None
    return document


def _is_entity(value: Any) -> bool:
    """Whether `value` has what assembling and rendering rely on, at every depth."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("id"), str)
        and isinstance(value.get("name"), str)
        and _is_number(value.get("start_time"))
        and ("end_time" not in value or _is_number(value["end_time"]))
        and isinstance(value.get("parent_id"), str | None)
        and isinstance(value.get("subsegments", []), list)
        and all(_is_entity(child) for child in value.get("subsegments", []))
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def render_trace(trace: Trace) -> str:
    """A heading with the request's method, path and status, then the tree of timed entities."""
    root = trace.root
    lines = [f"trace {trace.trace_id}  {_heading(root)}"]
    lines.append(f"  {_describe(root, parent_id=None)}")
    lines.extend(_render_children(root, indent="  "))
    return "\n".join(lines)


def _heading(root: dict) -> str:
    entities = list(_walk(root))
    http_blocks = (_mapping(entity.get("http")) for entity in entities)
    http = next((block for block in http_blocks if block.get("request")), {})
    request, response = _mapping(http.get("request")), _mapping(http.get("response"))
    annotations: dict[str, Any] = {}
    for entity in reversed(entities):  # the outermost value wins
        annotations.update(_mapping(entity.get("annotations")))
    path = urlsplit(request["url"]).path if isinstance(request.get("url"), str) else None
    status = f"-> {response['status']}" if "status" in response else None
    request_parts = (request.get("method"), annotations.get("route") or path, status)
    request_line = " ".join(str(part) for part in request_parts if part)
    parts = [request_line, _duration(root)] if request_line else [_duration(root)]
    if "correlation_id" in annotations:
        parts.append(f"[correlation_id={annotations['correlation_id']}]")
    return "  ".join(parts)


def _walk(entity: dict) -> Iterator[dict]:
    """The entity and its descendants, each before its children, children in start order."""
    yield entity
    for child in _children(entity):
        yield from _walk(child)


def _children(entity: dict) -> list[dict]:
    return sorted(entity.get("subsegments", ()), key=lambda child: child["start_time"])


def _render_children(entity: dict, indent: str) -> Iterator[str]:
    children = _children(entity)
    for position, child in enumerate(children, start=1):
        is_last = position == len(children)
        yield f"{indent}{'└─' if is_last else '├─'} {_describe(child, parent_id=entity['id'])}"
        yield from _render_children(child, indent + ("   " if is_last else "│  "))


def _describe(entity: dict, *, parent_id: str | None) -> str:
    parts = [_label(entity), _duration(entity)]
    sql = _mapping(entity.get("sql")).get("sanitized_query")
    if isinstance(sql, str):
        parts.append(_preview(sql, SQL_PREVIEW_CHARS))
    problem = _problem(entity)
    if problem:
        parts.append(problem)
    if entity.get("parent_id") not in (None, parent_id):
        parts.append(f"(parent {entity['parent_id']} never arrived)")
    return "  ".join(parts)


def _label(entity: dict) -> str:
    """The entity's name; for a statement, its query's name first, then the database it ran on."""
    query_name = _mapping(entity.get("annotations")).get(QUERY_NAME_ANNOTATION)
    if isinstance(query_name, str) and query_name and query_name != entity["name"]:
        return f"{query_name} on {entity['name']}"
    return entity["name"]


def _duration(entity: dict) -> str:
    if entity.get("in_progress") or "end_time" not in entity:
        return "(in progress)"
    return f"{(entity['end_time'] - entity['start_time']) * 1000:.1f} ms"


def _problem(entity: dict) -> str | None:
    """`! fault: Type: message` for a 5xx or an exception, `! error` for a 4xx, `! throttle` for a 429."""
    kind = next((flag for flag in ("fault", "throttle", "error") if entity.get(flag) is True), None)
    if kind is None:
        return None
    # `cause` is a bare exception id when the exception was already recorded on a descendant.
    exceptions = _mapping(entity.get("cause")).get("exceptions")
    exceptions = [_mapping(exception) for exception in exceptions] if isinstance(exceptions, list) else []
    if len(exceptions) > 1:  # a chain: the outermost's type, then the root cause (last) with its message
        detail = " ← ".join(
            filter(
                None,
                [
                    _exception_text(exceptions[0], with_message=False),
                    _exception_text(exceptions[-1], with_message=True),
                ],
            )
        )
    else:
        detail = _exception_text(exceptions[0], with_message=True) if exceptions else ""
    return f"! {kind}: {_preview(detail, MESSAGE_PREVIEW_CHARS)}" if detail else f"! {kind}"


def _exception_text(exception: dict, *, with_message: bool) -> str:
    keys = ("type", "message") if with_message else ("type",)
    return ": ".join(str(exception[key]) for key in keys if exception.get(key))


def has_annotations(trace: Trace, wanted: Mapping[str, str]) -> bool:
    """Whether each wanted annotation is on some entity of the trace, with that value (compared as text)."""
    found: dict[str, set[str]] = defaultdict(set)
    for entity in _walk(trace.root):
        for key, value in _mapping(entity.get("annotations")).items():
            found[key].add(str(value).lower() if isinstance(value, bool) else str(value))
    return all(value in found[key] for key, value in wanted.items())


def _mapping(value: Any) -> dict:
    """`value` if it is a JSON object, else empty: optional blocks may hold anything a sender chose."""
    return value if isinstance(value, dict) else {}


def _preview(text: str, limit: int) -> str:
    collapsed = re.sub(r"\s+", " ", text).strip()
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1] + "…"


class TraceViewer:
    """Receives X-Ray datagrams on a loopback UDP port and prints each finished trace (those with the wanted
    annotations, when some are named); with a traces file, also appends every document received to it."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2000,
        *,
        out: TextIO | None = None,
        traces_file: str | Path | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        address = _loopback_address(host)
        self._out = out if out is not None else sys.stdout
        self._annotations = dict(annotations or {})
        self._assembler = TraceAssembler()
        traces_file = traces_file if traces_file is not None else os.environ.get(TRACES_FILE_VARIABLE) or None
        self.traces_file = Path(traces_file) if traces_file else None
        self._documents: TextIO | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.trace_printed = threading.Event()  # set after each printed trace, so callers can wait for one
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            self._socket.bind((address, port))
        except OSError as error:
            self._socket.close()
            if is_address_in_use(error):
                raise PortInUse(viewer_listener(address, port)) from None
            raise
        self._socket.settimeout(POLL_INTERVAL_S)
        self.host, self.port = self._socket.getsockname()
        if self.traces_file is not None:
            try:
                self._documents = self.traces_file.open("a", encoding="utf-8")
            except OSError:
                self._socket.close()
                raise

    @property
    def dropped(self) -> int:
        """Traces discarded because their root segment never arrived in time."""
        return self._assembler.dropped

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="trace-viewer", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                data = self._socket.recv(MAX_DATAGRAM_BYTES)
            except TimeoutError:
                continue
            try:
                self._handle(data)
            except Exception as error:  # noqa: BLE001 - one malformed trace must not end the viewer for the rest of the run
                print(f"trace viewer: skipped a datagram: {error!r}", file=sys.stderr)

    def _handle(self, data: bytes) -> None:
        document = parse_datagram(data)
        if document is None:
            return
        if self._documents is not None:  # one document per line, whole: a reader never sees half of one
            self._documents.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")
            self._documents.flush()
        for trace in self._assembler.add(document):
            if self._annotations and not has_annotations(trace, self._annotations):
                continue
            self._out.write(render_trace(trace) + "\n")
            self._out.flush()
            self.trace_printed.set()

    def shutdown(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._socket.close()
        if self._documents is not None:
            self._documents.close()


def viewer_listener(host: str, port: int) -> Port:
    """The viewer's UDP port, moved by the variable the doors read to find the daemon."""
    return Port(
        "the trace viewer (the doors' X-Ray daemon)",
        DAEMON_ADDRESS_VARIABLE,
        host,
        port,
        protocol="udp",
        variable_holds_address=True,
    )


def _loopback_address(host: str) -> str:
    """The IPv4 address `host` names, refused unless it is loopback: traces hold SQL and request data."""
    try:
        address = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]
    except socket.gaierror as error:
        raise ValueError(f"cannot resolve {host!r} to an IPv4 address: {error}") from None
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"the trace viewer listens on loopback only; {host!r} is {address}")
    return address


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.trace_viewer", description="Print X-Ray traces sent to a local daemon address."
    )
    parser.add_argument(
        "--address", help=f"HOST:PORT to listen on (default: ${DAEMON_ADDRESS_VARIABLE}, else {DEFAULT_DAEMON_ADDRESS})"
    )
    parser.add_argument(
        "--traces-file",
        help=f"append every document received to this file, one JSON per line (default: ${TRACES_FILE_VARIABLE})",
    )
    parser.add_argument(
        "--annotation",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="print only traces with this annotation, e.g. query_name=students.get (repeatable: all must match)",
    )
    arguments = parser.parse_args(argv)
    wanted = {}
    for annotation in arguments.annotation:
        key, equals, value = annotation.partition("=")
        if not equals or not key:
            parser.error(f"--annotation takes KEY=VALUE, got {annotation!r}")
        wanted[key] = value
    try:
        host, port = parse_daemon_address(arguments.address) if arguments.address else daemon_address()
        viewer = TraceViewer(host, port, traces_file=arguments.traces_file, annotations=wanted)
    except ValueError as error:
        parser.error(str(error))
    except PortInUse as error:
        print(error if arguments.address is None else f"{error} (or choose another --address)", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"cannot listen on udp://{host}:{port} or write the traces file: {error.strerror}", file=sys.stderr)
        return 1
    print(f"trace viewer listening on udp://{viewer.host}:{viewer.port}", flush=True)
    if viewer.traces_file is not None:
        print(f"appending every trace document to {viewer.traces_file}", flush=True)
    try:
        viewer.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        viewer.shutdown()
    if viewer.dropped:
        print(f"{viewer.dropped} trace(s) dropped: their root segment never arrived", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
