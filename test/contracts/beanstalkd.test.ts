/**
 * Runs the queue contract suites against BeanstalkdQueue on a real beanstalkd (one server for the file, one
 * namespace per test, so tests never see each other's tubes).
 *
 * beanstalkd keeps its own time: the contract tests that move a ManualClock to make a delay pass or a
 * reservation expire cannot hold there. They are skipped with a printed reason below, and their behaviour is
 * tested in real time (1-2 s) by test/integration/beanstalkd-queue.test.ts.
 */
import { randomUUID } from 'node:crypto';
import type { ManualClock } from '../../src/backends/clock.js';
import { BeanstalkdQueue } from '../../src/backends/beanstalkd/beanstalkd-queue.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';
import { queueBatchContract } from './queue-batch.contract.js';
import { queueContract } from './queue.contract.js';

const REAL_TIME = 'beanstalkd times delays and TTRs on its own clock, so ManualClock time travel has no effect';
/**
 * Contract tests that move the ManualClock for beanstalkd-timed behaviour. Each has a real-time counterpart in
 * test/integration/beanstalkd-queue.test.ts, except a silent connection's TTR expiry, which beanstalkd 1.12 does
 * not do reliably (see there).
 */
const TTR_EXPIRY =
  'it needs a TTR to expire on beanstalkd’s own clock; touch, and redrive after several deliveries (consumers that died), are tested in real time in beanstalkd-queue.test.ts';
const SKIPPED = new Map<string, string>([
  ['does not deliver a delayed message before the clock reaches its deliverAt', REAL_TIME],
  ['delivers a message again, with attempt 2, when its reservation expires', REAL_TIME],
  ['ignores an ack on a stale receipt: the redelivered message stays reserved', REAL_TIME],
  ['makes a released message visible again after the delay, keeping its attempt', REAL_TIME],
  ['wakes a waiting receive when a delayed message becomes visible', REAL_TIME],
  ['counts ready, delayed, reserved and dead messages, an expired reservation counting as ready', REAL_TIME],
  [
    'reports when the next delayed or reserved message becomes visible by itself',
    'BeanstalkdQueue.nextVisibleAt is always undefined (beanstalkd does not expose it)',
  ],
  ['keeps a touched reservation past its original expiry, delivering the message again only when it ends', TTR_EXPIRY],
  ['refuses to touch a receipt whose message was delivered again, leaving the new reservation as it was', TTR_EXPIRY],
  ['redrives a message that had been delivered several times with attempt 1 again', TTR_EXPIRY],
  ['acknowledges and releases, with and without delay, in one call', REAL_TIME],
  ['skips stale receipts and still applies the rest of the batch', REAL_TIME],
]);

describe('BeanstalkdQueue on a real beanstalkd', function () {
  requireBeanstalkd();
  let server: BeanstalkdServer | undefined;

  before(async () => {
    server = await BeanstalkdServer.start();
  });

  after(async () => {
    await server?.stop();
  });

  beforeEach(function () {
    const title = this.currentTest?.title ?? '';
    const reason = SKIPPED.get(title);
    if (reason === undefined) return;
    console.log(`      skipped '${title}': ${reason}.`);
    this.skip();
  });

  // The suite's ManualClock still times `receive`'s waiting and the early-delivery check.
  const make = (clock: ManualClock): Promise<{ queue: BeanstalkdQueue }> =>
    Promise.resolve({
      queue: new BeanstalkdQueue({ port: (server as BeanstalkdServer).port, namespace: `t${randomUUID()}`, clock }),
    });

  queueContract('BeanstalkdQueue', make);
  queueBatchContract('BeanstalkdQueue', make);
});
