"""Injection (issue 10, point 7): a corpus of hostile service names, parameter names, values,
procedure names, conninfo and listing queries, sent through nginx. None changes which SQL runs,
proven from PostgreSQL's own statement log (`log_statement = 'all'` on the instance's cluster,
which holds the control database and the target `demo`):

- the distinct statement texts of the hostile run are exactly those of a clean run of the same
  requests with harmless inputs (statement texts have `$n` where values go; values are logged
  apart, as `DETAIL:  parameters: $1 = '…'`);
- no hostile text appears in any statement text, only in those parameter lines;
- each hostile request gets its clear error in the documented shape (4xx), or, where the
  hostile text is a legitimate value of a text parameter, is run with it as data and answers it
  back unchanged.
"""

from __future__ import annotations

import glob
import json
import re
import time
import uuid

import pytest
import requests

from e2e_support import wait_for

TOKEN = "xyzzy"  # in every hostile text, so that any leak into SQL is found by one search

HOSTILE_TEXTS = [
    f"'; DROP TABLE demo.customer; -- {TOKEN}",
    f"\"; DROP TABLE demo.customer; -- {TOKEN}",
    f"1; SELECT pg_sleep(5) /* {TOKEN} */",
    f"1 OR 1=1 --{TOKEN}",
    f"$1); DELETE FROM spo.service; --{TOKEN}",
    f"$$; DROP SCHEMA spo CASCADE; $$ {TOKEN}",
    f"E'\\\\x27; {TOKEN}",
    f"с{TOKEN}_customer_get",             # Cyrillic с
    f"ｃｕｓｔｏｍｅｒ_{TOKEN}",                 # fullwidth
    f"cus\u200dtomer_{TOKEN}",            # zero-width joiner
    f"\u202e{TOKEN}\u202c'--",            # right-to-left override
]


def _record_start(line: str) -> bool:
    return line.startswith("spo-log|")


def _records(text: str) -> list[tuple[str, str]]:
    """(application_name, message) of each log record; continuation lines joined."""
    records, current = [], None
    for line in text.split("\n"):
        if _record_start(line):
            if current:
                records.append(current)
            _, _, app, message = line.split("|", 3)
            current = [app, message]
        elif current is not None:
            current[1] += "\n" + line
    if current:
        records.append(current)
    return [(app, message) for app, message in records]


STATEMENT = re.compile(r"^(?:LOG|STATEMENT):\s+(?:statement: |execute [^:]+: )?(.*)$", re.S)


def _normalise(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


class StatementLog:
    def __init__(self, spo):
        self.spo = spo
        paths = glob.glob(spo.state_dir + "/**/postgresql.log", recursive=True) + glob.glob(
            "/var/tmp/spo-dev-*/**/postgresql.log", recursive=True)
        paths = [p for p in paths if spo.state_dir in p] or paths
        assert paths, "the instance's postgresql.log"
        self.path = max(paths, key=lambda p: __import__("os").stat(p).st_mtime)

    def enable(self):
        self.spo.psql("ALTER SYSTEM SET log_statement = 'all'")
        self.spo.psql("ALTER SYSTEM SET log_line_prefix = 'spo-log|%p|%a|'")
        self.spo.psql("SELECT pg_reload_conf()")
        wait_for(lambda: self.spo.psql("SHOW log_statement").strip() == "all", 10, interval=0.1,
                 message="log_statement = all")

    def disable(self):
        self.spo.psql("ALTER SYSTEM RESET log_statement")
        self.spo.psql("ALTER SYSTEM RESET log_line_prefix")
        self.spo.psql("SELECT pg_reload_conf()")

    def size(self) -> int:
        return len(open(self.path, "rb").read())

    def mark(self) -> str:
        """A statement of psql's own, waited for in the log: what came before it is written."""
        marker = f"spo-e2e-marker-{uuid.uuid4().hex}"
        self.spo.psql(f"SELECT '{marker}'")
        wait_for(lambda: marker in open(self.path, errors="replace").read(), 10, interval=0.1,
                 message=f"{marker} in the log")
        return marker

    def between(self, start: str, end: str) -> list[tuple[str, str]]:
        text = open(self.path, errors="replace").read()
        text = text[text.index(start):]
        text = text[text.index("\n", text.index(start)) + 1:text.index(end)]
        return [(app, message) for app, message in _records(text) if app != "psql"]


def statements(records) -> set[str]:
    found = set()
    for _, message in records:
        match = STATEMENT.match(message)
        if match and not message.startswith("LOG:  duration"):
            found.add(_normalise(match.group(1)))
    return found


def parameter_lines(records) -> list[str]:
    return [message for _, message in records if message.startswith("DETAIL:  parameters:")]


# Requests: (method, path, body (JSON-able, or bytes), query) — the clean and the hostile form
# of each, and what the hostile one must answer.


def _corpus(texts: list[str], clean: bool) -> list[dict]:
    """Every kind of input the brief names, filled with `texts` (harmless ones for the clean run)."""
    a, b = texts[0], texts[1]
    deep = b'{"p_id": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    requests_ = []
    for text in texts:
        requests_ += [
            # service names: path and envelope
            dict(method="POST", path=f"/api/services/{requests.utils.quote(text, safe='')}/execute", json={"p_id": 1},
                 status=404, code=("SERVICE_NOT_FOUND", "NOT_FOUND")),
            dict(method="POST", path="/api/execute", json={"service": text, "parameters": {"p_id": 1}},
                 status=404, code=("SERVICE_NOT_FOUND",)),
            # parameter names
            dict(method="POST", path="/api/services/customer_get/execute", json={"p_id": 1, text: 1},
                 status=400, code="INVALID_PARAMETERS"),
            # values: of an integer (refused) and of text (run as data, answered back)
            dict(method="POST", path="/api/services/customer_get/execute", json={"p_id": text},
                 status=400, code="INVALID_PARAMETERS"),
            dict(method="POST", path="/api/services/echo_types/execute", json={"p_text": text}, status=200,
                 echo=("text", text)),
            dict(method="POST", path="/api/services/customer_search/execute", json={"p_name": text}, status=200),
            # administration: names, procedure names, conninfo; look-ups by name
            dict(method="POST", path="/api/services", json={
                "name": "inj_" + uuid.uuid5(uuid.NAMESPACE_OID, text).hex[:12], "connection": "demo",
                "procedure": text, "parameters": []}, status=400, code="INVALID_PARAMETERS"),
            dict(method="POST", path="/api/services", json={
                "name": "inj_" + uuid.uuid5(uuid.NAMESPACE_OID, text).hex[:12], "connection": "demo",
                "procedure": "demo." + text, "parameters": []}, status=400, code="INVALID_PARAMETERS"),
            # (a name with a space in it is not URL-safe: the clean run's names must be refused too)
            dict(method="POST", path="/api/services", json={
                "name": text + " ", "connection": "demo", "procedure": "demo.get_customer", "parameters": "discover"},
                 status=400, code="INVALID_PARAMETERS"),
            dict(method="POST", path="/api/connections", json={"name": text + " ", "conninfo": "dbname=demo"},
                 status=400, code="INVALID_PARAMETERS"),
            dict(method="GET", path=f"/api/services/{requests.utils.quote(text, safe='')}", status=404,
                 code=("SERVICE_NOT_FOUND", "NOT_FOUND")),
            dict(method="GET", path=f"/api/errors/{requests.utils.quote(text, safe='')}", status=404,
                 code=("NOT_FOUND",)),
            dict(method="GET", path=f"/api/executions/{requests.utils.quote(text, safe='')}", status=404,
                 code=("NOT_FOUND",)),
            # headers: a correlation id that is not a token is replaced; an idempotency key refused
            dict(method="POST", path="/api/services/customer_get/execute", json={"p_id": 2},
                 headers={"X-Correlation-ID": text.encode()}, status=200),
            dict(method="POST", path="/api/services/customer_get/execute", json={"p_id": 2},
                 headers={"Idempotency-Key": (text + "!").encode()}, status=400, code="IDEMPOTENCY_KEY_INVALID"),
            # listings' query strings
            dict(method="GET", path="/api/services", query={"search": text}, status=200, items=0),
            dict(method="GET", path="/api/executions", query={"service": text}, status=200, items=0),
            dict(method="GET", path="/api/executions", query={"status": text}, status=400, code="INVALID_PARAMETERS"),
            dict(method="GET", path="/api/executions", query={"since": text}, status=400, code="INVALID_PARAMETERS"),
            dict(method="GET", path="/api/executions", query={"cursor": text}, status=400,
                 code="INVALID_PARAMETERS"),
            dict(method="GET", path="/api/executions", query={text: "1"}, status=400, code="INVALID_PARAMETERS"),
            dict(method="GET", path="/api/services", query={"enabled": text}, status=400, code="INVALID_PARAMETERS"),
        ]
    # conninfo that libpq reads as something else, or cannot read
    conninfos = (["dbname", "host=/tmp dbname=demo password=plain", "postgresql://u:plain@/demo"] if clean else
                 [f"dbname=demo'; DROP TABLE demo.customer; --{TOKEN}", f"host=/tmp dbname={TOKEN} password={TOKEN}",
                  f"postgresql://u:{TOKEN}@/demo"])
    for conninfo in conninfos:
        requests_.append(dict(method="POST", path="/api/connections", json={
            "name": "inj_conn_" + uuid.uuid5(uuid.NAMESPACE_OID, conninfo).hex[:8], "conninfo": conninfo},
            status=400, code="INVALID_PARAMETERS"))
    # bodies: NUL bytes, huge numbers, deep nesting, overlong strings
    requests_ += [
        dict(method="POST", path="/api/services/customer_get/execute",
             data=(b'{"p_id": 1, "x": "a\\u0000' + TOKEN.encode() + b'"}') if not clean else b'{"p_id": 1, "x": "a"}',
             status=400, code="INVALID_PARAMETERS"),
        dict(method="POST", path="/api/services/customer_get/execute",
             data=b'{"p_id": 1e400}' if not clean else b'{"p_id": 1.5}', status=400, code="INVALID_PARAMETERS"),
        dict(method="POST", path="/api/services/customer_get/execute",
             json={"p_id": "1" * 40} if not clean else {"p_id": 3_000_000_000}, status=400, code="INVALID_PARAMETERS"),
        dict(method="POST", path="/api/services/echo_types/execute",
             json={"p_numeric": "9" * 40 if not clean else "1.5"}, status=200),
        dict(method="POST", path="/api/services/customer_get/execute", data=deep if not clean else b'{"p_id": [[1]]}',
             status=400, code="INVALID_PARAMETERS"),
        dict(method="POST", path="/api/services/customer_get/execute",
             json={"p_id": (TOKEN * 20_001) if not clean else "a" * 100_001}, status=400, code="INVALID_PARAMETERS"),
        dict(method="POST", path="/api/services/echo_types/execute",
             json={"p_jsonb": {a: {b: [a, {"$1": b}]}}}, status=200),
    ]
    return requests_


CLEAN_TEXTS = ["plain text", "another value", "ordinary_name", "x1", "abc", "O'Brien", "Ærøskøbing",
               "Straße", "naïve", "日本語", "tab\tseparated"]


def _send(spo, request: dict) -> requests.Response:
    kwargs = {"timeout": 60, "params": request.get("query")}
    if "json" in request:
        kwargs["json"] = request["json"]
    if "data" in request:
        kwargs["data"] = request["data"]
        kwargs["headers"] = {"Content-Type": "application/json"}
    if "headers" in request:
        kwargs["headers"] = request["headers"]
    return requests.request(request["method"], spo.url(request["path"]), **kwargs)


def _check(request: dict, response: requests.Response, hostile: bool):
    label = f"{request['method']} {request['path']} {request.get('query') or ''} -> {response.status_code} " \
            f"{response.text[:300]}"
    assert response.headers.get("Content-Type", "").startswith("application/json"), label
    body = response.json()
    if request["status"] >= 400:
        assert 400 <= response.status_code < 500, label
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "reference", "details"}, label
        if hostile:
            codes = request["code"] if isinstance(request["code"], tuple) else (request["code"],)
            assert response.status_code == request["status"] and body["error"]["code"] in codes, label
    else:
        assert response.status_code == 200, label
        if "echo" in request:
            name, value = request["echo"]
            assert body["data"][name] == value, label
        if "items" in request:
            assert len(body["items"]) == request["items"], label


# Statements some process of the pool may run at any moment, whatever the requests: the sweep of
# expired idempotency keys, the queue consumers' safety-net poll and the workers' upkeep of the
# coming days' execution partitions.
BACKGROUND = re.compile(r"spo\.idempotency_key|spo\.execution_job|spo\.create_execution_partitions|pg_notify|LISTEN ")


@pytest.fixture
def statement_log(spo):
    log = StatementLog(spo)
    log.enable()
    try:
        yield log
    finally:
        log.disable()


def test_hostile_input_changes_no_statement_and_appears_only_as_bind_values(spo, statement_log):
    tables = ("SELECT count(*) FROM pg_class WHERE relnamespace = 'demo'::regnamespace",
              "SELECT count(*) FROM pg_class WHERE relnamespace = 'spo'::regnamespace")
    tables_before = (spo.psql(tables[0], db="demo"), spo.psql(tables[1]))
    services_before = spo.psql("SELECT count(*) || ' ' || count(*) FILTER (WHERE name LIKE 'inj_%') FROM spo.service")
    connections_before = spo.psql("SELECT count(*) FROM spo.connection")
    start = statement_log.mark()
    for request in _corpus(CLEAN_TEXTS, clean=True):
        _check(request, _send(spo, request), hostile=False)
    middle = statement_log.mark()
    for request in _corpus(HOSTILE_TEXTS, clean=False):
        _check(request, _send(spo, request), hostile=True)
    end = statement_log.mark()

    clean_records = statement_log.between(start, middle)
    hostile_records = statement_log.between(middle, end)
    clean, hostile = statements(clean_records), statements(hostile_records)
    assert clean and hostile
    only_hostile = {s for s in hostile - clean if not BACKGROUND.search(s)}
    only_clean = {s for s in clean - hostile if not BACKGROUND.search(s)}
    assert not only_hostile, "statements only the hostile run made:\n" + "\n".join(sorted(only_hostile))
    assert not only_clean, "statements only the clean run made:\n" + "\n".join(sorted(only_clean))

    leaks = [s for s in hostile if TOKEN in s or any(text in s for text in HOSTILE_TEXTS)]
    assert not leaks, "hostile text inside statement texts:\n" + "\n".join(leaks)
    # Where the hostile texts did reach PostgreSQL: as values, on the parameter lines.
    values = "\n".join(parameter_lines(hostile_records))
    assert TOKEN in values
    for text in HOSTILE_TEXTS:
        assert text.replace("'", "''") in values, f"{text!r} never reached PostgreSQL as a bind value"
    # And nothing changed: no table dropped, no service written.
    assert (spo.psql(tables[0], db="demo"), spo.psql(tables[1])) == tables_before
    assert spo.psql("SELECT count(*) || ' ' || count(*) FILTER (WHERE name LIKE 'inj_%') FROM spo.service") \
        == services_before
    assert spo.psql("SELECT count(*) FROM spo.connection") == connections_before
    assert spo.execute("customer_get", {"p_id": 1}).status_code == 200
    print(f"\n{len(hostile)} distinct statements in each run; {len(parameter_lines(hostile_records))} "
          f"parameter lines in the hostile one:\n" + "\n".join(sorted(s[:160] for s in hostile)))
