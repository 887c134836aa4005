"""Interop tests for slow_queries over stdio with the official Python MCP SDK: the tool is
listed with its annotations, and a call that cannot reach a database (unknown target, no
target configured, nothing listening) is a tool error (isError) that says what to do, names
the target, never contains the password, and leaves the session serving.

The database-backed behaviour is tested against real servers by scripts/db.sh.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from test_stdio import BASE_CAPACITY, connect, dump

pytestmark = pytest.mark.anyio

PLANTED_PASSWORD = "Interop-Planted-pw-6d1e"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_slow_queries_is_listed_read_only_and_open_world(pwt_bin, server_env, stderr_path):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        tools = await conn.tools()
        assert "slow_queries" in tools, f"listed: {sorted(tools)}"
        tool = tools["slow_queries"]
        assert tool.annotations.read_only_hint is True, dump(tool.annotations)
        assert tool.annotations.open_world_hint is True, dump(tool.annotations)
        props = tool.input_schema.get("properties", {})
        for field in ("target", "limit", "order_by", "min_mean_ms", "include_running",
                      "running_min_seconds", "sample_seconds"):
            assert field in props, f"inputSchema lacks {field}: {sorted(props)}"
        assert not [k for k in props if "pass" in k or "url" in k], f"secret-shaped inputs: {sorted(props)}"
        out = tool.output_schema.get("properties", {})
        for field in ("engine", "server_version", "statements", "running", "workload", "waits",
                      "hints", "truncated", "verdict", "evidence", "next_steps", "warnings"):
            assert field in out, f"outputSchema lacks {field}: {sorted(out)}"


async def test_unconfigured_and_unknown_targets_are_helpful_tool_errors(
    pwt_bin, server_env, stderr_path
):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        text = await conn.tool_error("slow_queries", {})
        assert "DATABASE_URL" in text and "PWT_CONFIG" in text, text
        text = await conn.tool_error("slow_queries", {"target": "prod"})
        assert "unknown database target `prod`" in text, text
        text = await conn.tool_error("slow_queries", {"target": "postgres://u:pw@db/x"})
        assert "target" in text and "connection string" in text, text
        sc = await conn.ok("capacity_math", BASE_CAPACITY)
        assert sc.get("total_workers") == 128, dump(sc)


async def test_unreachable_target_names_it_and_hides_the_password(
    pwt_bin, server_env, stderr_path, tmp_path: Path
):
    port = closed_port()
    config = tmp_path / "pwt.toml"
    config.write_text(
        "[settings]\ntimeout_seconds = 3\n\n"
        f'[targets.shop]\nurl = "postgresql://monitor@127.0.0.1:{port}/shop"\n'
        'password_env = "SHOP_DB_PASSWORD"\n\n'
        f'[targets.orders]\nurl = "mysql://monitor:{PLANTED_PASSWORD}@127.0.0.1:{port}/orders"\n',
        encoding="utf-8",
    )
    env = dict(server_env, PWT_CONFIG=str(config), SHOP_DB_PASSWORD=PLANTED_PASSWORD, RUST_LOG="debug")
    async with connect(pwt_bin, env, stderr_path) as conn:
        text = await conn.tool_error("slow_queries", {"target": "nope"})
        assert "unknown database target `nope`" in text and "orders, shop" in text, text
        for target in ("shop", "orders"):
            text = await conn.tool_error("slow_queries", {"target": target})
            assert f"target `{target}`" in text and str(port) in text, text
            assert "refused" in text.lower(), text
            assert PLANTED_PASSWORD not in text, text
        sc = await conn.ok("capacity_math", BASE_CAPACITY)
        assert sc.get("total_workers") == 128, dump(sc)
    log = stderr_path.read_text(encoding="utf-8", errors="replace")
    failures = [line for line in log.splitlines() if "source failed" in line and "slow_queries" in line]
    kinds = sorted(line.split("kind=", 1)[1].split(" ", 1)[0] for line in failures)
    # The unknown target is not configured; the two refused connections are unreachable.
    assert kinds == ['"not_configured"', '"unreachable"', '"unreachable"'], failures
    assert PLANTED_PASSWORD not in log, "the password reached the server's log"
