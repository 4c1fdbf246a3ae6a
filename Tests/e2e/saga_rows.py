"""Saga log rows (migration 12) written straight into the control database with SQL, as the saga
engine writes them, for tests of the read API and the admin page's timeline."""

from __future__ import annotations

import json
import secrets
import time

_last_ms = 0


def uuid7() -> str:
    """A time-ordered id like the server's (UUIDv7): each one newer than the one before."""
    global _last_ms
    now = max(time.time_ns() // 1_000_000, _last_ms + 1)
    _last_ms = now
    value = (now << 80) | (0x7 << 76) | (secrets.randbits(12) << 64) | (0b10 << 62) | secrets.randbits(62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _literal(value) -> str:
    if value is None:
        return "NULL"
    text = value if isinstance(value, str) else json.dumps(value)
    return "'" + text.replace("'", "''") + "'"


def insert_saga(spo, service: str = "order_saga", state: str = "completed", owner_key: str | None = None,
                steps: list[dict] | None = None, error: dict | None = None, execution_ids: list[str] | None = None
                ) -> str:
    """One saga with its steps (each {"name", "state", "compensation": state or None, "output"}),
    their compensations and its events, in timeline order; returns its id."""
    saga_id = uuid7()
    steps = steps if steps is not None else [{"name": "reserve", "state": "done"}]
    last = steps[-1]["name"] if steps else None
    sql = [
        "BEGIN;",
        "INSERT INTO spo.saga (id, service_name, state, last_step, input, error, owner_key, correlation_id, deadline,"
        " started_at, updated_at, finished_at) VALUES"
        f" ('{saga_id}', {_literal(service)}, {_literal(state)}, {_literal(last)},"
        f" '{{\"p_customer\": 7}}', {_literal(error)}::jsonb, {_literal(owner_key)}, 'corr-{saga_id}',"
        " now() + interval '1 minute', now() - interval '3 s', now(),"
        f" {'NULL' if state in ('started', 'step_done', 'compensating') else 'now()'});",
        f"INSERT INTO spo.saga_event (saga_id, event, detail) VALUES ('{saga_id}', 'saga_started', '{{\"steps\": {len(steps)}}}');",
    ]
    for position, step in enumerate(steps):
        execution_id = (execution_ids or [])[position] if execution_ids and position < len(execution_ids) else uuid7()
        output = step.get("output", [{"id": position * 10}] if step["state"] == "done" else None)
        step_error = step.get("error", {"code": "SP_EXECUTION_FAILED", "message": "no stock"}
                              if step["state"] == "failed" else None)
        sql += [
            f"INSERT INTO spo.saga_event (saga_id, step, event) VALUES ('{saga_id}', {_literal(step['name'])}, 'step_started');",
            "INSERT INTO spo.saga_step (saga_id, position, name, service_name, state, execution_id, input, output, error,"
            " started_at, finished_at) VALUES"
            f" ('{saga_id}', {position}, {_literal(step['name'])}, {_literal(step['name'] + '_service')},"
            f" {_literal(step['state'])}, '{execution_id}', '{{\"p_step\": {position}}}', {_literal(output)}::jsonb,"
            f" {_literal(step_error)}::jsonb, now() - interval '2 s' + interval '{position * 100} ms',"
            f" now() - interval '2 s' + interval '{position * 100 + 40} ms');",
            f"INSERT INTO spo.saga_event (saga_id, step, event) VALUES ('{saga_id}', {_literal(step['name'])},"
            f" '{'step_failed' if step['state'] == 'failed' else 'step_done'}');",
        ]
    for position, step in reversed(list(enumerate(steps))):
        compensation = step.get("compensation")
        if not compensation:
            continue
        comp_error = {"code": "DB_CONNECTION_FAILED", "message": "payments is down"} if compensation == "failed" else None
        sql += [
            "INSERT INTO spo.saga_compensation (saga_id, position, service_name, state, attempts, execution_id, input,"
            " error, started_at, finished_at) VALUES"
            f" ('{saga_id}', {position}, {_literal(step['name'] + '_undo')}, {_literal(compensation)}, 3, '{uuid7()}',"
            f" '{{\"p_id\": {position * 10}}}', {_literal(comp_error)}::jsonb, now() - interval '1 s', now());",
            f"INSERT INTO spo.saga_event (saga_id, step, event) VALUES ('{saga_id}', {_literal(step['name'])},"
            f" '{'compensation_failed' if compensation == 'failed' else 'compensation_done'}');",
        ]
    final = {"completed": "saga_completed", "compensated": "saga_compensated",
             "compensation_failed": "saga_compensation_failed", "failed": "saga_failed"}.get(state)
    if final:
        sql.append(f"INSERT INTO spo.saga_event (saga_id, event) VALUES ('{saga_id}', '{final}');")
    sql.append("COMMIT;")
    spo.psql("\n".join(sql))
    return saga_id
