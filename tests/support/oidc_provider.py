"""A real OpenID provider for the single sign-on tests: the npm package `oidc-provider`, run by
tests/support/oidc/provider.js on 127.0.0.1 with an http issuer, its package installed once into
the npm cache of tests/support/npm.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.npm import npm_packages
from tests.support.server import free_port

PROVIDER_DIR = Path(__file__).parent / "oidc"
CLIENT_ID = "flagyard-console"
CLIENT_SECRET = "test-client-secret-that-is-long-enough"


def provider_packages() -> list[str]:
    """`name@version` for each dependency pinned in tests/support/oidc/package.json."""
    manifest = json.loads((PROVIDER_DIR / "package.json").read_text())
    return [f"{name}@{version}" for name, version in sorted(manifest["dependencies"].items())]


@dataclass
class Provider:
    issuer: str
    accounts_file: Path
    process: subprocess.Popen[bytes]

    def set_account(self, email: str, **claims: Any) -> None:
        """The claims `email` gets at its next sign-in (the provider reads them then)."""
        accounts = json.loads(self.accounts_file.read_text())
        accounts[email] = claims
        self.accounts_file.write_text(json.dumps(accounts))


def require_node() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are missing: apt-get install -y nodejs npm")


@contextmanager
def running_provider(redirect_uri: str, work_dir: Path, port: int | None = None) -> Iterator[Provider]:
    """A provider at http://127.0.0.1:<port> with one client for `redirect_uri`; any login with
    any password signs in as that email, with the claims set by `Provider.set_account`."""
    require_node()
    modules = npm_packages(*provider_packages()) / "node_modules"
    port = port or free_port()
    accounts_file = work_dir / "oidc-accounts.json"
    accounts_file.write_text("{}")
    settings = {"port": port, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "redirectUri": redirect_uri, "accountsFile": str(accounts_file),
                "modules": str(modules)}
    log_path = work_dir / "oidc-provider.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["node", str(PROVIDER_DIR / "provider.js"), json.dumps(settings)],
                                   stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(os.environ))
    provider = Provider(f"http://127.0.0.1:{port}", accounts_file, process)
    try:
        _wait_until_up(provider, log_path)
        yield provider
    finally:
        if process.stdin:
            process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(provider: Provider, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if provider.process.poll() is not None:
            raise RuntimeError(f"the OpenID provider exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the OpenID provider did not come up: {log_path.read_text()}")
