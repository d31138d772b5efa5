/**
 * Scoped tokens from a file, `durable token create`, and the worker's HTTP API serving them over a real socket.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, loadWorkerSettings } from '../../src/config/config.js';
import {
  authFromEnvironment,
  createToken,
  parseTokenFile,
  readTokenFile,
  sha256Hex,
} from '../../src/http/token-file.js';
import type { Logger } from '../../src/observability/logger.js';
import { parseWorkerApi } from '../../worker/options.js';
import { startWorkerProcess } from '../../worker/worker-process.js';
import app from '../../examples/app.js';

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const HASH = 'a'.repeat(64);

function tokensFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'durable-tokens-'));
  const path = join(dir, 'tokens.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('token files', () => {
  it('reads entries of name, scopes and the hash of the token', () => {
    const path = tokensFile([{ name: 'ci', scopes: ['read', 'write'], sha256: HASH.toUpperCase() }]);
    assert.deepEqual(readTokenFile(path), [{ name: 'ci', scopes: ['read', 'write'], sha256: HASH }]);
  });

  it('refuses a bad file with a message that names the entry and the field', () => {
    const ok = { name: 'ci', scopes: ['read'], sha256: HASH };
    const cases: Array<[unknown, RegExp]> = [
      [{ tokens: [] }, /must hold a JSON array/],
      [[ok, 'x'], /entry 1 must be an object/],
      [[{ ...ok, name: '' }], /entry 0 \(""\), field "name" must be/],
      [[ok, { ...ok, sha256: 'b'.repeat(64) }], /entry 1 \("ci"\), field "name" repeats/],
      [[{ ...ok, scopes: ['read', 'root'] }], /entry 0 \("ci"\), field "scopes" must be a non-empty array/],
      [[{ ...ok, scopes: [] }], /field "scopes"/],
      [[{ ...ok, sha256: 'not-hex' }], /entry 0 \("ci"\), field "sha256" must be the SHA-256/],
      [[{ ...ok, token: 'plain-text-token-0123456' }], /field "token" is not a known field/],
      [[ok, { ...ok, name: 'other' }], /entry 1 \("other"\), field "sha256" repeats/],
    ];
    for (const [content, message] of cases) {
      assert.throws(() => parseTokenFile(content, 'tokens.json'), message, JSON.stringify(content));
    }
    assert.throws(() => readTokenFile(tokensFile('[{"name": ')), /tokens file .* is not valid JSON/);
    assert.throws(() => readTokenFile('/no/such/tokens.json'), /Cannot read the tokens file \/no\/such\/tokens.json/);
  });

  it('adds the file to DURABLE_TOKEN (every scope), and configures nothing when neither is set', () => {
    const path = tokensFile([{ name: 'ci', scopes: ['read'], sha256: HASH }]);
    const auth = authFromEnvironment({ token: 'admin-token-0123456789', tokensFile: path });
    assert.deepEqual(
      auth?.tokens.map((t) => [t.name, t.scopes]),
      [
        [undefined, ['read', 'write', 'admin']],
        ['ci', ['read']],
      ],
    );
    assert.equal(authFromEnvironment({ token: '', tokensFile: undefined }), undefined);
    assert.throws(() => authFromEnvironment({ token: 'short' }), /at least 16/);
  });

  it('creates a random token whose entry holds only its hash', () => {
    const a = createToken('ci', ['read', 'write']);
    const b = createToken('ci', ['read', 'write']);
    assert.notEqual(a.token, b.token);
    assert.ok(a.token.length >= 40);
    assert.deepEqual(a.entry, { name: 'ci', scopes: ['read', 'write'], sha256: sha256Hex(a.token) });
    assert.ok(!JSON.stringify(a.entry).includes(a.token));
  });
});

describe('durable token create', function () {
  this.timeout(20_000);
  const bin = fileURLToPath(new URL('../../bin/durable.mjs', import.meta.url));
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, 'token', ...args], (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });

  it('prints a token once and the entry that accepts it, and exits 2 on a bad name, scope or subcommand', async () => {
    const created = await run(['create', '--name', 'ci', '--scopes', 'read,write']);
    assert.equal(created.code, 0, created.stderr);
    const token = /^token +(\S+)/.exec(created.stdout)?.[1] ?? '';
    const entry = JSON.parse(created.stdout.trim().split('\n').at(-1) ?? '') as unknown;
    assert.deepEqual(entry, { name: 'ci', scopes: ['read', 'write'], sha256: sha256Hex(token) });
    assert.deepEqual(parseTokenFile([entry], 'printed'), [entry]);
    for (const args of [
      ['create'],
      ['create', '--name', 'a b'],
      ['create', '--name', 'ci', '--scopes', 'root'],
      ['list'],
    ]) {
      const refused = await run(args);
      assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, /--name|--scopes|Usage: durable token create/);
    }
  });
});

describe("the worker's HTTP API", function () {
  this.timeout(20_000);

  it('is off by default, and refuses a non-loopback address without tokens or with a bad file', () => {
    assert.equal(parseWorkerApi({}), undefined);
    assert.throws(() => parseWorkerApi({ DURABLE_API_PORT: '8080' }), /needs tokens/);
    assert.throws(() => parseWorkerApi({ DURABLE_API_PORT: 'eighty' }), /DURABLE_API_PORT/);
    assert.throws(
      () => parseWorkerApi({ DURABLE_API_PORT: '8080', DURABLE_TOKENS_FILE: tokensFile([{ name: 'ci' }]) }),
      /entry 0 \("ci"\), field "scopes"/,
    );
    assert.equal(parseWorkerApi({ DURABLE_API_PORT: '0', DURABLE_API_HOST: '127.0.0.1' })?.auth, undefined);
  });

  it('serves the API with the scoped tokens of a file over a real socket', async () => {
    const reader = createToken('dashboard', ['read']);
    const writer = createToken('ci', ['read', 'write']);
    const api = parseWorkerApi({
      DURABLE_API_PORT: '0',
      DURABLE_API_HOST: '127.0.0.1',
      DURABLE_TOKENS_FILE: tokensFile([reader.entry, writer.entry]),
    });
    const worker = await startWorkerProcess({
      app,
      config: loadConfig({ DURABLE_BACKEND: 'memory' }),
      settings: loadWorkerSettings({ DURABLE_OPS_HOST: '127.0.0.1', DURABLE_OPS_PORT: '0' }),
      logger: silent,
      api,
    });
    try {
      const base = worker.apiAddress!;
      const as = (token?: string) => ({
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      });
      assert.equal((await fetch(`${base}/api/instances`)).status, 401);
      const whoami = await fetch(`${base}/api/whoami`, { headers: as(reader.token) });
      assert.deepEqual(await whoami.json(), { scopes: ['read'], name: 'dashboard', authRequired: true });
      const start = (token: string) =>
        fetch(`${base}/api/orchestrations/helloSequence`, {
          method: 'POST',
          headers: as(token),
          body: JSON.stringify({ input: ['Oslo'], instanceId: 'w-1' }),
        });
      assert.equal((await start(reader.token)).status, 403);
      assert.equal((await start(writer.token)).status, 201);
      const status = await fetch(`${base}/api/instances/w-1?wait=10000`, { headers: as(reader.token) });
      assert.equal(((await status.json()) as { status: string }).status, 'Completed');
    } finally {
      assert.equal(await worker.drain(), 'drained');
    }
    await assert.rejects(fetch(`${worker.apiAddress}/api/whoami`), 'the API closes with the drain');
  });
});
