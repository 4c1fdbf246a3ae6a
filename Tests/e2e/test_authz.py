"""Authentication that fails closed, through the real stack: without a key only services marked
`"public": true` run; `/api/openapi.json` lists for each caller only what it may call; a fresh
`spo serve` without any key is as closed; and a flood of keyless junk adds a bounded number of
error rows (the rest counted in /metrics)."""
from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
import time
import uuid

import requests

from e2e_support import fastcgi, wait_for

NO_KEY = {"Authorization": ""}


def _key(spo, *grants: str, role: str = "executor") -> str:
    args = ["keys", "create", "--name", f"authz-{uuid.uuid4().hex[:6]}", "--role", role,
            "--control", spo.env["SPO_CONTROL_DB"]]
    for grant in grants:
        args += ["--grant", grant]
    return spo.spo(*args).stdout.strip()


def _refused(response, code="UNAUTHORIZED", status=401):
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_without_a_key_only_public_services_run(spo):
    public = requests.post(spo.url("/api/services/customer_count/execute"), json={}, headers=NO_KEY, timeout=30)
    assert public.status_code == 200, public.text
    execution = public.json()["execution_id"]
    assert spo.psql(f"SELECT user_name FROM spo.service_execution WHERE id = '{execution}'").strip() == "anonymous"
    envelope = requests.post(spo.url("/api/execute"), json={"service": "echo_types", "parameters": {}},
                             headers=NO_KEY, timeout=30)
    assert envelope.status_code == 200, envelope.text

    # A private service, a missing one and a bad body to a private one: the same 401, nothing audited.
    before = spo.psql("SELECT count(*) FROM spo.service_execution WHERE service_name = 'customer_get'").strip()
    for path, body in (("/api/services/customer_get/execute", {"p_id": 1}),
                       ("/api/services/no_such_service/execute", {}),
                       ("/api/services/customer_get/execute", {"p_nope": 1})):
        response = requests.post(spo.url(path), json=body, headers=NO_KEY, timeout=30)
        _refused(response)
        assert "only services marked public" in response.json()["error"]["message"]
    _refused(requests.post(spo.url("/api/execute"), json={"service": "customer_get", "parameters": {"p_id": 1}},
                           headers=NO_KEY, timeout=30))
    after = spo.psql("SELECT count(*) FROM spo.service_execution WHERE service_name = 'customer_get'").strip()
    assert before == after

    # Queued executions are read back by the key that queued them: none without a key.
    _refused(requests.post(spo.url("/api/services/customer_count/execute"), json={},
                           headers={**NO_KEY, "Prefer": "respond-async"}, timeout=30))
    _refused(requests.get(spo.url(f"/api/executions/{execution}"), headers=NO_KEY, timeout=30))
    _refused(requests.post(spo.url("/api/executions/status"), json={"ids": [execution]}, headers=NO_KEY, timeout=30))
    # Administration needs an admin key; health and the document stay open.
    _refused(requests.get(spo.url("/api/services"), headers=NO_KEY, timeout=30))
    assert requests.get(spo.url("/api/health"), headers=NO_KEY, timeout=30).status_code == 200


def test_public_round_trips_through_the_api_and_takes_effect_live(spo, pool):
    name = f"authz_count_{uuid.uuid4().hex[:6]}"
    document = {"name": name, "connection": "demo", "procedure": "demo.customer_count",
                "parameters": "discover", "public": True}
    created = requests.post(spo.url("/api/services"), json=document, timeout=30)
    assert created.status_code == 201, created.text
    stored = requests.get(spo.url(f"/api/services/{name}"), timeout=30).json()
    assert stored["public"] is True
    path = spo.url(f"/api/services/{name}/execute")
    wait_for(lambda: requests.post(path, json={}, headers=NO_KEY, timeout=30).status_code == 200, 10,
             interval=0.05, message="the public service to run without a key")

    stored["public"] = False
    replaced = requests.put(spo.url(f"/api/services/{name}"), json=stored, timeout=30)
    assert replaced.status_code == 200 and replaced.json()["public"] is False, replaced.text

    def closed_everywhere():
        return all(fastcgi(pool.direct_path(slot), "POST", f"/api/services/{name}/execute", b"{}",
                           headers=NO_KEY).status == 401 for slot in pool.workers())
    wait_for(closed_everywhere, 10, interval=0.05, message="every worker to refuse it without a key")
    exported = {service["name"]: service for service in
                json.loads(spo.spo("services", "export", "--control", spo.env["SPO_CONTROL_DB"]).stdout)["services"]}
    assert exported["customer_count"]["public"] is True and exported[name]["public"] is False
    assert exported["customer_get"]["public"] is False
    assert requests.delete(spo.url(f"/api/services/{name}"), timeout=30).status_code == 204


def _paths(spo, headers) -> set[str]:
    response = requests.get(spo.url("/api/openapi.json"), headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return set(response.json()["paths"])


def test_the_document_lists_what_each_caller_may_call(spo):
    anonymous = _paths(spo, NO_KEY)
    assert anonymous == {"/api/services/customer_count/execute", "/api/services/echo_types/execute",
                         "/api/execute", "/api/health", "/api/openapi.json", "/metrics"}
    executor = _paths(spo, {"Authorization": "Bearer " + _key(spo, "customer_get")})
    assert "/api/services/customer_get/execute" in executor
    assert "/api/services/customer_count/execute" not in executor  # its grants, not the public list
    assert {"/api/executions/{id}", "/api/executions/status"} <= executor
    assert not {"/api/services", "/api/executions", "/api/stats"} & executor
    admin = _paths(spo, {})  # the suite's admin key
    assert admin > executor | anonymous and "/api/services/{name}" in admin
    # A key sent with the request must be valid, as everywhere.
    _refused(requests.get(spo.url("/api/openapi.json"), headers={"Authorization": "Bearer nonsense"}, timeout=30))


def test_a_fresh_serve_without_keys_fails_closed(spo, tmp_path):
    """`spo serve` on a new control database with the example services and no key at all."""
    database = f"authz_fresh_{uuid.uuid4().hex[:6]}"
    spo.psql(f"CREATE DATABASE {database}", db="postgres")
    control = spo.env["SPO_CONTROL_DB"].replace("dbname=spo", f"dbname={database}")
    assert control != spo.env["SPO_CONTROL_DB"]
    exported = tmp_path / "services.json"
    exported.write_text(spo.spo("services", "export", "--control", spo.env["SPO_CONTROL_DB"]).stdout)
    spo.spo("migrate", "--control", control)
    spo.spo("services", "import", str(exported), "--control", control)
    assert spo.psql("SELECT count(*) FROM spo.api_key", db=database).strip() == "0"
    run = f"/tmp/spo-fresh-{uuid.uuid4().hex[:6]}"
    os.mkdir(run)
    site = tmp_path / "site.conf"
    site.write_text(f"upstream spo_pool {{\n    server unix:{run}/w0.sock;\n}}\n")
    process = subprocess.Popen([spo.spo_bin, "serve", "--nginx", str(site), "--consumers", "0", "--control", control],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: os.path.exists(f"{run}/w0.sock.direct"), 30, interval=0.1, message="the fresh worker")

        def call(path, body=b"{}", method="POST"):
            return fastcgi(f"{run}/w0.sock.direct", method, path, body, headers=NO_KEY)
        wait_for(lambda: call("/api/health", b"", "GET").status == 200, 30, interval=0.1, message="health")
        private = call("/api/services/customer_get/execute", b'{"p_id": 1}')
        assert private.status == 401 and private.json()["error"]["code"] == "UNAUTHORIZED", private.body
        assert call("/api/services/customer_count/execute").status == 200
        assert call("/api/services", b"", "GET").status == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
        spo.psql(f"DROP DATABASE {database} WITH (FORCE)", db="postgres")


def _dropped(spo) -> float:
    text = requests.get(spo.url("/metrics"), headers={"Authorization": None}, timeout=30).text
    return sum(float(value) for value in re.findall(r"^spo_error_rows_dropped_total\{[^}]*\} (\S+)$", text, re.M))


def test_a_flood_of_keyless_junk_adds_at_most_the_budget_of_error_rows(spo, pool):
    """2,000 unauthenticated 404s and 401s (from loopback, which nginx does not rate-limit): each
    worker writes at most 10 error rows per second of them; the rest are answered alike and
    counted as dropped."""
    tag = f"flood-{uuid.uuid4().hex[:8]}"
    dropped_before = _dropped(spo)
    session_pool = [requests.Session() for _ in range(8)]

    def one(n):
        session = session_pool[n % len(session_pool)]
        headers = {**NO_KEY, "X-Correlation-ID": f"{tag}-{n}"}
        if n % 2:
            return session.get(spo.url(f"/api/no/such/{n}"), headers=headers, timeout=30)
        return session.post(spo.url("/api/services/customer_get/execute"), json={}, headers=headers, timeout=30)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as threads:
        answers = list(threads.map(one, range(2000)))
    elapsed = time.monotonic() - started
    assert {a.status_code for a in answers} == {401, 404}
    references = [a.json()["error"]["reference"] for a in answers]
    rows = int(spo.psql(f"SELECT count(*) FROM spo.service_error WHERE correlation_id LIKE '{tag}-%'").strip())
    workers = len(pool.workers())
    budget = workers * 10 * (elapsed + 1)
    assert rows == sum(1 for r in references if r is not None)
    assert 0 < rows <= budget, (rows, budget, elapsed)
    assert rows < 2000 / 2, (rows, elapsed)
    wait_for(lambda: _dropped(spo) - dropped_before == 2000 - rows, 5, interval=0.1,
             message="every error row not written counted in spo_error_rows_dropped_total")
    # A keyed caller's mistakes are always recorded.
    keyed = requests.get(spo.url("/api/no/such/thing"), timeout=30)
    assert keyed.status_code == 404 and keyed.json()["error"]["reference"] is not None
