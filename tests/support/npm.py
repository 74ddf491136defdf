"""npm packages for the client tests, installed once per set of versions into a cache outside
the repository (XDG cache, or FLAGYARD_NPM_CACHE), so later sessions start at once."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def cache_root() -> Path:
    configured = os.environ.get("FLAGYARD_NPM_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "flagyard-tests" / "npm"


def npm_packages(*specs: str) -> Path:
    """A directory whose node_modules holds exactly `specs` (`name@version`), installing
    them the first time. Raises when npm is missing: CI installs Node and npm."""
    digest = hashlib.sha256("\n".join(sorted(specs)).encode()).hexdigest()[:16]
    target = cache_root() / digest
    if (target / "node_modules").is_dir() and (target / ".complete").exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: `apt-get install -y nodejs npm` (./scripts/test does as root)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{digest}-", dir=target.parent))
    try:
        subprocess.run([npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund",
                        "--loglevel=error", *specs], check=True, capture_output=True, timeout=600)
        (staging / ".complete").write_text("\n".join(specs) + "\n")
        if target.exists() and not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)  # a broken earlier attempt
        try:
            staging.rename(target)
        except OSError:  # another session finished the same install first
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
