/**
 * How the dashboard is served, without a browser: the shell and its hashed assets (bundled in memory from
 * src/dashboard, as a checkout under tsx does), their caching and CSP, public even when tokens are required, and
 * nothing at all with `dashboard: false`.
 */
import assert from 'node:assert/strict';
import type { DurableClient } from '../../src/client/client.js';
import { DASHBOARD_CSP } from '../../src/http/dashboard.js';
import { createHttpApi } from '../../src/http/http-api.js';

const client = {} as DurableClient;

describe('serving the dashboard', function () {
  this.timeout(30_000);
  const api = createHttpApi(client, {
    auth: { required: true, tokens: [{ token: 'a-token-of-enough-length', scopes: ['read'] }] },
  });
  after(() => api.close());

  it('serves the shell publicly, revalidated by ETag, with the strict CSP', async () => {
    const shell = await api.inject({ method: 'GET', url: '/' });
    assert.equal(shell.statusCode, 200, shell.body);
    assert.equal(shell.headers['content-security-policy'], DASHBOARD_CSP);
    assert.equal(shell.headers['cache-control'], 'no-cache');
    const etag = String(shell.headers.etag);
    const again = await api.inject({ method: 'GET', url: '/', headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal((await api.inject({ method: 'GET', url: '/api/instances' })).statusCode, 401, 'the data is not');
  });

  it('serves each asset the shell names, immutable, and 404 for any other', async () => {
    const shell = (await api.inject({ method: 'GET', url: '/' })).body;
    const assets = [...shell.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.equal(assets.length, 3, shell);
    for (const url of assets) {
      const asset = await api.inject({ method: 'GET', url });
      assert.equal(asset.statusCode, 200, url);
      assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.match(String(asset.headers['content-type']), /^(text\/javascript|text\/css|image\/svg\+xml)/);
    }
    const missing = await api.inject({ method: 'GET', url: '/assets/main-NOPE.js' });
    assert.equal(missing.statusCode, 404);
    assert.match(String(missing.headers['content-type']), /problem\+json/);
  });

  it('serves nothing at / with dashboard: false', async () => {
    const bare = createHttpApi(client, { dashboard: false });
    try {
      assert.equal((await bare.inject({ method: 'GET', url: '/' })).statusCode, 404);
    } finally {
      await bare.close();
    }
  });
});
