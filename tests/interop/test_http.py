"""Interop tests: the real binary as a shared team server (`serve --http`), driven by the
official Python MCP SDK's streamable HTTP client and, for what the SDK cannot do (a request
that arrives slowly, a bad Host header), by raw HTTP.

Every server is started by the test on 127.0.0.1 port 0 and stopped (SIGTERM) at the end,
even on failure; its stderr is checked for a panic.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from test_stdio import BASE_CAPACITY, REQUIRED_TOOLS, SERVER_NAME, Conn, dump

pytestmark = pytest.mark.anyio

TOKEN = secrets.token_hex(24)
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 15
SESSION_TIMEOUT_S = 30
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/mcp")

VALID_CALLS = {
    "capacity_math": {**BASE_CAPACITY, "cpu_cores": 4, "arrival_rps": 20},
    "match_symptom": {
        "observations": {"workers_busy_percent": 100, "backlog_growing": True, "app_cpu_percent": 95}
    },
    "break_down_latency": {
        "figures": {
            "nginx": {"request_time_ms": 1200, "upstream_response_time_ms": 1150},
            "app": {"request_duration_ms": 1100, "queue_wait_ms": 50},
            "db": {"query_latency_ms": 900},
        }
    },
}

# Tools that read a database or AWS: with nothing configured (the tests' clean environment)
# a call is a tool error that says what to configure — over HTTP exactly as over stdio.
OUTSIDE_CALLS = {
    "check_rds_iops": {"db_instance_identifier": "orders-db"},
    "slow_queries": {},
}


# --------------------------------------------------------------------------- the server


class HttpServer:
    """`python-web-troubleshooter serve --http 127.0.0.1:0 ...` as a child process."""

    def __init__(self, pwt_bin: Path, env: dict[str, str], args: Sequence[str], workdir: Path) -> None:
        self.stderr_path = workdir / "server-stderr.log"
        self.stdout_path = workdir / "server-stdout.log"
        self._stderr = self.stderr_path.open("wb")
        self._stdout = self.stdout_path.open("wb")
        self.command = [str(pwt_bin), "serve", "--http", "127.0.0.1:0", *args]
        self.proc = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=self._stdout, stderr=self._stderr, env=env
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            match = LISTENING.search(self.stderr())
            if match:
                break
            if self.proc.poll() is not None:
                pytest.fail(f"`{' '.join(self.command)}` exited with {self.proc.returncode}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"`{' '.join(self.command)}` did not listen within {START_TIMEOUT_S} s:\n{self.stderr()}")
            time.sleep(0.02)
        self.port = int(match.group(1))
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/mcp"

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self, signum: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def wait(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def close(self) -> None:
        self.terminate()
        if self.wait() is None:
            self.kill()
        self._stderr.close()
        self._stdout.close()


@pytest.fixture
def start_server(pwt_bin, server_env, tmp_path) -> Callable[..., HttpServer]:
    """Starts servers for one test and stops them at the end, checking for panics and for
    anything written to stdout (logs belong on stderr)."""
    servers: list[HttpServer] = []

    def start(*args: str, env: dict[str, str] | None = None, token: str | None = TOKEN) -> HttpServer:
        workdir = tmp_path / f"server{len(servers)}"
        workdir.mkdir()
        full_env = dict(server_env if env is None else env)
        if token is not None:
            full_env["PWT_HTTP_TOKEN"] = token
        server = HttpServer(pwt_bin, full_env, args, workdir)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
    for server in servers:
        stderr = server.stderr()
        assert "panicked" not in stderr, f"the server panicked:\n{stderr[-4000:]}"
        stdout = server.stdout_path.read_text(encoding="utf-8", errors="replace")
        assert stdout == "", f"the HTTP server wrote to stdout: {stdout[:2000]!r}"


@asynccontextmanager
async def http_session(
    url: str, *, token: str | None = TOKEN, headers: dict[str, str] | None = None, mode: str = "legacy"
) -> AsyncIterator[Conn]:
    """An SDK client session over streamable HTTP, bounded in time."""
    all_headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    all_headers.update(headers or {})
    failure: BaseException | None = None
    with anyio.fail_after(SESSION_TIMEOUT_S):
        async with httpx2.AsyncClient(headers=all_headers, timeout=httpx2.Timeout(SESSION_TIMEOUT_S)) as http:
            async with Client(
                streamable_http_client(url, http_client=http),
                mode=mode,
                cache=None,
                read_timeout_seconds=SESSION_TIMEOUT_S,
            ) as client:
                try:
                    yield Conn(client)
                except (Exception, pytest.fail.Exception) as exc:
                    # Re-raised after the transport closed, not wrapped in its task groups.
                    failure = exc
    if failure is not None:
        raise failure


def find_mcp_error(exc: BaseException) -> MCPError | None:
    if isinstance(exc, MCPError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = find_mcp_error(inner)
        if found is not None:
            return found
    if exc.__cause__ is not None:
        return find_mcp_error(exc.__cause__)
    return None


async def connect_error(url: str, **kwargs: Any) -> MCPError:
    """The MCPError the SDK raises when the server refuses the connection."""
    try:
        async with http_session(url, **kwargs):
            pass
    except BaseException as exc:  # noqa: BLE001 - searched for the MCPError below
        found = find_mcp_error(exc)
        if found is None:
            raise
        return found
    pytest.fail(f"the SDK connected to {url} with {kwargs}, expected a refusal", pytrace=False)


def raw_post(
    url: str, body: bytes | dict[str, Any], *, token: str | None = TOKEN, headers: dict[str, str] | None = None
) -> httpx2.Response:
    all_headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers.update(headers or {})
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with httpx2.Client(timeout=10) as http:
        return http.post(url, content=content, headers=all_headers)


def initialize_body(request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "pwt-http-interop", "version": "0"},
        },
    }


def tools_call_body(request_id: int, name: str, arguments: dict[str, Any]) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    ).encode()


def json_rpc_error(response: httpx2.Response | tuple[int, dict[str, str], bytes]) -> dict[str, Any]:
    """The JSON-RPC error in a refusal's body (and a check that it is one)."""
    if isinstance(response, tuple):
        _, headers, content = response
        content_type = headers.get("content-type", "")
    else:
        content, content_type = response.content, response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"content-type {content_type!r}: {content[:500]!r}"
    body = json.loads(content)
    assert body.get("jsonrpc") == "2.0" and "error" in body and "id" in body, f"not a JSON-RPC error: {body}"
    error = body["error"]
    assert isinstance(error.get("code"), int) and isinstance(error.get("message"), str), body
    return error


class SlowRequest:
    """A tools/call POST whose body the client sends in two parts with a pause between, the
    way a stalled client or a congested link delivers it. Raw asyncio streams: the SDK and
    httpx always send a body at once."""

    def __init__(self, port: int, body: bytes, token: str | None = TOKEN) -> None:
        self.port = port
        self.body = body
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.sent = 0

    async def start(self, first_part: int | None = None) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = [
            "POST /mcp HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Content-Type: application/json",
            "Accept: application/json, text/event-stream",
            "MCP-Protocol-Version: 2025-06-18",
            f"Content-Length: {len(self.body)}",
        ]
        if self.token is not None:
            head.append(f"Authorization: Bearer {self.token}")
        self.sent = len(self.body) // 2 if first_part is None else first_part
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + self.body[: self.sent])
        await self.writer.drain()

    async def finish(self) -> None:
        assert self.writer is not None
        self.writer.write(self.body[self.sent :])
        await self.writer.drain()

    async def response(self, timeout: float) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and body; fails if none arrives in time."""
        assert self.reader is not None
        with anyio.fail_after(timeout):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def structured(result: dict[str, Any]) -> dict[str, Any]:
    assert "result" in result, f"not a result: {result}"
    assert not result["result"].get("isError"), f"isError: {result}"
    return result["result"]["structuredContent"]


# --------------------------------------------------------------------------- it serves


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_serves_every_tool_and_prompt_exactly_as_stdio_does(start_server, pwt_bin, server_env, mode):
    server = start_server()
    async with http_session(server.url, mode=mode) as conn:
        if mode == "legacy":
            init = conn.client.session.initialize_result
            assert init is not None and init.server_info.name == SERVER_NAME, dump(init)
        tools = await conn.tools()
        assert set(REQUIRED_TOOLS) <= tools.keys(), f"tools over HTTP: {sorted(tools)}"
        for name in tools:
            if name in OUTSIDE_CALLS:
                text = await conn.tool_error(name, OUTSIDE_CALLS[name])
                assert text.startswith(f"{name}:"), text
                continue
            assert name in VALID_CALLS, f"no valid call for tool {name}: add one to VALID_CALLS"
            await conn.ok(name, VALID_CALLS[name])
        sc = await conn.ok("capacity_math", BASE_CAPACITY)
        assert sc["total_workers"] == 128 and sc["throughput_ceiling_rps"] == 32, dump(sc)

        http_prompts = (await conn.client.list_prompts()).prompts
        assert http_prompts, "no prompts over HTTP"
        for prompt in http_prompts:
            arguments = {a.name: f"sample-{a.name}" for a in prompt.arguments or [] if a.required}
            got = await conn.client.get_prompt(prompt.name, arguments or None)
            assert got.messages, f"prompts/get {prompt.name}: no messages"
        http_tools = sorted((t.model_dump(by_alias=True, mode="json") for t in tools.values()), key=lambda t: t["name"])
        http_prompt_list = [p.model_dump(by_alias=True, mode="json") for p in http_prompts]

    # The same binary over stdio lists exactly the same tools and prompts.
    params = StdioServerParameters(command=str(pwt_bin), args=[], env=server_env)
    with anyio.fail_after(SESSION_TIMEOUT_S):
        async with Client(stdio_client(params), mode="legacy", cache=None) as stdio:
            stdio_tools = sorted(
                (t.model_dump(by_alias=True, mode="json") for t in (await stdio.list_tools()).tools),
                key=lambda t: t["name"],
            )
            stdio_prompts = [p.model_dump(by_alias=True, mode="json") for p in (await stdio.list_prompts()).prompts]
    assert http_tools == stdio_tools, "tools/list differs between HTTP and stdio"
    assert http_prompt_list == stdio_prompts, "prompts/list differs between HTTP and stdio"


async def test_bad_arguments_are_tool_errors_and_the_server_keeps_serving(start_server):
    server = start_server()
    async with http_session(server.url) as conn:
        text = await conn.tool_error("capacity_math", {**BASE_CAPACITY, "replicas": -1})
        assert "replicas" in text, text
        try:
            result = await conn.client.call_tool("no_such_tool", {})
        except MCPError:
            pass
        else:
            assert result.is_error, dump(result)
        assert (await conn.ok("capacity_math", BASE_CAPACITY))["total_workers"] == 128


async def test_concurrent_sessions_all_succeed(start_server):
    # Enough slots that a slow debug build on a busy machine never sheds load here: this is
    # about sessions not mixing up each other's calls (the cap has its own test).
    server = start_server("--max-concurrent-calls", "64")

    async def session(i: int) -> int:
        async with http_session(server.url) as conn:
            for j in range(5):
                sc = await conn.ok("capacity_math", {**BASE_CAPACITY, "replicas": 1 + i + j})
                assert sc["total_workers"] == 4 * (1 + i + j), dump(sc)
        return 5

    with anyio.fail_after(60):
        done = await asyncio.gather(*(session(i) for i in range(20)))
    assert sum(done) == 100


def test_stateless_no_session_ids_and_no_get_stream(start_server):
    server = start_server()
    init = raw_post(server.url, initialize_body())
    assert init.status_code == 200, init.text
    assert "mcp-session-id" not in init.headers, dict(init.headers)
    assert init.headers["content-type"].startswith("application/json"), dict(init.headers)
    with httpx2.Client(timeout=10) as http:
        got = http.get(
            server.url, headers={"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}
        )
    assert got.status_code == 405, got.text


def test_healthz_needs_no_token_and_says_only_ok(start_server):
    server = start_server()
    with httpx2.Client(timeout=10) as http:
        response = http.get(f"{server.base}/healthz", headers={"Host": "anything.example"})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}
    assert "server" not in response.headers, dict(response.headers)


# --------------------------------------------------------------------------- authentication


async def test_no_token_is_401(start_server):
    server = start_server()
    error = await connect_error(server.url, token=None)
    assert error.code == -32001 and "Unauthorized" in error.message, (error.code, error.message)

    response = raw_post(server.url, initialize_body(), token=None)
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate", "").startswith("Bearer"), dict(response.headers)
    assert json_rpc_error(response)["code"] == -32001


async def test_wrong_token_is_401_and_reveals_nothing_else(start_server):
    server = start_server()
    wrong = secrets.token_hex(24)
    error = await connect_error(server.url, token=wrong)
    assert error.code == -32001, (error.code, error.message)

    missing = raw_post(server.url, initialize_body(), token=None)
    for token in (wrong, TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        refused = raw_post(server.url, initialize_body(), token=token)
        assert refused.status_code == 401, (token, refused.text)
        # Exactly the answer to no token at all: nothing tells a guess apart.
        assert refused.content == missing.content
        assert {k: v for k, v in refused.headers.items() if k != "date"} == {
            k: v for k, v in missing.headers.items() if k != "date"
        }
    basic = raw_post(server.url, initialize_body(), token=None, headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401


async def test_token_from_a_file(start_server, tmp_path):
    token_file = tmp_path / "token"
    file_token = secrets.token_hex(20)
    token_file.write_text(file_token + "\n")
    token_file.chmod(0o600)
    server = start_server("--token-file", str(token_file), token=None)
    async with http_session(server.url, token=file_token) as conn:
        assert (await conn.ok("capacity_math", BASE_CAPACITY))["total_workers"] == 128
    assert raw_post(server.url, initialize_body(), token=TOKEN).status_code == 401


def test_refuses_to_listen_beyond_loopback_without_a_token(pwt_bin, server_env):
    run = subprocess.run(
        [str(pwt_bin), "serve", "--http", "0.0.0.0:0"], env=server_env, capture_output=True, text=True, timeout=20
    )
    assert run.returncode != 0, run.stderr
    assert "refusing to listen on 0.0.0.0:0 without a bearer token" in run.stderr, run.stderr
    assert "PWT_HTTP_TOKEN" in run.stderr and "--token-file" in run.stderr, run.stderr

    weak = "tooshort"
    run = subprocess.run(
        [str(pwt_bin), "serve", "--http", "0.0.0.0:0"],
        env={**server_env, "PWT_HTTP_TOKEN": weak},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode != 0 and "too short" in run.stderr, run.stderr
    assert weak not in run.stderr, "the refused token was echoed"


# --------------------------------------------------------------------------- DNS rebinding


async def test_bad_origin_is_403(start_server):
    server = start_server("--allowed-origin", "https://console.example.com")
    error = await connect_error(server.url, headers={"Origin": "http://evil.example"})
    assert error.code == -32003 and "Origin" in error.message, (error.code, error.message)

    for origin in ("http://evil.example", "null", "http://localhost.evil.example:8000", "https://console.example.com:8443"):
        response = raw_post(server.url, initialize_body(), headers={"Origin": origin})
        assert response.status_code == 403, (origin, response.text)
        assert json_rpc_error(response)["code"] == -32003
    # A token does not help a refused Origin, and a refused Origin needs no token to be told.
    assert raw_post(server.url, initialize_body(), token=None, headers={"Origin": "http://evil.example"}).status_code == 403

    # Loopback and configured origins pass (browser-based clients such as an inspector).
    async with http_session(server.url, headers={"Origin": "https://console.example.com"}) as conn:
        assert (await conn.ok("capacity_math", BASE_CAPACITY))["total_workers"] == 128
    assert raw_post(server.url, initialize_body(), headers={"Origin": "http://localhost:6274"}).status_code == 200


def test_bad_host_is_403_and_allowed_hosts_pass(start_server):
    server = start_server("--allowed-host", "mcp.example.com", "--allowed-host", "lb.internal:8443")
    assert raw_post(server.url, initialize_body(), headers={"Host": "evil.example"}).status_code == 403
    assert raw_post(server.url, initialize_body(), headers={"Host": f"rebound.example:{server.port}"}).status_code == 403
    assert raw_post(server.url, initialize_body(), headers={"Host": "lb.internal:9999"}).status_code == 403
    for host in ("mcp.example.com", "lb.internal:8443", f"localhost:{server.port}"):
        response = raw_post(server.url, initialize_body(), headers={"Host": host})
        assert response.status_code == 200, (host, response.text)


def test_allow_lists_from_the_environment(start_server, server_env):
    server = start_server(
        env={
            **server_env,
            "PWT_HTTP_ALLOWED_HOSTS": "mcp.example.com,mcp.internal:8443",
            "PWT_HTTP_ALLOWED_ORIGINS": "https://console.example.com",
        }
    )
    for host in ("mcp.example.com", "mcp.internal:8443"):
        assert raw_post(server.url, initialize_body(), headers={"Host": host}).status_code == 200, host
    assert raw_post(server.url, initialize_body(), headers={"Host": "other.example.com"}).status_code == 403
    ok = raw_post(server.url, initialize_body(), headers={"Origin": "https://console.example.com"})
    assert ok.status_code == 200, ok.text
    assert raw_post(server.url, initialize_body(), headers={"Origin": "https://evil.example"}).status_code == 403


# --------------------------------------------------------------------------- limits


async def test_oversized_body_is_413_and_the_session_goes_on(start_server):
    server = start_server("--max-body-bytes", "65536")
    async with http_session(server.url) as conn:
        await conn.tools()
        padding = "x" * 200_000
        with pytest.raises(MCPError) as refused:
            await conn.client.call_tool("capacity_math", {**BASE_CAPACITY, "note": padding})
        assert refused.value.code == -32013, (refused.value.code, refused.value.message)
        assert "65536 bytes" in refused.value.message, refused.value.message
        assert (await conn.ok("capacity_math", BASE_CAPACITY))["total_workers"] == 128

    response = raw_post(server.url, tools_call_body(7, "capacity_math", {**BASE_CAPACITY, "note": padding}))
    assert response.status_code == 413, response.text
    assert json_rpc_error(response)["code"] == -32013

    # Without a Content-Length (chunked), the limit holds while reading.
    def chunks():
        body = tools_call_body(8, "capacity_math", {**BASE_CAPACITY, "note": padding})
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    with httpx2.Client(timeout=10) as http:
        chunked = http.post(
            server.url,
            content=chunks(),
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
        )
    assert chunked.status_code == 413, chunked.text
    assert 'reason="body_too_large"' in server.stderr()


async def test_a_call_past_its_deadline_fails_while_others_succeed(start_server):
    """No tool in this build waits on anything outside the process, so the slow call is a
    slow request: the one deadline (--call-timeout) covers receiving the request, waiting
    for a slot and running the tool. The same deadline stops a slow tool; that path is
    unit-tested in src/server/call.rs."""
    server = start_server("--call-timeout", "2s")
    async with http_session(server.url) as conn:
        await conn.tools()
        slow = SlowRequest(server.port, tools_call_body(99, "capacity_math", BASE_CAPACITY))
        started = time.monotonic()
        await slow.start()
        try:
            finished_others = []
            for i in range(5):
                sc = await conn.ok("capacity_math", {**BASE_CAPACITY, "replicas": 10 + i})
                assert sc["total_workers"] == 4 * (10 + i), dump(sc)
                finished_others.append(time.monotonic())
            status, headers, body = await slow.response(timeout=15)
            answered = time.monotonic()
        finally:
            slow.close()
        assert status == 408, (status, body)
        error = json_rpc_error((status, headers, body))
        assert error["code"] == -32008 and "2 s" in error["message"], error
        assert 1.8 <= answered - started <= 10, f"answered after {answered - started:.2f} s"
        assert max(finished_others) < answered, "the other calls did not run while the slow one hung"
        # And the server goes on.
        assert (await conn.ok("capacity_math", BASE_CAPACITY))["total_workers"] == 128
    assert 'status=408 reason="upload_timeout"' in server.stderr()


async def test_concurrent_call_cap_gives_a_clear_busy_error(start_server):
    server = start_server("--max-concurrent-calls", "1", "--call-timeout", "20s")
    async with http_session(server.url) as conn:
        await conn.tools()
        holder = SlowRequest(server.port, tools_call_body(41, "capacity_math", BASE_CAPACITY))
        await holder.start()
        try:
            await anyio.sleep(1.0)  # the held request now occupies the only slot
            started = time.monotonic()
            with pytest.raises(MCPError) as busy:
                await conn.client.call_tool("capacity_math", BASE_CAPACITY)
            waited = time.monotonic() - started
            assert busy.value.code == -32005, (busy.value.code, busy.value.message)
            assert "busy" in busy.value.message.lower() and "--max-concurrent-calls" in busy.value.message
            assert waited >= 0.9, f"refused after {waited:.2f} s, without waiting for a slot"
            with httpx2.Client(timeout=5) as http:
                assert http.get(f"{server.base}/healthz").status_code == 200

            # The call holding the slot completes normally once its body arrives.
            await holder.finish()
            status, headers, body = await holder.response(timeout=10)
        finally:
            holder.close()
        assert status == 200, (status, body)
        assert structured(json.loads(body))["total_workers"] == 128
        assert (await conn.ok("capacity_math", BASE_CAPACITY))["total_workers"] == 128
    assert 'status=503 reason="busy"' in server.stderr()


# --------------------------------------------------------------------------- shutdown


def refused_connection(port: int) -> bool:
    """Whether new connections are refused. A connect that races the listener closing is
    reset rather than refused; both mean the server takes no new connection."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except (ConnectionRefusedError, ConnectionResetError):
        return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_shutdown_lets_the_call_in_progress_finish_and_refuses_new_ones(start_server, signum):
    server = start_server("--shutdown-grace", "10s")
    slow = SlowRequest(server.port, tools_call_body(5, "capacity_math", BASE_CAPACITY))
    await slow.start()
    try:
        await anyio.sleep(1.0)  # the server has accepted and started reading it
        server.terminate(signum)
        deadline = time.monotonic() + 5
        while not refused_connection(server.port):
            assert time.monotonic() < deadline, f"still accepting connections 5 s after {signum!r}"
            await anyio.sleep(0.05)
        assert server.proc.poll() is None, "exited before the call in progress finished"
        await slow.finish()
        status, _, body = await slow.response(timeout=10)
    finally:
        slow.close()
    assert status == 200, (status, body)
    assert structured(json.loads(body))["total_workers"] == 128
    code = await anyio.to_thread.run_sync(server.wait, 10)
    assert code == 0, f"exit code {code}:\n{server.stderr()[-3000:]}"
    stderr = server.stderr()
    assert "shutting down" in stderr and "stopped" in stderr, stderr[-3000:]


async def test_shutdown_is_bounded_by_the_grace_period(start_server):
    server = start_server("--shutdown-grace", "1s", "--call-timeout", "60s")
    stuck = SlowRequest(server.port, tools_call_body(6, "capacity_math", BASE_CAPACITY))
    await stuck.start()
    try:
        await anyio.sleep(1.0)  # the server has accepted and started reading it
        started = time.monotonic()
        server.terminate()
        code = await anyio.to_thread.run_sync(server.wait, 15)
        took = time.monotonic() - started
    finally:
        stuck.close()
    assert code == 0, f"exit code {code}:\n{server.stderr()[-3000:]}"
    assert 0.9 <= took <= 6, f"exited {took:.2f} s after SIGTERM with a 1 s grace period"
    assert "grace period ended" in server.stderr()


# --------------------------------------------------------------------------- access log


PLANTED_LATENCY = 4321.987654
PLANTED_TEXT = "customer-alice-7319@example.com"


async def test_access_log_names_tools_and_outcomes_but_never_arguments_or_tokens(start_server):
    server = start_server()
    wrong = "planted-wrong-token-" + secrets.token_hex(8)
    async with http_session(server.url) as conn:
        await conn.ok("capacity_math", {**BASE_CAPACITY, "avg_latency_ms": PLANTED_LATENCY})
        await conn.tool_error("capacity_math", {**BASE_CAPACITY, "workload": PLANTED_TEXT})
        await conn.ok("match_symptom", {"observations": {"recent_changes": ["deploy"], "workers_busy_percent": 97.123}})
        prompts = (await conn.client.list_prompts()).prompts
        with_args = [p for p in prompts if p.arguments]
        if with_args:
            await conn.client.get_prompt(with_args[0].name, {a.name: PLANTED_TEXT for a in with_args[0].arguments})
        try:
            await conn.client.call_tool(PLANTED_TEXT, {})
        except MCPError:
            pass
    assert raw_post(server.url, initialize_body(), token=wrong).status_code == 401
    server.close()
    stderr = server.stderr()

    assert re.search(r'access: tool call tool="capacity_math" outcome="ok" duration_ms=[0-9.]+ peer=127\.0\.0\.1:\d+', stderr), stderr
    assert 'tool="capacity_math" outcome="tool_error"' in stderr, stderr
    assert 'tool="match_symptom" outcome="ok"' in stderr, stderr
    assert 'status=401 reason="unauthorized"' in stderr, stderr
    for secret in (TOKEN, wrong, str(PLANTED_LATENCY), PLANTED_TEXT, "97.123"):
        assert secret not in stderr, f"{secret!r} appears in the server's log:\n{stderr}"


async def test_token_and_arguments_stay_out_of_the_log_even_at_trace_level(start_server, server_env):
    server = start_server(env={**server_env, "RUST_LOG": "trace"})
    async with http_session(server.url) as conn:
        await conn.ok("capacity_math", {**BASE_CAPACITY, "avg_latency_ms": PLANTED_LATENCY})
    assert raw_post(server.url, initialize_body(), token=TOKEN[::-1]).status_code == 401
    server.close()
    stderr = server.stderr()
    assert 'tool="capacity_math" outcome="ok"' in stderr, stderr
    assert TOKEN not in stderr and TOKEN[::-1] not in stderr, "the bearer token appears in the trace log"
    assert str(PLANTED_LATENCY) not in stderr, "a tool argument appears in the trace log"


async def test_json_access_log(start_server, server_env):
    server = start_server(env={**server_env, "PWT_LOG_FORMAT": "json"})
    async with http_session(server.url) as conn:
        await conn.ok("capacity_math", BASE_CAPACITY)
    server.close()
    lines = [json.loads(line) for line in server.stderr().splitlines() if line.strip()]
    calls = [line for line in lines if line.get("target") == "access" and line.get("fields", {}).get("tool")]
    assert calls, lines
    fields = calls[0]["fields"]
    assert fields["tool"] == "capacity_math" and fields["outcome"] == "ok", fields
    assert isinstance(fields["duration_ms"], (int, float)), fields


async def test_a_team_server_reads_only_what_the_operator_allows(start_server, server_env, tmp_path):
    """Over HTTP nothing is readable by default: no log directory, no metrics host, not even
    loopback. What the operator allows (PWT_LOG_DIRS, --metrics-host) is; /proc never is."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text(
        '10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] "GET /api/orders/12 HTTP/1.1" 200 512 "-" "ua" '
        'rt=0.120 uct="0.001" uht="0.110" urt="0.115"\n'
    )
    (tmp_path / "secret.key").write_text("TEAMSECRETVALUE0123456789\n")
    (logs / "key.log").symlink_to(tmp_path / "secret.key")
    metrics = socket.socket()
    metrics.bind(("127.0.0.1", 0))
    metrics.listen(4)
    port = metrics.getsockname()[1]
    log_call = {"access_log": {"path": str(logs / "access.log"), "log_format": "timed"}}
    try:
        default = start_server()
        async with http_session(default.url) as conn:
            text = await conn.tool_error("break_down_latency", log_call)
            assert "allowed: none" in text and "PWT_LOG_DIRS" in text, text
            text = await conn.tool_error(
                "break_down_latency", {"gunicorn_metrics_url": f"http://127.0.0.1:{port}/metrics"}
            )
            assert "allowed: none" in text and "PWT_METRICS_HOSTS" in text, text

        allowed = start_server("--metrics-host", "10.0.0.0/8", env={**server_env, "PWT_LOG_DIRS": str(logs)})
        async with http_session(allowed.url) as conn:
            sc = await conn.ok("break_down_latency", log_call)
            assert sc["access_log"]["parsed_lines"] == 1, dump(sc)
            for path in (str(logs / "key.log"), str(logs / ".." / "secret.key"), "/proc/self/environ"):
                text = await conn.tool_error(
                    "break_down_latency", {"access_log": {"path": path, "log_format": "$request_time"}}
                )
                assert "TEAMSECRET" not in text and "may read" in text, text
            text = await conn.tool_error(
                "break_down_latency", {"gunicorn_metrics_url": f"http://127.0.0.1:{port}/metrics"}
            )
            assert "10.0.0.0/8" in text and "loopback" not in text, text
            text = await conn.tool_error(
                "break_down_latency", {"gunicorn_metrics_url": "http://169.254.169.254/latest/meta-data/"}
            )
            assert "instance-metadata" in text, text
    finally:
        metrics.close()
