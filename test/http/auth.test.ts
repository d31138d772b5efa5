import assert from 'node:assert/strict';
import { authRequiredFor, TokenAuthenticator } from '../../src/http/auth.js';
import type { Harness } from './helpers.js';
import { APPROVAL, BODYLESS, assertProblem, assertRejectedWithoutChange, snapshot, startHarness } from './helpers.js';

const READER = 'reader-token-0123456789';
const WRITER = 'writer-token-0123456789';
const ADMIN = 'admin-token-01234567890';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('HTTP API: authentication and scopes', () => {
  let h: Harness;
  const lines: string[] = [];
  const capture = (fields: Record<string, unknown>, message?: string) =>
    lines.push(JSON.stringify({ fields, message }));
  beforeEach(() => {
    lines.length = 0;
    h = startHarness({
      auth: {
        required: true,
        tokens: [
          { token: READER, scopes: ['read'] },
          { token: WRITER, scopes: ['read', 'write'] },
          { token: ADMIN, scopes: ['read', 'write', 'admin'] },
        ],
      },
      logger: { debug: capture, info: capture, warn: capture, error: capture },
    });
  });
  afterEach(() => h.close());

  it('refuses requests without a token, with a wrong one or a malformed header with 401 and a challenge', async () => {
    for (const headers of [{}, bearer('not-a-valid-token-at-all'), { authorization: `Basic ${READER}` }, bearer('')]) {
      const response = await h.api.inject({ method: 'GET', url: '/api/instances', headers });
      assertProblem(response, 401, 'UNAUTHORIZED');
      assert.match(String(response.headers['www-authenticate']), /^Bearer realm="durable"/);
    }
  });

  it('lets each scope do its own operations and refuses the others with 403, changing nothing', async () => {
    assert.equal(
      (await h.api.inject({ method: 'GET', url: '/api/instances', headers: bearer(READER) })).statusCode,
      200,
    );
    await assertRejectedWithoutChange(
      h,
      { method: 'POST', url: '/api/orchestrations/approval', payload: { input: APPROVAL }, headers: bearer(READER) },
      403,
      'FORBIDDEN',
    );
    const started = await h.api.inject({
      method: 'POST',
      url: '/api/orchestrations/approval',
      payload: { instanceId: 'a1', input: APPROVAL },
      headers: bearer(WRITER),
    });
    assert.equal(started.statusCode, 201);
    await assertRejectedWithoutChange(
      h,
      { method: 'POST', url: '/api/instances/a1/terminate', headers: { ...bearer(WRITER), ...BODYLESS } },
      403,
      'FORBIDDEN',
    );
    await assertRejectedWithoutChange(
      h,
      { method: 'POST', url: '/api/entities/counter/x/add', payload: { input: 1 }, headers: bearer(READER) },
      403,
      'FORBIDDEN',
    );
    const terminated = await h.api.inject({
      method: 'POST',
      url: '/api/instances/a1/terminate',
      headers: { ...bearer(ADMIN), ...BODYLESS },
    });
    assert.equal(terminated.statusCode, 202);
  });

  it('checks the token before reading the body, so an anonymous oversized body gets 401, not 413', async () => {
    const response = await h.api.inject({
      method: 'POST',
      url: '/api/orchestrations/approval',
      payload: { input: 'x'.repeat(2 * 1024 * 1024) },
    });
    assertProblem(response, 401, 'UNAUTHORIZED');
  });

  it('serves the OpenAPI document without a token', async () => {
    assert.equal((await h.api.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 200);
  });

  it('never writes a token to the logs, valid or not', async () => {
    await h.api.inject({ method: 'GET', url: '/api/instances', headers: bearer(READER) });
    await h.api.inject({ method: 'GET', url: '/api/instances', headers: bearer('wrong-token-9876543210') });
    await h.api.inject({ method: 'GET', url: `/api/instances?token=${ADMIN}`, headers: bearer(ADMIN) });
    assert.ok(lines.length >= 3);
    const all = lines.join('\n');
    for (const secret of [READER, 'wrong-token-9876543210', ADMIN]) assert.ok(!all.includes(secret), secret);
  });
});

describe('HTTP API: anonymous access', () => {
  it('refuses anonymous requests on loopback once any token is configured, even with required: false', async () => {
    const h = startHarness({ auth: { required: false, tokens: [{ token: READER, scopes: ['read'] }] } });
    try {
      const base = await h.api.listen({ port: 0, host: '127.0.0.1' });
      const before = await snapshot(h.env);
      const anonymous = await fetch(`${base}/api/orchestrations/helloSequence`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(anonymous.status, 401);
      assert.equal(((await anonymous.json()) as { code: string }).code, 'UNAUTHORIZED');
      assert.equal((await fetch(`${base}/api/instances`)).status, 401);
      assert.equal((await fetch(`${base}/api/whoami`)).status, 401);
      assert.equal((await fetch(`${base}/openapi.json`)).status, 200, 'the OpenAPI document stays public');
      assert.equal(await snapshot(h.env), before);
      assertProblem(
        await h.api.inject({ method: 'DELETE', url: '/api/instances/x', headers: { ...bearer(READER), ...BODYLESS } }),
        403,
        'FORBIDDEN',
      );
    } finally {
      await h.close();
    }
  });

  it('allows anonymous requests only while no token is configured, and still refuses a bad token', async () => {
    const h = startHarness();
    try {
      const anonymous = await h.api.inject({ method: 'POST', url: '/api/orchestrations/helloSequence', payload: {} });
      assert.equal(anonymous.statusCode, 201);
      assertProblem(
        await h.api.inject({ method: 'GET', url: '/api/instances', headers: bearer('bad-token-0000000000') }),
        401,
        'UNAUTHORIZED',
      );
    } finally {
      await h.close();
    }
  });

  it('requires tokens for every host but loopback', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', 'LOCALHOST']) assert.equal(authRequiredFor(host), false, host);
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com', '127.0.0.2']) {
      assert.equal(authRequiredFor(host), true, host);
    }
  });

  it('refuses a configuration that requires tokens without any, or with short tokens or unknown scopes', () => {
    assert.throws(() => new TokenAuthenticator({ required: true, tokens: [] }), /at least one token/);
    assert.throws(() => new TokenAuthenticator({ required: true, tokens: [{ token: 'short', scopes: ['read'] }] }));
    assert.throws(
      () => new TokenAuthenticator({ required: true, tokens: [{ token: READER, scopes: ['root' as 'read'] }] }),
      /unknown scope/,
    );
  });
});
