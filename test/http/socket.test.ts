import assert from 'node:assert/strict';
import type { Harness } from './helpers.js';
import { APPROVAL, snapshot, startHarness, whileTimePasses } from './helpers.js';

const TOKEN = 'socket-token-0123456789';

describe('HTTP API over a real socket', () => {
  let h: Harness;
  let base: string;
  before(async () => {
    h = startHarness({
      bodyLimit: 2048,
      auth: { required: true, tokens: [{ token: TOKEN, scopes: ['read', 'write', 'admin'] }] },
    });
    base = await h.api.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => h.close());

  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

  it('starts an orchestration and long-polls its status until it completes', async () => {
    const started = await fetch(`${base}/api/orchestrations/helloSequence`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ input: ['Oslo'], instanceId: 'sock-1' }),
    });
    assert.equal(started.status, 201);
    const location = started.headers.get('location');
    assert.equal(location, '/api/instances/sock-1');
    const status = await whileTimePasses(h, fetch(`${base}${location}?wait=10000`, { headers }));
    assert.equal(status.status, 200);
    const body = (await status.json()) as { status: string; output: unknown };
    assert.equal(body.status, 'Completed');
    assert.deepEqual(body.output, ['Hello Oslo!']);
  });

  it('refuses an oversized body with 413 and a request without a token with 401, changing nothing', async () => {
    const before = await snapshot(h.env);
    const big = await fetch(`${base}/api/orchestrations/approval`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ input: { ...APPROVAL, pad: 'x'.repeat(4096) } }),
    });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { code: string }).code, 'BODY_TOO_LARGE');
    const anonymous = await fetch(`${base}/api/orchestrations/approval`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: APPROVAL }),
    });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="durable"');
    assert.equal(await snapshot(h.env), before);
  });

  it('refuses malformed JSON with 400 and another media type with 415 as problem details', async () => {
    const malformed = await fetch(`${base}/api/orchestrations/approval`, {
      method: 'POST',
      headers,
      body: '{"input":',
    });
    assert.equal(malformed.status, 400);
    assert.match(malformed.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const text = await fetch(`${base}/api/orchestrations/approval`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'text/plain' },
      body: 'hello',
    });
    assert.equal(text.status, 415);
    assert.equal(((await text.json()) as { code: string }).code, 'UNSUPPORTED_MEDIA_TYPE');
  });
});
