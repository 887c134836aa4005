"""Interop tests: the real python-web-troubleshooter binary over stdio, driven by the
official Python MCP SDK (mcp 2.x) and, for the wire-level checks, by a bare subprocess.

The contract under test is /work/shared/SPEC.md ("Conventions for every tool", "The tools").
Every session is bounded in time (SESSION_TIMEOUT_S) and every session's stderr is checked
for a panic when it closes.
"""

from __future__ import annotations

import json
import math
import queue
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from jsonschema.validators import validator_for
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import TypeAdapter, ValidationError

pytestmark = pytest.mark.anyio

SERVER_NAME = "python-web-troubleshooter"
REQUIRED_TOOLS = ("capacity_math", "match_symptom", "break_down_latency", "check_rds_iops")
SESSION_TIMEOUT_S = 20
RAW_RESPONSE_TIMEOUT_S = 10
RAW_EXIT_TIMEOUT_S = 10

BASE_CAPACITY = {"replicas": 32, "workers_per_replica": 4, "avg_latency_ms": 4000}

# The formats JSON Schema 2020-12 defines; schemars' uint64/int64/double are not among them.
STANDARD_FORMATS = {
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
    "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
    "json-pointer", "relative-json-pointer", "regex",
}

_RAW = TypeAdapter(dict[str, Any])


# --------------------------------------------------------------------------- helpers


def dump(obj: Any) -> str:
    """The wire (camelCase) JSON of an SDK model, or JSON of plain data, for messages."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(by_alias=True, mode="json", exclude_none=True)
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


def texts(result: types.CallToolResult) -> list[str]:
    return [block.text for block in result.content if isinstance(block, types.TextContent)]


def non_standard_formats(schema: Any, path: str = "#") -> list[str]:
    """Every `format` outside JSON Schema's own, with where it is."""
    found = []
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str) and schema["format"] not in STANDARD_FORMATS:
            found.append(f"{path}: {schema['format']}")
        for key, value in schema.items():
            found.extend(non_standard_formats(value, f"{path}/{key}"))
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            found.extend(non_standard_formats(value, f"{path}/{i}"))
    return found


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = validator_for(schema)(schema)
    return [
        f"at {'/'.join(map(str, err.absolute_path)) or '<root>'}: {err.message}"
        for err in validator.iter_errors(instance)
    ]


class Conn:
    """One connected SDK client plus the checks every test shares."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._tools: dict[str, types.Tool] | None = None

    async def tools(self) -> dict[str, types.Tool]:
        if self._tools is None:
            tools: dict[str, types.Tool] = {}
            cursor: str | None = None
            for _ in range(50):
                page = await self.client.list_tools(cursor=cursor)
                for tool in page.tools:
                    tools[tool.name] = tool
                cursor = page.next_cursor
                if not cursor:
                    break
            self._tools = tools
        return self._tools

    async def _raw_call(self, name: str, arguments: dict[str, Any]) -> str:
        """The server's result exactly as sent, bypassing the SDK's result validation."""
        try:
            raw = await self.client.session.send_request(
                types.CallToolRequest(params=types.CallToolRequestParams(name=name, arguments=arguments)),
                _RAW,
            )
            return json.dumps(raw, ensure_ascii=False, sort_keys=True)
        except Exception as exc:  # noqa: BLE001 - only used to enrich a failure message
            return f"<raw re-call failed: {exc!r}>"

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """tools/call through the SDK; a protocol error or an SDK rejection fails the test."""
        await self.tools()  # the SDK validates structuredContent against the listed outputSchema
        args = json.dumps(arguments)
        protocol_error: MCPError | None = None
        rejected: Exception | None = None
        try:
            return await self.client.call_tool(name, arguments)
        except MCPError as exc:
            protocol_error = exc
        except (RuntimeError, ValidationError) as exc:
            rejected = exc
        if protocol_error is not None:
            pytest.fail(
                f"server returned a JSON-RPC protocol error where a tool result (isError) was expected: "
                f"tools/call {name} {args} -> error code={protocol_error.code} "
                f"message={protocol_error.message!r} data={json.dumps(protocol_error.data)}",
                pytrace=False,
            )
        raw = await self._raw_call(name, arguments)
        pytest.fail(
            f"the mcp SDK rejected the server's result for tools/call {name} {args}: {rejected}\n"
            f"server result: {raw}",
            pytrace=False,
        )

    async def ok(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A valid call: not an error, a text block, structuredContent valid against the
        tool's outputSchema and carrying the envelope every result has. Returns it."""
        result = await self.call(name, arguments)
        where = f"tools/call {name} {json.dumps(arguments)}"
        assert not result.is_error, f"{where} returned isError: {dump(result)}"
        assert any(t.strip() for t in texts(result)), f"{where}: no non-empty text content block: {dump(result)}"
        sc = result.structured_content
        assert isinstance(sc, dict), f"{where}: structuredContent missing or not an object: {dump(result)}"

        tool = (await self.tools()).get(name)
        assert tool is not None, f"{name} is not in tools/list"
        assert tool.output_schema is not None, f"{name} has no outputSchema"
        errors = schema_errors(tool.output_schema, sc)
        assert not errors, f"{where}: structuredContent does not match outputSchema: {errors}\n{dump(sc)}"

        check_envelope(sc, where)
        return sc

    async def tool_error(self, name: str, arguments: dict[str, Any]) -> str:
        """A bad call: a tool result with isError true. Returns its text."""
        result = await self.call(name, arguments)
        where = f"tools/call {name} {json.dumps(arguments)}"
        assert result.is_error is True, f"{where}: expected isError true, got: {dump(result)}"
        text = "\n".join(texts(result))
        assert text.strip(), f"{where}: the error result has no text message: {dump(result)}"
        return text


def check_envelope(sc: dict[str, Any], where: str) -> None:
    """verdict / evidence / next_steps / warnings, as every result must carry them."""
    body = dump(sc)
    verdict = sc.get("verdict")
    assert isinstance(verdict, str) and verdict.strip(), f"{where}: verdict missing or empty: {body}"

    evidence = sc.get("evidence")
    assert isinstance(evidence, list), f"{where}: evidence is not a list: {body}"
    for item in evidence:
        assert isinstance(item, dict), f"{where}: evidence item is not an object: {item!r}"
        missing = {"metric", "value", "unit", "source"} - item.keys()
        assert not missing, f"{where}: evidence item lacks {sorted(missing)}: {item!r}"
        assert isinstance(item["metric"], str) and item["metric"], f"{where}: evidence metric empty: {item!r}"
        assert isinstance(item["source"], str) and item["source"], f"{where}: evidence source empty: {item!r}"

    steps = sc.get("next_steps")
    assert isinstance(steps, list), f"{where}: next_steps is not a list: {body}"
    for step in steps:
        assert isinstance(step, dict), f"{where}: next_steps item is not an object: {step!r}"
        assert isinstance(step.get("action"), str) and step["action"], f"{where}: next_step without action: {step!r}"
        assert isinstance(step.get("why"), str), f"{where}: next_step without why: {step!r}"

    assert isinstance(sc.get("warnings"), list), f"{where}: warnings is not a list: {body}"


@asynccontextmanager
async def connect(
    pwt_bin: Path,
    env: dict[str, str],
    stderr_path: Path,
    *,
    args: Sequence[str] = (),
    mode: str = "legacy",
) -> AsyncIterator[Conn]:
    """Starts the server, connects the SDK client, and bounds the whole session in time.

    mode="legacy" is the initialize handshake (what every 2025-era client does);
    mode="auto" is the SDK's default: a server/discover probe, adopting 2026-07-28 when the
    server answers it (this server does), else falling back to initialize.
    """
    params = StdioServerParameters(command=str(pwt_bin), args=list(args), env=env)
    # The SDK hands transport faults (e.g. a stdout line that is not JSON-RPC) to the
    # message handler and otherwise only logs them; collect them and fail the session.
    stream_faults: list[Exception] = []

    async def record_stream_faults(message: Any) -> None:
        if isinstance(message, Exception):
            stream_faults.append(message)

    # A failure inside the session is held and re-raised after the transport closed:
    # raised through the SDK's task groups it would arrive wrapped in nested exception groups.
    failure: BaseException | None = None
    try:
        with anyio.fail_after(SESSION_TIMEOUT_S):
            with stderr_path.open("w", encoding="utf-8") as errlog:
                transport = stdio_client(params, errlog=errlog)
                async with Client(
                    transport,
                    mode=mode,
                    cache=None,
                    read_timeout_seconds=SESSION_TIMEOUT_S,
                    message_handler=record_stream_faults,
                ) as client:
                    try:
                        yield Conn(client)
                    except (Exception, pytest.fail.Exception) as exc:
                        failure = exc
    except TimeoutError:
        timed_out = True
    else:
        timed_out = False
    if timed_out:
        command = " ".join([str(pwt_bin), *args])
        pytest.fail(
            f"session with `{command}` did not finish within {SESSION_TIMEOUT_S} s; "
            f"server stderr:\n{_tail(stderr_path)}",
            pytrace=False,
        )
    stderr = stderr_path.read_text(encoding="utf-8", errors="replace")
    if failure is not None:
        if hasattr(failure, "add_note"):  # Python 3.11+
            if stream_faults:
                failure.add_note(f"transport faults (stdout not JSON-RPC?): {stream_faults!r}")
            if "panicked" in stderr:
                failure.add_note(f"the server panicked; stderr:\n{_tail(stderr_path)}")
        raise failure
    assert "panicked" not in stderr, f"the server panicked; stderr:\n{_tail(stderr_path)}"
    assert not stream_faults, f"the server wrote something other than JSON-RPC to stdout: {stream_faults!r}"


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "<no stderr file>"
    return text[-limit:]


# --------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("args", [(), ("serve",)], ids=["no-args", "serve"])
async def test_initialize(pwt_bin, server_env, stderr_path, cargo_version, args):
    async with connect(pwt_bin, server_env, stderr_path, args=args) as conn:
        init = conn.client.session.initialize_result
        assert init is not None, "no InitializeResult after the handshake"
        assert init.server_info.name == SERVER_NAME, f"serverInfo: {dump(init.server_info)}"
        assert init.server_info.version, f"serverInfo.version is empty: {dump(init.server_info)}"
        assert init.server_info.version == cargo_version, (
            f"serverInfo.version {init.server_info.version!r} != Cargo.toml version {cargo_version!r}"
        )
        instructions = init.instructions or ""
        assert instructions.strip(), f"instructions missing or empty: {dump(init)}"
        assert "latency" in instructions.lower(), f"instructions do not mention latency: {instructions!r}"
        assert "replica" in instructions.lower(), f"instructions do not mention replicas: {instructions!r}"
        assert init.capabilities.tools is not None, f"tools capability not advertised: {dump(init.capabilities)}"

        # The session works after the handshake, whichever way the server was started.
        sc = await conn.ok("capacity_math", BASE_CAPACITY)
        assert sc.get("total_workers") == 128, dump(sc)


async def test_sdk_default_auto_mode_connects(pwt_bin, server_env, stderr_path):
    """The SDK's default connect (mode='auto': server/discover probe, then initialize)."""
    async with connect(pwt_bin, server_env, stderr_path, mode="auto") as conn:
        assert conn.client.protocol_version, "no protocol version negotiated"
        tools = await conn.tools()
        missing = set(REQUIRED_TOOLS) - tools.keys()
        assert not missing, f"tools missing in auto mode: {sorted(missing)}"
        sc = await conn.ok("capacity_math", BASE_CAPACITY)
        assert sc.get("total_workers") == 128, dump(sc)


# --------------------------------------------------------------------------- listings


async def test_tools_list(pwt_bin, server_env, stderr_path):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        tools = await conn.tools()
        missing = set(REQUIRED_TOOLS) - tools.keys()
        assert not missing, f"tools missing from tools/list: {sorted(missing)}; listed: {sorted(tools)}"
        for name, tool in tools.items():
            assert tool.description and tool.description.strip(), f"{name}: empty description"

            assert isinstance(tool.input_schema, dict), f"{name}: inputSchema is not an object"
            assert tool.input_schema.get("type") == "object", f"{name}: inputSchema type is not object"
            validator_for(tool.input_schema).check_schema(tool.input_schema)

            assert isinstance(tool.output_schema, dict), f"{name}: no outputSchema: {dump(tool)}"
            validator_for(tool.output_schema).check_schema(tool.output_schema)

            formats = non_standard_formats(tool.input_schema, f"{name} inputSchema#")
            formats += non_standard_formats(tool.output_schema, f"{name} outputSchema#")
            assert not formats, f"non-standard formats: {formats}"

            assert tool.annotations is not None, f"{name}: no annotations: {dump(tool)}"
            assert tool.annotations.read_only_hint is True, f"{name}: readOnlyHint is not true: {dump(tool.annotations)}"


async def test_check_rds_iops_is_listed(pwt_bin, server_env, stderr_path):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        tools = await conn.tools()
        assert "check_rds_iops" in tools, f"check_rds_iops missing from tools/list: {sorted(tools)}"
        tool = tools["check_rds_iops"]
        assert tool.annotations is not None and tool.annotations.read_only_hint is True, dump(tool)
        assert tool.annotations.open_world_hint is True, f"check_rds_iops reaches AWS: {dump(tool.annotations)}"
        props = tool.input_schema.get("properties", {})
        for field in (
            "db_instance_identifier",
            "region",
            "window_minutes",
            "period_seconds",
            "provisioned_iops",
            "provisioned_throughput_mibps",
        ):
            assert field in props, f"check_rds_iops inputSchema lacks {field}: {dump(tool.input_schema)}"
        assert tool.input_schema.get("required") == ["db_instance_identifier"], dump(tool.input_schema)
        assert props["window_minutes"].get("default") == 60, dump(props["window_minutes"])
        assert props["period_seconds"].get("default") == 300, dump(props["period_seconds"])
        out = tool.output_schema.get("properties", {})
        for field in ("status", "storage", "metrics", "iops_utilization_percent", "disk_queue_depth", "cli_commands"):
            assert field in out, f"check_rds_iops outputSchema lacks {field}"


async def test_check_rds_iops_without_credentials_is_a_clear_error(pwt_bin, server_env, stderr_path):
    secret = "interop-secret-Xq7Vb2Nm5Lp8Rt3W"
    env = {
        **server_env,
        "AWS_REGION": "eu-west-1",
        "AWS_SECRET_ACCESS_KEY": secret,  # half a key pair: the chain must refuse it
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance metadata service: loopback only
        "RUST_LOG": "debug",
    }
    async with connect(pwt_bin, env, stderr_path) as conn:
        text = await conn.tool_error("check_rds_iops", {"db_instance_identifier": "orders-db"})
        assert "no AWS credentials found" in text, text
        assert secret not in text, f"the secret key leaked into the error: {text!r}"
        sc = await conn.ok("capacity_math", BASE_CAPACITY)
        assert sc.get("total_workers") == 128, dump(sc)
    assert secret not in stderr_path.read_text(encoding="utf-8", errors="replace"), "secret key in the server log"


async def test_prompts(pwt_bin, server_env, stderr_path):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        prompts: list[types.Prompt] = []
        cursor: str | None = None
        for _ in range(50):
            page = await conn.client.list_prompts(cursor=cursor)
            prompts.extend(page.prompts)
            cursor = page.next_cursor
            if not cursor:
                break
        assert len(prompts) >= 3, f"expected at least 3 prompts, got {[p.name for p in prompts]}"

        for prompt in prompts:
            assert prompt.description and prompt.description.strip(), f"prompt {prompt.name}: no description"
            declared = prompt.arguments or []
            chosen = [a for a in declared if a.required] or declared
            samples = {a.name: f"sample-{a.name}-7319" for a in chosen}
            try:
                got = await conn.client.get_prompt(prompt.name, samples or None)
            except MCPError as exc:
                pytest.fail(f"prompts/get {prompt.name} {samples} -> error {exc.code} {exc.message!r}", pytrace=False)
            assert got.messages, f"prompts/get {prompt.name} returned no messages: {dump(got)}"
            bodies = []
            for message in got.messages:
                content = message.content
                if isinstance(content, types.TextContent):
                    bodies.append(content.text)
                elif isinstance(content, types.EmbeddedResource) and hasattr(content.resource, "text"):
                    bodies.append(content.resource.text)
            assert any(b.strip() for b in bodies), f"prompts/get {prompt.name}: no text in messages: {dump(got)}"
            if samples:
                whole = "\n".join(bodies)
                assert any(v in whole for v in samples.values()), (
                    f"prompts/get {prompt.name} with {samples}: no message contains any argument value: {dump(got)}"
                )


# --------------------------------------------------------------------------- capacity_math


async def test_capacity_math_littles_law(pwt_bin, server_env, stderr_path):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        sc = await conn.ok("capacity_math", BASE_CAPACITY)
        assert sc.get("total_workers") == 128, dump(sc)
        ceiling = sc.get("throughput_ceiling_rps")
        assert isinstance(ceiling, (int, float)), dump(sc)
        assert math.isclose(ceiling, 32, rel_tol=0, abs_tol=1e-9), f"throughput_ceiling_rps={ceiling!r}: {dump(sc)}"


async def test_capacity_math_recommended_workers(pwt_bin, server_env, stderr_path):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        sc = await conn.ok("capacity_math", {**BASE_CAPACITY, "cpu_cores": 4})
        rec = sc.get("recommended_workers_per_replica")
        assert isinstance(rec, dict), f"recommended_workers_per_replica is not an object: {dump(sc)}"
        assert rec.get("workers") == 9, f"recommended_workers_per_replica: {dump(rec)}"


async def test_capacity_math_overloaded_is_unstable(pwt_bin, server_env, stderr_path):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        sc = await conn.ok("capacity_math", {**BASE_CAPACITY, "arrival_rps": 40})
        utilization = sc.get("utilization")
        assert isinstance(utilization, (int, float)) and utilization >= 1, f"utilization={utilization!r}: {dump(sc)}"
        assert "unstable" in sc["verdict"].lower(), f"verdict does not say unstable: {sc['verdict']!r}"


# --------------------------------------------------------------------------- match_symptom


async def test_match_symptom_app_concurrency_is_a(pwt_bin, server_env, stderr_path):
    observations = {"workers_busy_percent": 100, "backlog_growing": True, "app_cpu_percent": 95, "db_cpu_percent": 20}
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        sc = await conn.ok("match_symptom", {"observations": observations})
        matches = sc.get("matches")
        assert isinstance(matches, list) and matches, f"no matches: {dump(sc)}"
        assert matches[0].get("symptom") == "A", f"top match is not A: {dump(matches)}"
        confidences = [m.get("confidence") for m in matches]
        for c in confidences:
            assert isinstance(c, (int, float)) and 0 <= c <= 1, f"confidence out of [0, 1]: {confidences}"
        assert confidences == sorted(confidences, reverse=True), f"matches not sorted by confidence: {confidences}"


async def test_match_symptom_no_observations_asks_for_measurements(pwt_bin, server_env, stderr_path):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        sc = await conn.ok("match_symptom", {"observations": {}})
        steps = sc["next_steps"]
        mentions = [
            s
            for s in steps
            if s.get("tool") == "break_down_latency"
            or "break_down_latency" in str(s.get("action", ""))
            or "break_down_latency" in str(s.get("why", ""))
        ]
        assert mentions, f"no next_step points at break_down_latency to measure first: {dump(sc)}"


# --------------------------------------------------------------------------- break_down_latency


async def test_break_down_latency_db_dominant_and_chains(pwt_bin, server_env, stderr_path):
    figures = {
        "nginx": {"request_time_ms": 1200, "upstream_response_time_ms": 1150},
        "app": {"request_duration_ms": 1100, "queue_wait_ms": 50},
        "db": {"query_latency_ms": 900},
    }
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        sc = await conn.ok("break_down_latency", {"figures": figures})
        assert sc.get("dominant_layer") == "db", f"dominant_layer: {dump(sc)}"
        layers = sc.get("layers")
        assert isinstance(layers, list) and layers, f"no layers: {dump(sc)}"
        total = sum(layer.get("percent_of_total", float("nan")) for layer in layers)
        assert math.isclose(total, 100, abs_tol=0.5), f"percent_of_total sums to {total}: {dump(layers)}"

        observations = sc.get("observations")
        assert isinstance(observations, dict), f"observations is not an object: {dump(sc)}"
        chained = await conn.call("match_symptom", {"observations": observations})
        assert not chained.is_error, (
            f"match_symptom rejected break_down_latency's observations {dump(observations)}: {dump(chained)}"
        )


async def test_sampling_sends_progress_notifications(pwt_bin, server_env, stderr_path):
    """A call that samples for about two seconds reports its progress to a client that
    passed a progress token: percentages that only rise, end at 100 before the result
    arrives, with a message."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    try:
        async with connect(pwt_bin, server_env, stderr_path) as conn:
            await conn.tools()
            result = await conn.client.call_tool(
                "break_down_latency",
                {"listen_port": port, "samples": 5, "sample_interval_ms": 500},
                progress_callback=on_progress,
            )
            assert not result.is_error, dump(result)
            # Every notification is sent before the result: the SDK stops listening for a
            # request's progress once its result is in, so a later one would be lost.
    finally:
        listener.close()
    assert len(seen) >= 3, f"expected several progress notifications over ~2 s of sampling, got {seen}"
    percents = [p for p, _, _ in seen]
    assert percents == sorted(percents) and len(set(percents)) == len(percents), percents
    assert percents[-1] == 100, percents
    assert all(total == 100 for _, total, _ in seen), seen
    assert all(m and "sample" in m for _, _, m in seen), seen


# --------------------------------------------------------------------------- bad input

BAD_CALLS = [
    pytest.param("capacity_math", {**BASE_CAPACITY, "replicas": -1}, "replicas", id="replicas-negative"),
    pytest.param("capacity_math", {**BASE_CAPACITY, "replicas": 0}, "replicas", id="replicas-zero"),
    pytest.param("capacity_math", {**BASE_CAPACITY, "avg_latency_ms": 0}, "avg_latency_ms", id="latency-zero"),
    pytest.param("capacity_math", {**BASE_CAPACITY, "avg_latency_ms": "NaN"}, "avg_latency_ms", id="latency-NaN"),
    pytest.param("capacity_math", {**BASE_CAPACITY, "avg_latency_ms": None}, "avg_latency_ms", id="latency-null"),
    pytest.param("capacity_math", {**BASE_CAPACITY, "replicas": "four"}, "replicas", id="replicas-wrong-type"),
    pytest.param("capacity_math", {**BASE_CAPACITY, "replicas": 1e300}, "replicas", id="replicas-huge"),
    pytest.param("capacity_math", {**BASE_CAPACITY, "workload": "quantum"}, "workload", id="workload-unknown-enum"),
    pytest.param(
        "capacity_math", {"workers_per_replica": 4, "avg_latency_ms": 4000}, "replicas", id="replicas-missing"
    ),
    pytest.param(
        "match_symptom", {"observations": {"latency_pattern": "sideways"}}, "latency_pattern", id="pattern-unknown-enum"
    ),
    pytest.param(
        "match_symptom", {"observations": {"workers_busy_percent": -5}}, "workers_busy_percent", id="busy-negative"
    ),
    pytest.param(
        "match_symptom", {"observations": {"workers_busy_percent": 250}}, "workers_busy_percent", id="busy-over-100"
    ),
    pytest.param(
        "break_down_latency",
        {"figures": {"nginx": {"request_time_ms": -1}}},
        "request_time_ms",
        id="nginx-request-time-negative",
    ),
    pytest.param("check_rds_iops", {}, "db_instance_identifier", id="rds-identifier-missing"),
    pytest.param(
        "check_rds_iops",
        {"db_instance_identifier": "orders-db.abc.eu-west-1.rds.amazonaws.com"},
        "db_instance_identifier",
        id="rds-identifier-is-a-host",
    ),
    pytest.param(
        "check_rds_iops",
        {"db_instance_identifier": "orders-db", "period_seconds": 45},
        "period_seconds",
        id="rds-period-not-minutes",
    ),
]


@pytest.mark.parametrize(("tool", "arguments", "field"), BAD_CALLS)
async def test_bad_arguments_are_tool_errors(pwt_bin, server_env, stderr_path, tool, arguments, field):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        text = await conn.tool_error(tool, arguments)
        assert field in text, f"error message does not name the field {field!r}: {text!r}"
        # The session keeps serving after the bad call.
        sc = await conn.ok("capacity_math", BASE_CAPACITY)
        assert sc.get("total_workers") == 128, dump(sc)


async def test_unknown_tool_keeps_session(pwt_bin, server_env, stderr_path):
    async with connect(pwt_bin, server_env, stderr_path) as conn:
        await conn.tools()
        try:
            result = await conn.client.call_tool("no_such_tool", {})
        except MCPError:
            pass  # a protocol error is acceptable for an unknown tool name
        else:
            assert result.is_error is True, f"unknown tool did not give an error: {dump(result)}"
        sc = await conn.ok("capacity_math", BASE_CAPACITY)
        assert sc.get("total_workers") == 128, dump(sc)


# --------------------------------------------------------------------------- raw wire


class RawServer:
    """The binary under subprocess.Popen, newline-delimited JSON-RPC, no SDK."""

    def __init__(self, pwt_bin: Path, env: dict[str, str], args: Sequence[str] = ()) -> None:
        self.proc = subprocess.Popen(
            [str(pwt_bin), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.lines: list[str] = []
        self.stderr = b""
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._out.start()
        self._err.start()
        self.responses: dict[Any, dict[str, Any]] = {}

    def _read_stdout(self) -> None:
        assert self.proc.stdout
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", errors="replace")
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr
        self.stderr = self.proc.stderr.read()

    def stdout_tail(self, limit: int = 4000) -> str:
        return "".join(self.lines)[-limit:]

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def wait_for(self, request_id: int, timeout: float = RAW_RESPONSE_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while request_id not in self.responses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no response to id {request_id} within {timeout} s; stdout so far: {self.stdout_tail()}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(
                    f"stdout closed before the response to id {request_id} (exit code {self.proc.poll()}); "
                    f"stdout: {self.stdout_tail()}"
                )
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue  # reported by the every-line check at the end
            if isinstance(message, dict) and "id" in message and "method" not in message:
                self.responses[message["id"]] = message
        return self.responses[request_id]

    def close_stdin_and_wait(self, timeout: float = RAW_EXIT_TIMEOUT_S) -> tuple[int | None, float]:
        assert self.proc.stdin
        self.proc.stdin.close()
        started = time.monotonic()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        elapsed = time.monotonic() - started
        if code is None:
            self.kill()
        self._out.join(timeout=5)
        self._err.join(timeout=5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None and not self._out.is_alive() and not self._err.is_alive():
                pipe.close()
        return code, elapsed

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def test_no_progress_token_no_progress_notifications(pwt_bin, server_env):
    """The same sampling call without a progress token: no notifications/progress on the wire."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    server = RawServer(pwt_bin, server_env)
    try:
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "pwt-raw-interop-test", "version": "0.0.0"},
                },
            }
        )
        server.wait_for(1)
        server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {
                    "name": "break_down_latency",
                    "arguments": {"listen_port": port, "samples": 4, "sample_interval_ms": 300},
                },
            }
        )
        called = server.wait_for(2)
    finally:
        server.close_stdin_and_wait()
        listener.close()
    assert not called.get("result", {}).get("isError"), called
    methods = [json.loads(line).get("method") for line in server.lines if line.strip()]
    assert "notifications/progress" not in methods, methods


@pytest.mark.parametrize("protocol_version", ["2025-06-18", "2025-03-26"])
def test_raw_stdout_is_only_jsonrpc(pwt_bin, server_env, protocol_version):
    env = {**server_env, "RUST_LOG": "debug"}
    server = RawServer(pwt_bin, env)
    try:
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": protocol_version,
                    "capabilities": {},
                    "clientInfo": {"name": "pwt-raw-interop-test", "version": "0.0.0"},
                },
            }
        )
        init = server.wait_for(1)
        server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "capacity_math", "arguments": BASE_CAPACITY},
            }
        )
        listed = server.wait_for(2)
        called = server.wait_for(3)
    finally:
        code, elapsed = server.close_stdin_and_wait()

    stderr = server.stderr.decode("utf-8", errors="replace")
    assert "panicked" not in stderr, f"the server panicked; stderr:\n{stderr[-4000:]}"

    # Every non-empty stdout line is one JSON-RPC 2.0 message: logs go to stderr.
    for line in server.lines:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"stdout line is not JSON (RUST_LOG=debug): {line!r}")
        assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", f"stdout line is not JSON-RPC 2.0: {line!r}"

    assert "result" in init, f"initialize failed: {init}"
    assert init["result"].get("protocolVersion") == protocol_version, (
        f"requested protocolVersion {protocol_version}, server answered: {init['result'].get('protocolVersion')!r}"
    )
    assert init["result"].get("serverInfo", {}).get("name") == SERVER_NAME, f"initialize: {init}"

    assert "result" in listed, f"tools/list failed: {listed}"
    names = {t.get("name") for t in listed["result"].get("tools", [])}
    assert set(REQUIRED_TOOLS) <= names, f"tools/list at {protocol_version}: {sorted(names)}"

    assert "result" in called, f"tools/call failed at {protocol_version}: {called}"
    content = called["result"].get("content")
    assert isinstance(content, list) and content, f"tools/call result has no content: {called}"
    assert not called["result"].get("isError"), f"tools/call returned isError: {called}"

    assert code is not None, f"the server did not exit within {RAW_EXIT_TIMEOUT_S} s of stdin closing"
    assert code == 0, f"the server exited with code {code} after stdin closed; stderr:\n{stderr[-4000:]}"
    assert elapsed <= RAW_EXIT_TIMEOUT_S
