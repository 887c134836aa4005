"""Fixtures for the stdio interop suite: the real server binary driven by the official
Python MCP SDK (PyPI `mcp`, see requirements.txt).

    bash scripts/venv.sh pyenv tests/interop/requirements.txt && target/pyenv/bin/pytest -q tests/interop

Environment:
    PWT_BIN   the server binary (default <repo>/target/debug/python-web-troubleshooter).
              A missing binary fails every test; it is never a skip.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "python-web-troubleshooter"


def _binary_path() -> Path:
    return Path(os.environ.get("PWT_BIN") or DEFAULT_BIN)


def pytest_report_header(config: pytest.Config) -> str:
    path = _binary_path()
    state = "found" if path.is_file() else "MISSING"
    return f"python-web-troubleshooter binary: {path} ({state})"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # The SDK is anyio-based; run every async test on asyncio through anyio's pytest plugin.
    return "asyncio"


@pytest.fixture(scope="session")
def pwt_bin() -> Path:
    path = _binary_path()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"server binary {path} does not exist or is not executable: "
            "run `cargo build` in the repo (or set PWT_BIN to the binary to test)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def cargo_version() -> str:
    """The `version` of the [package] in the repo's Cargo.toml."""
    text = (REPO / "Cargo.toml").read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+

        version = tomllib.loads(text)["package"]["version"]
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        section = re.search(r"^\[package\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        assert section, "no [package] section in Cargo.toml"
        match = re.search(r'^version\s*=\s*"([^"]+)"', section.group(1), re.M)
        assert match, "no version in Cargo.toml [package]"
        version = match.group(1)
    assert isinstance(version, str) and version, "empty version in Cargo.toml"
    return version


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    """A minimal, clean environment for the server: no DATABASE_URL, no PWT_*, no AWS credentials.

    HOME points at an empty directory so no ~/.pgpass, ~/.aws or config file of the
    machine running the tests can leak in.
    """
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        # The AWS default chain must never reach for the instance metadata service: tests
        # talk to loopback only.
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture
def stderr_path(tmp_path: Path) -> Path:
    """Where the server's stderr goes (its logs); checked for panics after every session."""
    return tmp_path / "server-stderr.log"
