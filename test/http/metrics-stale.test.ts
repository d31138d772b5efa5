/**
 * `/metrics` during a backend outage: the scrape returns with the last known queue depth, marked stale, instead of
 * waiting for a backend that never answers (a Beanstalkd outage held it 10 s, past Prometheus' scrape timeout).
 */
import assert from 'node:assert/strict';
import type { DepthCounts, QueueDepthSource } from '../../src/observability/metrics.js';
import { createWorkerMetrics } from '../../src/observability/metrics.js';
import { createOpsServer } from '../../worker/ops-server.js';

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('/metrics when the queue does not answer', function () {
  this.timeout(10_000);

  it('serves the last known depth with durable_queue_depth_stale 1, and 0 again once the queue answers', async () => {
    let mode: 'answer' | 'hang' | 'fail' = 'answer';
    let ready = 7;
    let clock = 1_000_000;
    const source: QueueDepthSource<'orchestrations'> = {
      depth: (): Promise<DepthCounts> => {
        if (mode === 'hang') return new Promise(() => undefined);
        if (mode === 'fail') return Promise.reject(new Error('ECONNREFUSED'));
        return Promise.resolve({ ready, delayed: 1, reserved: 2, dead: 0 });
      },
      tubeDepths: () =>
        mode === 'hang'
          ? new Promise(() => undefined)
          : Promise.resolve([{ tube: 'durable.orchestrations', depth: { ready, delayed: 0, reserved: 0, dead: 0 } }]),
    };
    const metrics = createWorkerMetrics({ processMetrics: false, depthTimeoutMs: 200, now: () => clock });
    metrics.watchQueues(source, ['orchestrations']);
    const ops = createOpsServer({
      registry: metrics.registry,
      readiness: async () => ({ ready: true, checks: {} }),
      draining: () => false,
    });
    const scrape = async (): Promise<string> => {
      const response = await ops.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 200);
      return response.body;
    };
    const depth = '{queue="orchestrations",state="ready"}';
    try {
      let text = await scrape();
      assert.equal(sample(text, 'durable_queue_depth', depth), 7);
      assert.equal(sample(text, 'durable_queue_depth_stale'), 0);
      assert.equal(sample(text, 'durable_queue_depth_age_seconds'), 0);

      mode = 'hang';
      ready = 99;
      clock += 30_000;
      text = await scrape();
      assert.equal(sample(text, 'durable_queue_depth', depth), 7, 'the last known value');
      assert.equal(sample(text, 'durable_tube_depth', '{tube="durable.orchestrations",state="ready"}'), 7);
      assert.equal(sample(text, 'durable_queue_depth_stale'), 1);
      assert.equal(sample(text, 'durable_queue_depth_age_seconds'), 30);
      // A second scrape during the outage answers too.
      assert.equal(sample(await scrape(), 'durable_queue_depth_stale'), 1);

      mode = 'fail';
      assert.equal(sample(await scrape(), 'durable_queue_depth_stale'), 1);

      mode = 'answer';
      text = await scrape();
      assert.equal(sample(text, 'durable_queue_depth_stale'), 0);
      assert.equal(sample(text, 'durable_queue_depth', depth), 99, 'fresh values once the queue answers');
    } finally {
      await ops.close();
    }
  });

  it('answers stale=1 and no depth when the queue never answered at all', async () => {
    const metrics = createWorkerMetrics({ processMetrics: false, depthTimeoutMs: 100 });
    metrics.watchQueues({ depth: () => new Promise<DepthCounts>(() => undefined) }, ['activities']);
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'durable_queue_depth_stale'), 1);
    assert.equal(sample(text, 'durable_queue_depth', '{queue="activities",state="ready"}'), undefined);
  });
});
