"""The HTTPS example of nginx/spo.conf, rendered and run: a self-signed certificate made here with
openssl, the `#https ` lines of the instance's site file switched on, a second nginx master on
free ports in front of the same pool, and the API called over TLS with the certificate as the only
CA. Every answer carries the security headers; HSTS goes out over TLS only."""
from __future__ import annotations

import os
import re
import signal
import subprocess

import pytest
import requests

from e2e_support import AUTH, wait_for
from conftest import _free_port

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
HSTS = "max-age=31536000; includeSubDomains"


@pytest.fixture(scope="module")
def tls(spo, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    certificate, key = directory / "spo.crt", directory / "spo.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=60)
    os.chmod(directory, 0o755)
    http_port = _free_port(spo.http_port + 1000, {spo.http_port})
    https_port = _free_port(http_port + 1, {spo.http_port, http_port})
    site = open(spo.site_path).read()
    assert "#https listen 8443 ssl" in site, "the shipped site file has no HTTPS example"
    site = re.sub(r"^(\s*)#https ", r"\1", site, flags=re.M)
    site = site.replace("/etc/spo/tls/fullchain.pem", str(certificate)).replace("/etc/spo/tls/privkey.pem", str(key))
    site = site.replace(f"listen 127.0.0.1:{spo.http_port};", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 8443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    (directory / "site.conf").write_text(site)
    main = open(os.path.join(os.path.dirname(spo.site_path), "nginx.conf")).read()
    main = main.replace(f"include {spo.site_path};", f"include {directory / 'site.conf'};")
    main = re.sub(r"^pid .*;$", f"pid {directory / 'nginx.pid'};", main, flags=re.M)
    (directory / "nginx.conf").write_text(main)
    subprocess.run(["nginx", "-t", "-c", str(directory / "nginx.conf")], check=True, capture_output=True, timeout=30)
    subprocess.run(["nginx", "-c", str(directory / "nginx.conf")], check=True, capture_output=True, timeout=30)
    base = f"https://127.0.0.1:{https_port}"

    def up():
        try:
            return requests.get(base + "/api/health", verify=str(certificate), timeout=2).status_code == 200
        except requests.RequestException:
            return False
    try:
        wait_for(up, 20, interval=0.1, message="nginx to answer over TLS")
        yield {"base": base, "plain": f"http://127.0.0.1:{http_port}", "ca": str(certificate)}
    finally:
        pid = int((directory / "nginx.pid").read_text())
        os.kill(pid, signal.SIGQUIT)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 20, interval=0.1, message="the TLS nginx to stop")


def test_the_api_over_tls_carries_the_security_headers_and_hsts(tls):
    for path, status in (("/api/health", 200), ("/api/services/customer_get/execute", 200), ("/api/nope", 404),
                         ("/admin/", 200), ("/docs/", 200), ("/docs/swagger-initializer.js", 200), ("/nothing", 404)):
        method = "POST" if path.endswith("/execute") else "GET"
        response = requests.request(method, tls["base"] + path, json={"p_id": 1} if method == "POST" else None,
                                    headers=AUTH, verify=tls["ca"], timeout=30)
        assert response.status_code == status, (path, response.text[:200])
        for name, value in SECURITY.items():
            assert response.headers.get(name) == value, (path, name, response.headers)
        assert response.headers.get("Strict-Transport-Security") == HSTS, (path, response.headers)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
    executed = requests.post(tls["base"] + "/api/services/customer_get/execute", json={"p_id": 1},
                             headers=AUTH, verify=tls["ca"], timeout=30).json()
    assert executed["status"] == "succeeded" and executed["data"][0]["id"] == 1


def test_the_certificate_is_checked_and_plain_http_gets_no_hsts(tls):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls["base"] + "/api/health", timeout=30)  # the system's CAs do not know it
    plain = requests.get(tls["plain"] + "/api/health", timeout=30)
    assert plain.status_code == 200 and "Strict-Transport-Security" not in plain.headers
    assert plain.headers["X-Frame-Options"] == "DENY"
