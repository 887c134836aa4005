// The TypeScript MCP SDK's stdio client against the real binary: the way Claude Desktop,
// Claude Code, Cursor, VS Code and OpenCode run a local server. See harness.mjs.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

import { TEST_TIMEOUT_MS, cleanEnv, defineSuite, quietly, serverBinary } from './harness.mjs';

/** A client session with the binary as its child process; `args` as a client config gives them. */
async function open(args = []) {
  const { env, cleanup } = cleanEnv();
  const transport = new StdioClientTransport({ command: serverBinary(), args, env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
  const client = new Client({ name: 'pwt-interop-ts', version: '0.0.0' });
  await client.connect(transport);
  return {
    client,
    async close() {
      await client.close();
      cleanup();
      assert.ok(!stderr.includes('panicked'), `the server panicked:\n${stderr.slice(-4000)}`);
    },
  };
}

defineSuite('stdio', () => open(['serve']));

test('stdio: the command with no arguments is a stdio server too', { timeout: TEST_TIMEOUT_MS }, () =>
  quietly(async () => {
    const { client, close } = await open([]);
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'capacity_math'));
    } finally {
      await close();
    }
  }),
);
