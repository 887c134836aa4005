"""What the tools cost an agent's context: the model-facing tool list (name, description,
input schema) per tool, and the text content of a typical call per tool, by default
(`detail: summary`) and with `detail: full` (the summary and the whole result as JSON,
which every call returned before `detail` existed).

    bash scripts/venv.sh pyenv tests/interop/requirements.txt
    target/pyenv/bin/python bench/context_budget.py [path/to/python-web-troubleshooter]

Only the pure tools and break_down_latency (figures and the repository's test log) are
called: slow_queries and check_rds_iops need a database and AWS, and their suites measure
them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "target" / "debug" / "python-web-troubleshooter"

TYPICAL = {
    "capacity_math": {
        "replicas": 32, "workers_per_replica": 4, "avg_latency_ms": 4000, "arrival_rps": 30,
        "cpu_cores": 2, "memory_limit_mb": 2048, "worker_rss_mb": 300, "db_max_connections": 500,
    },
    "match_symptom": {
        "observations": {
            "latency_pattern": "system_wide", "workers_busy_percent": 97, "db_cpu_percent": 92,
            "db_read_percent": 85, "db_latency_rising": True, "recent_changes": ["added_workers"],
        }
    },
    "break_down_latency": {
        "access_log": {"path": str(REPO / "tests/data/nginx-timed.log"), "log_format": "timed"},
        "figures": {"app": {"request_duration_ms": 900}, "db": {"query_latency_ms": 600}},
    },
}


def text_len(result) -> int:
    return sum(len(c.text) for c in result.content if getattr(c, "text", None) is not None)


async def main() -> None:
    params = StdioServerParameters(
        command=str(BIN), args=["--log-dir", str(REPO / "tests/data")], env={"PATH": "/usr/bin:/bin"}
    )
    async with Client(stdio_client(params), mode="legacy") as client:
        tools = (await client.list_tools()).tools
        total = 0
        print("model-facing definitions (name + description + inputSchema), characters:")
        for t in sorted(tools, key=lambda t: t.name):
            shown = json.dumps(
                {"name": t.name, "description": t.description, "inputSchema": t.input_schema},
                separators=(",", ":"),
            )
            total += len(shown)
            print(f"  {t.name:20} {len(shown):6}")
        print(f"  {'all tools':20} {total:6}")
        print("typical result text content, characters (summary / full):")
        for name, args in TYPICAL.items():
            lean = await client.call_tool(name, args)
            full = await client.call_tool(name, {**args, "detail": "full"})
            assert not lean.is_error and not full.is_error, (name, lean, full)
            print(f"  {name:20} {text_len(lean):6} / {text_len(full):6}")


asyncio.run(main())
