/**
 * The API is safe in a browser (issue #15): who am I, cross-site requests, DNS rebinding, unknown entity
 * operations, security headers and bounded echoes. Host checks run over a real socket: they depend on the address
 * the connection really reached.
 */
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import app from '../../examples/app.js';
import { describeApp } from '../../src/http/app-description.js';
import { sha256Hex } from '../../src/http/token-file.js';
import type { Harness } from './helpers.js';
import { APPROVAL, BODYLESS, assertProblem, assertRejectedWithoutChange, snapshot, startHarness } from './helpers.js';

const CI = 'ci-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789ab';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('HTTP API: GET /api/whoami', () => {
  it('answers every scope and authRequired false to anyone when no token is configured', async () => {
    const h = startHarness();
    try {
      const response = await h.api.inject({ method: 'GET', url: '/api/whoami' });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { scopes: ['read', 'write', 'admin'], authRequired: false });
    } finally {
      await h.close();
    }
  });

  it("answers a token's name and scopes (from its hash), and 401 without a token or with a bad one", async () => {
    const h = startHarness({
      auth: {
        tokens: [
          { name: 'ci', scopes: ['write', 'read'], sha256: sha256Hex(CI) },
          { name: 'viewer', scopes: ['read'], sha256: sha256Hex(VIEWER) },
        ],
      },
    });
    try {
      const ci = await h.api.inject({ method: 'GET', url: '/api/whoami', headers: bearer(CI) });
      assert.deepEqual(ci.json(), { scopes: ['read', 'write'], name: 'ci', authRequired: true });
      const viewer = await h.api.inject({ method: 'GET', url: '/api/whoami', headers: bearer(VIEWER) });
      assert.deepEqual(viewer.json(), { scopes: ['read'], name: 'viewer', authRequired: true });
      assertProblem(await h.api.inject({ method: 'GET', url: '/api/whoami' }), 401, 'UNAUTHORIZED');
      assertProblem(
        await h.api.inject({ method: 'GET', url: '/api/whoami', headers: bearer('x'.repeat(30)) }),
        401,
        'UNAUTHORIZED',
      );
      // The hash opens the API; the hash itself is not a token.
      assertProblem(
        await h.api.inject({ method: 'GET', url: '/api/instances', headers: bearer(sha256Hex(CI)) }),
        401,
        'UNAUTHORIZED',
      );
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: '/api/orchestrations/approval', payload: { input: APPROVAL }, headers: bearer(VIEWER) },
        403,
        'FORBIDDEN',
      );
    } finally {
      await h.close();
    }
  });
});

describe('HTTP API: cross-site requests', () => {
  let h: Harness;
  beforeEach(() => {
    h = startHarness();
  });
  afterEach(() => h.close());

  const start = (headers: Record<string, string>, payload?: string): InjectOptions => ({
    method: 'POST',
    url: '/api/orchestrations/approval',
    headers: { host: 'localhost:8080', ...headers },
    ...(payload !== undefined ? { payload } : {}),
  });
  const json = { 'content-type': 'application/json' };
  const body = JSON.stringify({ input: APPROVAL });

  it('refuses a mutation from another origin, from Origin null, and one the browser marks cross-site or same-site', async () => {
    for (const headers of [
      { ...json, origin: 'http://evil.example' },
      { ...json, origin: 'http://localhost:9999' },
      { ...json, origin: 'null' },
      { ...json, 'sec-fetch-site': 'cross-site' },
      { ...json, 'sec-fetch-site': 'same-site' },
      { ...json, origin: 'http://localhost:8080', 'sec-fetch-site': 'cross-site' },
    ]) {
      await assertRejectedWithoutChange(h, start(headers, body), 403, 'CROSS_SITE_REQUEST');
    }
  });

  it('refuses the simple requests a browser sends without a preflight with 415: no type, text/plain, a form', async () => {
    for (const [headers, payload] of [
      [{}, undefined],
      [{ origin: 'http://localhost:8080' }, undefined],
      [{ 'content-type': 'text/plain' }, body],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 'input=1'],
      [{ 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
      [{ 'x-durable-request': '1', 'content-type': 'text/plain' }, body],
    ] as const) {
      await assertRejectedWithoutChange(h, start(headers, payload), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    for (const action of ['suspend', 'resume', 'terminate']) {
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: `/api/instances/x/${action}`, headers: { origin: 'http://evil.example' } },
        403,
        'CROSS_SITE_REQUEST',
      );
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: `/api/instances/x/${action}` },
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
    }
    await assertRejectedWithoutChange(
      h,
      { method: 'POST', url: '/api/dead-letters/redrive' },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('accepts its own origin, same-origin fetches, clients without Origin, and body-less JSON or X-Durable-Request', async () => {
    const own = await h.api.inject(
      start(
        { ...json, origin: 'http://localhost:8080', 'sec-fetch-site': 'same-origin' },
        JSON.stringify({ instanceId: 'o1', input: APPROVAL }),
      ),
    );
    assert.equal(own.statusCode, 201, own.body);
    const cli = await h.api.inject(start(json, JSON.stringify({ instanceId: 'o2', input: APPROVAL })));
    assert.equal(cli.statusCode, 201, cli.body);
    await h.env.settle();
    const suspend = await h.api.inject({ method: 'POST', url: '/api/instances/o1/suspend', headers: json });
    assert.equal(suspend.statusCode, 202, suspend.body);
    const resume = await h.api.inject({ method: 'POST', url: '/api/instances/o1/resume', headers: BODYLESS });
    assert.equal(resume.statusCode, 202, resume.body);
  });

  it('answers a CORS preflight without any Access-Control-Allow-* header', async () => {
    const response = await h.api.inject({
      method: 'OPTIONS',
      url: '/api/orchestrations/approval',
      headers: {
        origin: 'http://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    const granted = Object.keys(response.headers).filter((k) => k.startsWith('access-control-'));
    assert.deepEqual(granted, []);
    const read = await h.api.inject({
      method: 'GET',
      url: '/api/instances',
      headers: { origin: 'http://evil.example' },
    });
    assert.equal(read.headers['access-control-allow-origin'], undefined);
  });
});

describe('HTTP API: Host check on loopback (DNS rebinding)', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = startHarness({ allowedHosts: ['durable.internal'] });
    port = Number(new URL(await h.api.listen({ port: 0, host: '127.0.0.1' })).port);
  });
  after(() => h.close());

  async function get(host: string): Promise<{ status: number; code?: string }> {
    const { request } = await import('node:http');
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/instances', headers: { host } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { code?: string }).code }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('refuses a Host that is not a loopback name or a configured one with 421, and serves those', async () => {
    for (const host of [
      'evil.example',
      'evil.example:' + port,
      '127.0.0.1.evil.example',
      '10.0.0.1',
      'localhost.evil',
    ]) {
      assert.deepEqual(await get(host), { status: 421, code: 'HOST_NOT_ALLOWED' }, host);
    }
    for (const host of [
      'localhost',
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      '[::1]:80',
      'LOCALHOST',
      'durable.internal:443',
    ]) {
      assert.equal((await get(host)).status, 200, host);
    }
  });
});

describe('HTTP API: unknown entity operations', () => {
  it('refuses an operation the entity does not have with 422 and the ones it accepts, queuing nothing', async () => {
    const h = startHarness({ app: describeApp(app) });
    try {
      const before = await snapshot(h.env);
      const response = await h.api.inject({
        method: 'POST',
        url: '/api/entities/counter/c1/explode',
        payload: { input: 1 },
      });
      assertProblem(response, 422, 'UNKNOWN_OPERATION');
      const details = response.json<{ details: { accepts: string[]; operation: string } }>().details;
      assert.equal(details.operation, 'explode');
      assert.deepEqual(details.accepts, describeApp(app).entities.find((e) => e.name === 'counter')?.operations);
      assert.ok(details.accepts.length > 0);
      assert.equal(await snapshot(h.env), before);
      const known = details.accepts[0]!;
      const ok = await h.api.inject({
        method: 'POST',
        url: `/api/entities/counter/c1/${known}`,
        payload: { input: 1 },
      });
      assert.equal(ok.statusCode, 202, ok.body);
    } finally {
      await h.close();
    }
  });
});

describe('HTTP API: security headers and bounded echoes', () => {
  let h: Harness;
  before(() => {
    h = startHarness({});
  });
  after(() => h.close());

  it('sends nosniff, no-referrer and DENY on answers, errors and the OpenAPI document', async () => {
    for (const request of [
      { method: 'GET', url: '/api/instances' },
      { method: 'GET', url: '/api/nothing' },
      { method: 'GET', url: '/openapi.json' },
      { method: 'POST', url: '/api/orchestrations/approval' },
      { method: 'GET', url: '/api/instances/%zz' },
    ] as const) {
      const response = await h.api.inject(request);
      assert.equal(response.headers['x-content-type-options'], 'nosniff', request.url);
      assert.equal(response.headers['referrer-policy'], 'no-referrer', request.url);
      assert.equal(response.headers['x-frame-options'], 'DENY', request.url);
    }
  });

  it("keeps an HTML route's own Content-Security-Policy and gives HTML without one frame-ancestors 'none'", async () => {
    const home = await h.api.inject({ method: 'GET', url: '/' });
    assert.match(String(home.headers['content-type']), /^text\/html/);
    const { DASHBOARD_CSP } = await import('../../src/http/dashboard.js');
    assert.equal(home.headers['content-security-policy'], DASHBOARD_CSP);
    const { addSecurityHeaders } = await import('../../src/http/server-limits.js');
    const headers = new Map<string, string>([['content-type', 'text/html']]);
    addSecurityHeaders({
      hasHeader: (name: string) => headers.has(name),
      getHeader: (name: string) => headers.get(name),
      header: (name: string, value: string) => headers.set(name, value),
    } as never);
    assert.equal(headers.get('content-security-policy'), "frame-ancestors 'none'");
  });

  it('cuts echoed input to 200 characters: a 16 KB path, id or name never comes back whole', async () => {
    const long = 'x'.repeat(16_000);
    for (const url of [
      `/${long}`,
      `/api/instances/${long}`,
      `/api/orchestrations/${long}`,
      `/api/instances/%zz${long}`,
    ]) {
      const response = await h.api.inject({
        method: url.includes('orchestrations') ? 'POST' : 'GET',
        url,
        payload: url.includes('orchestrations') ? {} : undefined,
      });
      assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${response.statusCode}`);
      assert.ok(response.body.length < 1500, `${url.slice(0, 30)}… answered ${response.body.length} bytes`);
      assert.ok(!response.body.includes('x'.repeat(201)));
    }
    // Echoed input with spaces in it (a header): the whole message is bounded too.
    const spaced = 'x '.repeat(8000);
    for (const headers of [{ origin: `http://a${spaced}` }, { 'content-type': `text/${spaced}` }]) {
      const response = await h.api.inject({
        method: 'POST',
        url: '/api/orchestrations/helloSequence',
        headers,
        payload: '{}',
      });
      assert.ok(
        response.statusCode === 403 || response.statusCode === 415,
        `${response.statusCode} ${response.body.slice(0, 200)}`,
      );
      assert.ok(response.body.length < 1500, `${Object.keys(headers)[0]} answered ${response.body.length} bytes`);
    }
  });
});
