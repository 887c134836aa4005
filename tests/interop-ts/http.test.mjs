// The TypeScript MCP SDK's streamable HTTP client against `serve --http` on a loopback port of
// its own, with a bearer token: the way a team shares one instance. See harness.mjs.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { TEST_TIMEOUT_MS, cleanEnv, defineSuite, quietly, startHttpServer } from './harness.mjs';

const TOKEN = randomBytes(24).toString('hex');
let server;
let environment;

before(async () => {
  environment = cleanEnv();
  server = await startHttpServer(environment.env, TOKEN);
});

after(async () => {
  await server?.stop();
  environment?.cleanup();
});

function transport(token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  return new StreamableHTTPClientTransport(server.url, { requestInit: { headers } });
}

async function open() {
  const client = new Client({ name: 'pwt-interop-ts', version: '0.0.0' });
  await client.connect(transport(TOKEN));
  return {
    client,
    async close() {
      await client.close();
      assert.ok(!server.stderr().includes('panicked'), `the server panicked:\n${server.stderr().slice(-4000)}`);
    },
  };
}

defineSuite('http', open);

test('http: a client without the token, or with a wrong one, is refused', { timeout: TEST_TIMEOUT_MS }, () =>
  quietly(async () => {
    for (const token of [undefined, TOKEN.split('').reverse().join('')]) {
      const client = new Client({ name: 'pwt-interop-ts', version: '0.0.0' });
      await assert.rejects(
        client.connect(transport(token)),
        (error) => error.code === 401 && error.message.includes('Unauthorized'),
      );
      await client.close();
    }
  }),
);
