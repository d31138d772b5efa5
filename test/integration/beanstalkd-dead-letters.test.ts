/**
 * Dead letters on a real beanstalkd that are not messages: a job put on a tube by something other than Durable is
 * buried by the worker that reserves it, and must then be visible to an operator (HTTP API, `durable
 * dead-letters`), redrivable (`durable kick`) and deletable (`durable discard`), never parked out of sight.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { BeanstalkdConnection } from '../../src/backends/beanstalkd/beanstalkd-connection.js';
import { BeanstalkdQueue } from '../../src/backends/beanstalkd/beanstalkd-queue.js';
import { SystemClock } from '../../src/backends/clock.js';
import { MemoryStore } from '../../src/backends/memory/memory-store.js';
import { DurableClient } from '../../src/client/client.js';
import { createHttpApi } from '../../src/http/http-api.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';

describe('unreadable dead letters on beanstalkd', function () {
  this.timeout(30_000);
  requireBeanstalkd();
  let server: BeanstalkdServer;
  let queue: BeanstalkdQueue;
  let namespace: string;
  const bytes = Buffer.from([0x6e, 0x6f, 0x74, 0x20, 0x6a, 0x73, 0x6f, 0x6e, 0x00, 0xff, 0x0a]); // "not json\0\xff\n"

  before(async () => {
    server = await BeanstalkdServer.start();
  });
  after(async () => {
    await server?.stop();
  });
  beforeEach(() => {
    namespace = `t${randomUUID()}`;
    queue = new BeanstalkdQueue({ port: server.port, namespace });
  });
  afterEach(() => queue.close());

  /** Puts `bytes` on the activities tube by hand and lets a receive bury them; returns the job's dead-letter id. */
  async function parkUnreadable(): Promise<string> {
    const producer = new BeanstalkdConnection({
      host: '127.0.0.1',
      port: server.port,
      setup: [`use ${namespace}.activities`],
    });
    try {
      const put = await producer.command(`put 100 0 60 ${bytes.length}`, bytes);
      assert.equal(put.words[0], 'INSERTED');
      assert.deepEqual(await queue.receive('activities', 10, { visibilityTimeoutMs: 1000 }), []);
      return `job-${put.words[1]}`;
    } finally {
      producer.close();
    }
  }

  it('lists a job that is not a message with its tube, job id and exact bytes', async () => {
    const id = await parkUnreadable();
    assert.deepEqual(await queue.deadLetters('activities'), [], 'it is not a message');
    assert.deepEqual(await queue.unreadableDeadLetters('activities'), [
      {
        id,
        location: `${namespace}.activities`,
        base64: bytes.toString('base64'),
        reason: 'unreadable job body or missing claim',
      },
    ]);
    assert.equal((await queue.depth('activities')).dead, 1);
  });

  it('shows it in GET /api/dead-letters, kicks it with a redrive of every dead letter, and deletes it by id', async () => {
    const client = new DurableClient({ store: new MemoryStore(), queue, clock: new SystemClock() });
    const api = createHttpApi(client);
    try {
      const id = await parkUnreadable();
      const listed = await api.inject({ method: 'GET', url: '/api/dead-letters' });
      assert.equal(listed.statusCode, 200, listed.body);
      assert.deepEqual(listed.json(), {
        items: [
          {
            queue: 'activities',
            messageId: id,
            reason: 'unreadable job body or missing claim',
            unreadable: { location: `${namespace}.activities`, base64: bytes.toString('base64') },
          },
        ],
      });

      // `durable kick --all`: the job is deliverable again (its claim might be back); still unreadable, it is
      // buried again by the next receive, and listed again.
      const kicked = await api.inject({ method: 'POST', url: '/api/dead-letters/redrive', payload: {} });
      assert.equal(kicked.statusCode, 200, kicked.body);
      assert.deepEqual(kicked.json(), {
        redriven: [
          { queue: 'orchestrations', messageIds: [] },
          { queue: 'activities', messageIds: [id] },
        ],
      });
      assert.deepEqual(await queue.depth('activities'), { ready: 1, delayed: 0, reserved: 0, dead: 0 });
      assert.deepEqual(await queue.receive('activities', 10, { visibilityTimeoutMs: 1000 }), []);
      assert.deepEqual(
        (await queue.unreadableDeadLetters('activities')).map((d) => d.id),
        [id],
      );

      // `durable discard <id>`: gone for good.
      const deleted = await api.inject({
        method: 'POST',
        url: '/api/dead-letters/delete',
        payload: { queue: 'activities', messageIds: [id] },
      });
      assert.equal(deleted.statusCode, 200, deleted.body);
      assert.deepEqual(deleted.json(), { deleted: [{ queue: 'activities', messageIds: [id] }] });
      assert.deepEqual(await queue.unreadableDeadLetters('activities'), []);
      assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
    } finally {
      await api.close();
    }
  });
});
