"""Fuzzing from our own contract: schemathesis reads /api/openapi.json of a live instance and calls
every operation the document describes, with an executor key and with an admin key, and checks
every answer against the document (Tests/e2e/fuzz/schemathesis.toml: seed, budget, checks;
Tests/e2e/fuzz/checks.py: which 5xx are a documented database failure).

The instance is its own `spo dev` (the fuzzer deletes and rewrites configuration, so it must not
share the suite's). The runs, in order:

1. the executor key (granted some services): every operation — the administration ones answer 403;
2. the admin key, every operation but DELETE: configuration writes with generated documents;
3. a check that those writes broke nothing: the example services answer the calls they answered
   before (those the fuzzer left as they were), the stored configuration exports and imports again,
   and every worker still serves the document;
4. the admin key, the DELETE operations (and the reads, which tell it the names): deleting the
   examples is fine here;
5. the instance still answers.

A failure prints schemathesis's report: the operation, what was wrong, and a curl command that
reproduces the request (README, Tests, says how to run it alone).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import requests
from conftest import _free_port, _parse_env, _spo_binary
from e2e_support import REPO, Instance, fastcgi, wait_for

CONFIG = REPO / "Tests" / "e2e" / "fuzz" / "schemathesis.toml"
SCHEMATHESIS = REPO / ".build" / "venv" / "bin" / "schemathesis"
# Services the executor key may run; the others answer it 403, as the document says.
GRANTS = ["customer_get", "customer_search", "echo_types", "business_failure", "slow", "big_numbers"]
RUN_TIMEOUT = 300

# Calls whose answers depend on nothing the fuzzer can change but the services themselves (it runs
# transfers and adds notes, so balances and note counts are not among them).
KNOWN_CALLS = [
    ("customer_get", {"p_id": 42}),
    ("customer_search", {"p_name": "no such customer, surely"}),
    ("echo_types", {"p_integer": 7, "p_text": "fuzz", "p_boolean": True}),
    ("big_numbers", {}),
    ("business_failure", {"p_code": "E042"}),
    ("slow", {"p_seconds": 0}),
]
STABLE_CUSTOMER_FIELDS = ("id", "name", "email", "created_at")


@pytest.fixture(scope="module")
def instance():
    """A `spo dev` of its own, stopped (and its state removed) after the module."""
    binary = _spo_binary()
    state_dir = tempfile.mkdtemp(prefix="spo-fuzz-", dir="/tmp")
    os.chmod(state_dir, 0o755)
    http_port = _free_port(21080 + random.randrange(0, 400), set())
    pg_port = _free_port(6900 + random.randrange(0, 400), {http_port}, unix_socket_dir=state_dir + "/pgsocket")
    output_path = state_dir + ".out"
    output = open(output_path, "wb")
    process = subprocess.Popen(
        [binary, "dev", "--state-dir", state_dir, "--port", str(http_port), "--pg-port", str(pg_port)],
        cwd=str(REPO), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    base_url = f"http://127.0.0.1:{http_port}"
    fuzzed = Instance(base_url=base_url, state_dir=state_dir, env={}, http_port=http_port, pg_port=pg_port,
                      spo_bin=binary, process=process, output_path=output_path)

    def serving():
        assert process.poll() is None, fuzzed.output()
        try:
            return os.path.exists(state_dir + "/env") and requests.get(base_url + "/api/health", timeout=2).ok
        except requests.RequestException:
            return False

    try:
        wait_for(serving, 120, interval=0.2, message="the fuzz instance to serve")
        fuzzed.env = _parse_env(state_dir + "/env")
        fuzzed.wait_pool(timeout=30)
        yield fuzzed
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        output.close()
        shutil.rmtree(state_dir, ignore_errors=True)
        os.unlink(output_path)


def schemathesis(instance: Instance, key: str, *selection: str) -> subprocess.CompletedProcess:
    """One schemathesis run against the instance's live document, with `key`; fails the test with
    schemathesis's report (each failing operation, the check, a curl command reproducing it)."""
    command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "--no-color", "run",
               instance.url("/api/openapi.json"), "-H", f"Authorization: Bearer {key}", *selection]
    started = time.monotonic()
    result = subprocess.run(command, cwd=str(REPO), capture_output=True, text=True, timeout=RUN_TIMEOUT,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    elapsed = time.monotonic() - started
    shown = " ".join(part if not part.startswith("Authorization") else "Authorization: Bearer $KEY"
                     for part in command[1:])
    print(f"\nschemathesis {shown}\n  ({elapsed:.0f} s)\n{result.stdout[-3000:]}")
    assert result.returncode == 0, (
        f"schemathesis found problems ({elapsed:.0f} s); reproduce with the curl commands below, or run "
        f"`schemathesis {shown}` against an instance of your own\n{result.stdout[-20000:]}\n{result.stderr[-3000:]}")
    return result


def executor_key(instance: Instance) -> str:
    grants = [part for service in GRANTS for part in ("--grant", service)]
    created = instance.spo("keys", "create", "--name", "fuzz-executor", "--role", "executor", *grants,
                           "--control", instance.env["SPO_CONTROL_DB"]).stdout
    key = re.search(r"spo_[0-9a-f]+_[0-9a-f]+", created).group(0)
    wait_for(lambda: all(fastcgi(instance.direct_path(slot), "POST", "/api/services/big_numbers/execute", b"{}",
                                 headers={"Authorization": f"Bearer {key}"}).status == 200
                         for slot in instance.workers()), 10, interval=0.05, message="the key known to every worker")
    return key


def admin(instance: Instance) -> dict:
    return {"Authorization": "Bearer " + instance.env["SPO_ADMIN_KEY"]}


def services(instance: Instance) -> dict:
    """Each stored service's document, without what every write changes."""
    response = requests.get(instance.url("/api/services"), headers=admin(instance), timeout=30)
    assert response.status_code == 200, response.text
    return {item["name"]: {k: v for k, v in item.items() if k not in ("id", "version")}
            for item in response.json()["items"]}


def answer(instance: Instance, service: str, parameters: dict):
    """What a call answers, without what differs between calls (ids, times); a breaker just reset
    closes on every worker within a poll interval, so CIRCUIT_OPEN is asked again for a while."""
    deadline = time.monotonic() + 5
    while True:
        response = instance.execute(service, parameters, headers=admin(instance))
        body = response.json()
        if response.status_code != 503 or body["error"]["code"] != "CIRCUIT_OPEN" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if response.status_code != 200:
        error = body["error"]
        return response.status_code, error["code"], [item.get("sqlstate") for item in error["details"]]
    data = body["data"]
    if service == "customer_get":
        data = [{field: row[field] for field in STABLE_CUSTOMER_FIELDS} for row in data]
    return response.status_code, data


def configuration_round_trips(instance: Instance):
    """What is stored can be exported and imported again: no write left a document its own checks
    refuse, and every worker still builds the document from it."""
    exported = instance.spo("services", "export", "--control", instance.env["SPO_CONTROL_DB"]).stdout
    path = instance.state_dir + "/fuzzed-export.json"
    with open(path, "w") as f:
        f.write(exported)
    instance.spo("services", "import", path, "--control", instance.env["SPO_CONTROL_DB"])
    for slot in instance.workers():
        served = fastcgi(instance.direct_path(slot), "GET", "/api/openapi.json", headers=admin(instance))
        assert served.status == 200, (slot, served.body[:500])
    health = requests.get(instance.url("/api/health/services"), headers=admin(instance), timeout=30)
    assert health.status_code == 200, health.text
    return json.loads(exported)


def test_every_operation_answers_as_its_document_says(instance):
    before = services(instance)
    expected = {service: answer(instance, service, parameters) for service, parameters in KNOWN_CALLS}
    assert expected["customer_get"][0] == 200 and expected["customer_get"][1], expected
    assert expected["business_failure"][:2] == (422, "SP_EXECUTION_FAILED"), expected

    started = time.monotonic()
    schemathesis(instance, executor_key(instance))
    schemathesis(instance, instance.env["SPO_ADMIN_KEY"], "--exclude-method", "DELETE")

    # The generated writes broke nothing: a service the fuzzer left as it was answers as before.
    # Breakers are state, not configuration: the fuzzer's calls of `slow` time out, and enough
    # timeouts open demo's breaker as documented; closed, the comparison is of configuration only.
    connections = requests.get(instance.url("/api/connections"), headers=admin(instance), timeout=30).json()
    for connection in connections["items"]:
        reset = requests.post(instance.url(f"/api/connections/{connection['name']}/breaker/reset"),
                              headers=admin(instance), timeout=30)
        assert reset.status_code == 200, reset.text
    after = services(instance)
    untouched = [service for service, _ in KNOWN_CALLS if after.get(service) == before[service]]
    assert untouched, f"the fuzzer rewrote every example service; nothing to compare: {sorted(after)}"
    for service, parameters in KNOWN_CALLS:
        if service in untouched:
            assert answer(instance, service, parameters) == expected[service], service
    configuration_round_trips(instance)

    # The reads tell the fuzzer which names exist, so its DELETEs find them.
    schemathesis(instance, instance.env["SPO_ADMIN_KEY"], "--include-method", "DELETE", "--include-method", "GET")
    configuration_round_trips(instance)
    print(f"\nfuzz runs and checks: {time.monotonic() - started:.0f} s; compared after the writes: {untouched}")
