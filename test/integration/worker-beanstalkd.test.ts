/**
 * A Durable host configured with `DURABLE_QUEUE_URL=beanstalkd://…`: SQLite store, Beanstalkd queue, real server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import { defineApp } from '../../src/index.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';

const activities = {
  async greet(city: string) {
    return `Hello ${city}`;
  },
  async big(size: number) {
    return 'x'.repeat(size);
  },
};

const app = defineApp({
  activities,
  orchestrations: {
    async greetAll(ctx, cities: string[]) {
      return Promise.all(cities.map((c) => ctx.callActivity('greet', c)));
    },
    async bigResult(ctx, size: number) {
      const text = await ctx.callActivity('big', size);
      return text.length;
    },
  },
});

describe('a worker on Beanstalkd (DURABLE_QUEUE_URL)', function () {
  this.timeout(60_000);
  requireBeanstalkd();
  let server: BeanstalkdServer;
  let dir: string;
  let host: Host;

  before(async () => {
    server = await BeanstalkdServer.start();
    dir = mkdtempSync(join(tmpdir(), 'durable-bs-'));
    const config = loadConfig({
      DURABLE_SQLITE_PATH: join(dir, 'store.db'),
      DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${server.port}`,
      DURABLE_NAMESPACE: 'worker-test',
    });
    assert.equal(config.beanstalkd?.port, server.port);
    host = await startHost({ app, config, worker: { pollMs: 50 } });
  });

  after(async () => {
    await host?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs orchestrations and activities through Beanstalkd tubes', async () => {
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) => host.client.start('greetAll', [`A${i}`, `B${i}`, `C${i}`])),
    );
    for (const [i, id] of ids.entries()) {
      const done = await host.client.waitForCompletion(id, { timeoutMs: 30_000 });
      assert.deepEqual(done.output, [`Hello A${i}`, `Hello B${i}`, `Hello C${i}`]);
    }
  });

  it('carries a 1 MiB activity result through a claim check kept in the store', async () => {
    const id = await host.client.start('bigResult', 1024 * 1024);
    const done = await host.client.waitForCompletion(id, { timeoutMs: 30_000 });
    assert.equal(done.status, 'Completed', JSON.stringify(done.error));
    assert.equal(done.output, 1024 * 1024);
  });

  it('refuses a queue URL that is not beanstalkd://host:port', () => {
    assert.throws(() => loadConfig({ DURABLE_QUEUE_URL: 'redis://x' }), /beanstalkd:\/\/host/);
    assert.throws(() => loadConfig({ DURABLE_QUEUE_URL: 'not a url' }), /beanstalkd:\/\/host/);
  });
});
