"""The hub reachability probe goes where the download would: through the proxy named in
HTTP(S)_PROXY, around it for NO_PROXY hosts. A local stand-in proxy records what it is asked;
the hub host does not resolve, so only a request through the proxy can reach anything."""

from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub")

REPO = Path(__file__).resolve().parents[1]
HOST = "hub.invalid"  # reserved: never resolves, so a direct connection always fails


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[str] = []


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline().decode("latin-1").strip()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.server.requests.append(line)  # type: ignore[attr-defined]
        if line.startswith("CONNECT"):  # a tunnel for TLS: refused (no TLS here)
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        else:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.fixture()
def proxy() -> Iterator[_Proxy]:
    server = _Proxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def probe(url: str, **env: str) -> bool:
    """`reachable(url)` in a fresh process (the hub client reads the proxy variables once)."""
    # the probe runs only when not offline (the tests' conftest sets HF_HUB_OFFLINE)
    clean = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "HF_HUB_OFFLINE"}
    code = ("import json, sys\nfrom profiler.models.weights import reachable\n"
            "print(json.dumps(reachable(sys.argv[1], seconds=10)))\n")
    result = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                            env={**clean, **env}, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_probe_goes_through_the_proxy(proxy):
    address = f"http://127.0.0.1:{proxy.server_address[1]}"
    assert probe(f"http://{HOST}/", HTTP_PROXY=address) is True
    assert proxy.requests and proxy.requests[-1].split()[1].startswith(f"http://{HOST}/")
    probe(f"https://{HOST}/", HTTPS_PROXY=address)
    assert proxy.requests[-1].startswith(f"CONNECT {HOST}:443")


def test_no_proxy_hosts_are_asked_directly(proxy):
    address = f"http://127.0.0.1:{proxy.server_address[1]}"
    assert probe(f"http://{HOST}/", HTTP_PROXY=address, HTTPS_PROXY=address, NO_PROXY=HOST) is False
    assert probe(f"http://{HOST}/") is False
    assert proxy.requests == []
