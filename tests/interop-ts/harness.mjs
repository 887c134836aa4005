// The real server binary driven by the official TypeScript MCP SDK (@modelcontextprotocol/sdk,
// the client inside Claude Code, Claude Desktop, Gemini CLI, OpenCode and many other clients).
//
//   cargo build && bash scripts/interop-ts-setup.sh && node --test tests/interop-ts/*.test.mjs
//
// This module holds what both transports share: the server binary, a clean environment, the
// client's console watched for warnings, and the suite itself (`defineSuite`), which
// stdio.test.mjs and http.test.mjs run over their own transport.
//
// Environment:
//   PWT_BIN   the server binary (default <repo>/target/debug/python-web-troubleshooter).
//             A missing binary fails every test; it is never a skip.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SERVER_NAME = 'python-web-troubleshooter';
export const TOOLS = ['break_down_latency', 'capacity_math', 'check_rds_iops', 'match_symptom', 'slow_queries'];
export const TEST_TIMEOUT_MS = 30_000;
export const BASE_CAPACITY = { replicas: 32, workers_per_replica: 4, avg_latency_ms: 4000 };

/** The formats JSON Schema 2020-12 defines; any other is a warning in Ajv and a refusal in
 * strict model APIs (Gemini accepts no `uint64`). */
export const STANDARD_FORMATS = new Set([
  'date-time', 'date', 'time', 'duration', 'email', 'idn-email', 'hostname', 'idn-hostname',
  'ipv4', 'ipv6', 'uri', 'uri-reference', 'iri', 'iri-reference', 'uuid', 'uri-template',
  'json-pointer', 'relative-json-pointer', 'regex',
]);

// A call that must succeed, for every tool that needs nothing outside the process.
const VALID_CALLS = {
  capacity_math: { ...BASE_CAPACITY, cpu_cores: 4, arrival_rps: 20, target_latency_ms: 1000 },
  match_symptom: { observations: { workers_busy_percent: 100, backlog_growing: true, app_cpu_percent: 95 } },
  break_down_latency: {
    figures: {
      nginx: { request_time_ms: 1200, upstream_response_time_ms: 1150 },
      app: { request_duration_ms: 1100, queue_wait_ms: 50 },
      db: { query_latency_ms: 900 },
    },
  },
};

// Tools that read a database or AWS: with nothing configured (the clean environment below) a
// call is a tool error that says what to configure. `says` is a phrase the message must hold.
const OUTSIDE_CALLS = {
  check_rds_iops: { args: { db_instance_identifier: 'orders-db' }, says: 'AWS' },
  slow_queries: { args: {}, says: 'DATABASE_URL' },
};

// Bad arguments: a tool error (isError true, not a protocol error) whose text names the field.
const BAD_CALLS = [
  ['capacity_math', { ...BASE_CAPACITY, replicas: -1 }, 'replicas'],
  ['capacity_math', { ...BASE_CAPACITY, avg_latency_ms: 0 }, 'avg_latency_ms'],
  ['capacity_math', { ...BASE_CAPACITY, avg_latency_ms: 'NaN' }, 'avg_latency_ms'],
  ['capacity_math', { ...BASE_CAPACITY, replicas: 'four' }, 'replicas'],
  ['capacity_math', { ...BASE_CAPACITY, workload: 'quantum' }, 'workload'],
  ['capacity_math', { workers_per_replica: 4, avg_latency_ms: 4000 }, 'replicas'],
  ['match_symptom', { observations: { latency_pattern: 'sideways' } }, 'latency_pattern'],
  ['match_symptom', { observations: { workers_busy_percent: 250 } }, 'workers_busy_percent'],
  ['break_down_latency', { figures: { nginx: { request_time_ms: -1 } } }, 'request_time_ms'],
  ['break_down_latency', { listen_port: 70000 }, 'listen_port'],
  ['check_rds_iops', {}, 'db_instance_identifier'],
  ['check_rds_iops', { db_instance_identifier: 'orders-db', period_seconds: 45 }, 'period_seconds'],
  ['slow_queries', { order_by: 'fastest' }, 'order_by'],
  ['slow_queries', { target: 'postgres://u:pw@db/x' }, 'target'],
];

// ------------------------------------------------------------------------ the client's console

/** Everything the client process printed or was warned about, while the suite runs. */
const printed = [];

/** Set while a console method writes, so that its line is not counted again as stderr. */
let inConsole = false;

function watch(object, method, label) {
  const original = object[method].bind(object);
  object[method] = (...args) => {
    const text = args
      .map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.stack : JSON.stringify(a)))
      .join(' ');
    printed.push(`${label}: ${text}`);
    inConsole = true;
    try {
      return original(...args);
    } finally {
      inConsole = false;
    }
  };
}

// console.log goes to stdout, which a stdio MCP client must keep for the protocol: recorded
// like the rest. process.stderr.write catches what bypasses console (a library's own logger).
for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
  watch(console, method, `console.${method}`);
}
{
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (chunk, ...rest) => {
    if (!inConsole) printed.push(`stderr: ${String(chunk)}`);
    return write(chunk, ...rest);
  };
}
process.on('warning', (warning) => printed.push(`process warning: ${warning.stack ?? warning}`));

/** Runs `body` and fails if the client printed anything meanwhile (Ajv's `unknown format
 * "uint64" ignored`, a deprecation, a stray log line). */
export async function quietly(body) {
  const from = printed.length;
  const result = await body();
  const said = printed.slice(from);
  assert.deepEqual(said, [], `the client printed ${said.length} line(s):\n${said.slice(0, 20).join('\n')}`);
  return result;
}

// ------------------------------------------------------------------------ the server

/** The binary under test; fails (never skips) when it is missing. */
export function serverBinary() {
  const path = process.env.PWT_BIN || join(REPO, 'target', 'debug', SERVER_NAME);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    assert.fail(`server binary ${path} does not exist or is not executable: run \`cargo build\` (or set PWT_BIN)`);
  }
  return path;
}

/** The version in Cargo.toml's [package] section. */
export function cargoVersion() {
  const text = readFileSync(join(REPO, 'Cargo.toml'), 'utf8');
  const section = text.match(/^\[package\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m);
  assert.ok(section, 'no [package] section in Cargo.toml');
  const version = section[1].match(/^version\s*=\s*"([^"]+)"/m);
  assert.ok(version, 'no version in Cargo.toml [package]');
  return version[1];
}

/** A minimal environment: no DATABASE_URL, no PWT_*, no AWS credentials, an empty HOME (so no
 * ~/.pgpass or ~/.aws of the machine running the tests leaks in). Call `cleanup` at the end. */
export function cleanEnv() {
  const home = mkdtempSync(join(tmpdir(), 'pwt-interop-ts-'));
  return {
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      LANG: 'C.UTF-8',
      // The AWS default chain must never reach for the instance metadata service.
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}

/** `serve --http 127.0.0.1:0` with a bearer token, up once it logs its address. */
export async function startHttpServer(env, token) {
  const child = spawn(serverBinary(), ['serve', '--http', '127.0.0.1:0'], {
    env: { ...env, PWT_HTTP_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
  child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
  const exited = new Promise((done) => child.on('exit', (code, signal) => done({ code, signal })));
  const deadline = Date.now() + 15_000;
  let port;
  while (!port) {
    port = stderr.match(/listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/)?.[1];
    if (port) break;
    if (child.exitCode !== null) assert.fail(`the HTTP server exited with ${child.exitCode}:\n${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      assert.fail(`the HTTP server did not listen within 15 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    stderr: () => stderr,
    /** SIGTERM, then the exit status; stdout must stay empty (logs belong on stderr). */
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const status = await exited;
      clearTimeout(timer);
      assert.equal(stdout, '', `the HTTP server wrote to stdout: ${stdout.slice(0, 2000)}`);
      assert.ok(!stderr.includes('panicked'), `the server panicked:\n${stderr.slice(-4000)}`);
      assert.deepEqual(status, { code: 0, signal: null }, `exit after SIGTERM:\n${stderr.slice(-3000)}`);
    },
  };
}

// ------------------------------------------------------------------------ checks

/** Every `format` in a schema that JSON Schema does not define, with its path. */
export function nonStandardFormats(schema, path = '#') {
  const found = [];
  if (Array.isArray(schema)) {
    schema.forEach((item, i) => found.push(...nonStandardFormats(item, `${path}/${i}`)));
  } else if (schema && typeof schema === 'object') {
    if (typeof schema.format === 'string' && !STANDARD_FORMATS.has(schema.format)) {
      found.push(`${path}: ${schema.format}`);
    }
    for (const [key, value] of Object.entries(schema)) {
      found.push(...nonStandardFormats(value, `${path}/${key}`));
    }
  }
  return found;
}

const texts = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text);
const show = (value) => JSON.stringify(value).slice(0, 3000);

function checkEnvelope(sc, where) {
  assert.ok(typeof sc.verdict === 'string' && sc.verdict.trim(), `${where}: verdict missing: ${show(sc)}`);
  assert.ok(Array.isArray(sc.evidence), `${where}: evidence is not a list`);
  for (const item of sc.evidence) {
    for (const key of ['metric', 'value', 'unit', 'source']) {
      assert.ok(key in item, `${where}: evidence item lacks ${key}: ${show(item)}`);
    }
  }
  assert.ok(Array.isArray(sc.next_steps), `${where}: next_steps is not a list`);
  for (const step of sc.next_steps) {
    assert.ok(typeof step.action === 'string' && step.action, `${where}: next_step without action: ${show(step)}`);
  }
  assert.ok(Array.isArray(sc.warnings), `${where}: warnings is not a list`);
}

/** tools/call through the SDK, which validates structuredContent against the listed
 * outputSchema; a protocol error fails the test. */
async function call(client, name, args) {
  try {
    return await client.callTool({ name, arguments: args });
  } catch (error) {
    assert.fail(`tools/call ${name} ${show(args)} was rejected (${error.code ?? ''}): ${error.message}`);
  }
}

async function toolError(client, name, args) {
  const result = await call(client, name, args);
  const text = texts(result).join('\n');
  assert.equal(result.isError, true, `tools/call ${name} ${show(args)}: expected isError, got ${show(result)}`);
  assert.ok(text.trim(), `tools/call ${name}: an error without a message: ${show(result)}`);
  return text;
}

async function ok(client, name, args) {
  const result = await call(client, name, args);
  const where = `tools/call ${name} ${show(args)}`;
  assert.notEqual(result.isError, true, `${where} returned isError: ${texts(result).join('\n')}`);
  assert.ok(texts(result).some((t) => t.trim()), `${where}: no text content`);
  assert.equal(typeof result.structuredContent, 'object', `${where}: no structuredContent`);
  checkEnvelope(result.structuredContent, where);
  return result.structuredContent;
}

// ------------------------------------------------------------------------ the suite

/**
 * The tests every transport passes, named after `transport`. `open()` returns `{client, close}`: a connected SDK client
 * and what ends its session (and checks the server's side of it).
 */
export function defineSuite(transport, open) {
  const it = (name, body) =>
    test(`${transport}: ${name}`, { timeout: TEST_TIMEOUT_MS }, () =>
      quietly(async () => {
        const session = await open();
        try {
          await body(session.client);
        } finally {
          await session.close();
        }
      }),
    );

  it('initialize announces our name, version and the order', async (client) => {
    const server = client.getServerVersion();
    assert.equal(server?.name, SERVER_NAME);
    assert.equal(server?.version, cargoVersion());
    const instructions = client.getInstructions() ?? '';
    assert.match(instructions, /latency is what actually determines capacity/);
    assert.ok(client.getServerCapabilities()?.tools, 'no tools capability');
  });

  it('tools/list: every tool, read-only, with an input and an output schema', async (client) => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
    for (const tool of tools) {
      assert.equal(tool.inputSchema.type, 'object', `${tool.name}: inputSchema`);
      assert.equal(typeof tool.outputSchema, 'object', `${tool.name}: no outputSchema`);
      assert.equal(tool.annotations?.readOnlyHint, true, `${tool.name}: readOnlyHint`);
      assert.ok(tool.description?.length > 200, `${tool.name}: description`);
    }
  });

  it('tools/list: standard formats only, unsigned integers bounded', async (client) => {
    const { tools } = await client.listTools();
    const found = tools.flatMap((t) => [
      ...nonStandardFormats(t.inputSchema, `${t.name} inputSchema#`),
      ...nonStandardFormats(t.outputSchema, `${t.name} outputSchema#`),
    ]);
    assert.deepEqual(found, [], `${found.length} non-standard formats:\n${found.join('\n')}`);

    const latency = tools.find((t) => t.name === 'break_down_latency');
    const props = latency.inputSchema.properties;
    assert.deepEqual([props.listen_port.minimum, props.listen_port.maximum], [0, 65535], show(props.listen_port));
    assert.deepEqual([props.samples.minimum, props.samples.maximum], [0, 4294967295], show(props.samples));
    const queue = latency.outputSchema.$defs.QueueReport.properties.nonzero_samples;
    assert.equal(queue.type, 'integer');
    assert.equal(queue.minimum, 0, show(queue));

    // Clients that validate arguments (or build forms) compile the input schemas too: the SDK's
    // own validator takes every schema without a word (checked by `quietly`).
    const ajv = new AjvJsonSchemaValidator();
    for (const tool of tools) {
      ajv.getValidator(tool.inputSchema);
      ajv.getValidator(tool.outputSchema);
    }
  });

  it('tools/call: every tool, results valid against their outputSchema', async (client) => {
    const { tools } = await client.listTools(); // caches the output validators callTool uses
    for (const { name } of tools) {
      if (name in OUTSIDE_CALLS) {
        const { args, says } = OUTSIDE_CALLS[name];
        const text = await toolError(client, name, args);
        assert.ok(text.startsWith(`${name}:`), text);
        assert.ok(text.includes(says), `${name} with nothing configured: ${text}`);
        continue;
      }
      assert.ok(name in VALID_CALLS, `no valid call for tool ${name}: add one to VALID_CALLS`);
      await ok(client, name, VALID_CALLS[name]);
    }
    const sc = await ok(client, 'capacity_math', BASE_CAPACITY);
    assert.equal(sc.total_workers, 128);
    assert.equal(sc.throughput_ceiling_rps, 32);
    const chained = await ok(client, 'break_down_latency', VALID_CALLS.break_down_latency);
    // break_down_latency's observations go to match_symptom unchanged.
    const matched = await ok(client, 'match_symptom', { observations: chained.observations });
    assert.ok(Array.isArray(matched.matches), show(matched));
  });

  it('bad arguments are tool errors naming the field, and the session goes on', async (client) => {
    await client.listTools();
    for (const [name, args, field] of BAD_CALLS) {
      const text = await toolError(client, name, args);
      assert.ok(text.includes(field), `tools/call ${name} ${show(args)}: the error does not name ${field}: ${text}`);
    }
    let unknown;
    try {
      unknown = await client.callTool({ name: 'no_such_tool', arguments: {} });
    } catch (error) {
      assert.ok(error instanceof McpError, `unknown tool: ${error}`);
    }
    if (unknown) assert.equal(unknown.isError, true, show(unknown));
    assert.equal((await ok(client, 'capacity_math', BASE_CAPACITY)).total_workers, 128);
  });

  it('prompts: listed, rendered with and without their optional arguments, refused without required ones', async (client) => {
    const { prompts } = await client.listPrompts();
    assert.ok(prompts.length >= 3, `prompts: ${show(prompts)}`);
    for (const prompt of prompts) {
      assert.ok(prompt.description?.trim(), `${prompt.name}: no description`);
      const declared = prompt.arguments ?? [];
      const value = (a) => `sample-${a.name}-7319`;
      const body = async (args) => {
        const got = await client.getPrompt({ name: prompt.name, arguments: args });
        assert.ok(got.messages.length > 0, `${prompt.name}: no messages`);
        return got.messages.map((m) => m.content?.text ?? '').join('\n');
      };

      const all = await body(Object.fromEntries(declared.map((a) => [a.name, value(a)])));
      for (const a of declared) assert.ok(all.includes(value(a)), `${prompt.name}: ${a.name} not rendered`);

      const required = declared.filter((a) => a.required);
      const some = await body(Object.fromEntries(required.map((a) => [a.name, value(a)])));
      for (const a of declared.filter((a) => !a.required)) {
        assert.ok(!some.includes(value(a)), `${prompt.name}: ${a.name} rendered without being given`);
      }

      if (required.length > 0) {
        await assert.rejects(
          client.getPrompt({ name: prompt.name, arguments: {} }),
          (error) =>
            error instanceof McpError &&
            error.code === -32602 &&
            required.some((a) => error.message.includes(a.name)),
          `${prompt.name} without its required arguments`,
        );
      } else {
        await body({});
      }
    }
  });
}
