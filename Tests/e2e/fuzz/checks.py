"""Schemathesis hooks of the fuzz run (Tests/e2e/test_fuzz.py, Tests/e2e/fuzz/schemathesis.toml).

`not_a_server_error` is configured to let 502, 503 and 504 through, the statuses the error table
documents for a database's failure; this check says which of them are really that. A 5xx passes
only when

- the operation's responses document the status,
- the operation reaches a database on the caller's behalf: an execution (the two execute paths and
  reprocessing) — administration reads and writes only the control database, which is up for the
  whole run, so a 5xx there is the server's fault, and
- the body's error code is the database failure documented for that status (`SP_EXECUTION_FAILED`
  502 for what the procedure raised, `DB_CONNECTION_FAILED` 503 with a connection SQLSTATE,
  `CIRCUIT_OPEN` 503, `TIMEOUT` 504).

So `INTERNAL_ERROR` (500), nginx's `POOL_UNAVAILABLE` (502: a worker died), `AUDIT_UNAVAILABLE`
(503) and any 5xx of an administration endpoint fail the run.
"""

from __future__ import annotations

import json
import re

import schemathesis

# Status → the error codes that mean "a database failed", as README's error table documents them.
DATABASE_FAILURES = {
    502: {"SP_EXECUTION_FAILED"},
    503: {"DB_CONNECTION_FAILED", "CIRCUIT_OPEN"},
    504: {"TIMEOUT"},
}
# SQLSTATE classes of an unreachable or failing database: connection exception, insufficient
# resources, operator intervention (shutdown, cancel), system error.
CONNECTION_CLASSES = {"08", "53", "57", "58"}
EXECUTIONS = re.compile(r"^/api/(services/[^/]+/execute|execute|executions/\{id\}/reprocess)$")


@schemathesis.check
def documented_database_failure(ctx, response, case):
    """A 5xx is a documented database failure of an execution, never the server's own."""
    status = response.status_code
    if status < 500:
        return None
    label = case.operation.label
    documented = {str(key) for key in (case.operation.definition.raw.get("responses") or {})}
    if str(status) not in documented:
        raise AssertionError(f"{label} answered {status}, which its responses do not document")
    if not EXECUTIONS.match(case.operation.path):
        raise AssertionError(
            f"{label} answered {status}: administration touches only the control database, which is up")
    try:
        error = json.loads(response.content)["error"]
        code = error["code"]
    except (ValueError, KeyError, TypeError):
        raise AssertionError(f"{label} answered {status} without the error shape: {response.content[:300]!r}")
    allowed = DATABASE_FAILURES.get(status, set())
    if code not in allowed:
        raise AssertionError(
            f"{label} answered {status} {code}; a database failure with this status is one of {sorted(allowed)}")
    if code == "DB_CONNECTION_FAILED":
        states = [item.get("sqlstate") for item in error.get("details") or [] if isinstance(item, dict)]
        if not any(isinstance(s, str) and s[:2] in CONNECTION_CLASSES for s in states):
            raise AssertionError(f"{label} answered DB_CONNECTION_FAILED without a connection SQLSTATE: {error}")
    return None
