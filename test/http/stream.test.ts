/**
 * `GET /api/stream` over a real socket: the Server-Sent Events frames a browser reads with fetch(), the shared
 * watcher behind them, the bound on open streams, and a server that closes with streams open.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { request } from 'node:http';
import { createHttpApi } from '../../src/http/http-api.js';
import { DurableClient } from '../../src/client/client.js';
import type { Store } from '../../src/backends/store.js';
import type { Harness } from './helpers.js';
import { APPROVAL, startHarness } from './helpers.js';

interface Frame {
  readonly event?: string;
  readonly data?: string;
  readonly comment?: string;
}

/**
 * A stream read frame by frame over a plain socket (node:http): the frames a browser's fetch() reader sees. (fetch
 * itself is not used here: undici opens a spare connection after an aborted body, which no server close can reap.)
 */
interface OpenStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The next frame that `accept` takes (others are skipped); rejects after `timeoutMs` or at the end. */
  next(accept: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Resolves once no event (comments aside) arrived for `ms`. */
  quiet(ms: number): Promise<void>;
  /** Resolves when the server ends the stream. */
  ended(): Promise<void>;
  /** The browser goes away. */
  close(): void;
}

async function openStream(url: string): Promise<OpenStream> {
  const req = request(url);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
  let buffer = '';
  const frames: Frame[] = [];
  let done = false;
  let wake: (() => void) | undefined;
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const text = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const frame: Record<string, string> = {};
      for (const line of text.split('\n')) {
        if (line.startsWith(':')) frame['comment'] = line.slice(1).trim();
        else if (line.startsWith('event: ')) frame['event'] = line.slice(7);
        else if (line.startsWith('data: ')) frame['data'] = line.slice(6);
      }
      frames.push(frame);
    }
    wake?.();
  });
  const finish = (): void => {
    done = true;
    wake?.();
  };
  res.on('end', finish);
  res.on('close', finish);
  res.on('error', finish);
  const waitForFrame = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, ms));
      wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    async next(accept, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const frame = frames.shift();
        if (frame !== undefined) {
          if (accept(frame)) return frame;
          continue;
        }
        if (done) throw new Error('The stream ended.');
        if (Date.now() >= deadline || !(await waitForFrame(deadline - Date.now()))) {
          throw new Error(`No matching frame within ${timeoutMs} ms.`);
        }
      }
    },
    async quiet(ms) {
      let since = Date.now();
      while (!done && Date.now() - since < ms) {
        if (frames.splice(0).some((f) => f.event !== undefined)) since = Date.now();
        await waitForFrame(ms - (Date.now() - since));
      }
    },
    async ended() {
      while (!done) await waitForFrame(5000);
    },
    close: () => req.destroy(),
  };
}

const isChange = (frame: Frame): boolean => frame.event === 'change';

describe('HTTP API: the change stream', function () {
  this.timeout(20_000);
  let h: Harness;
  let base: string;
  let tokenReads: number[];
  const streams: OpenStream[] = [];

  beforeEach(async () => {
    h = startHarness({ stream: { pollMs: 50, coalesceMs: 100, keepAliveMs: 200, maxStreams: 3 } });
    tokenReads = [];
    const store = h.env.store;
    const read = store.changeToken.bind(store);
    store.changeToken = () => {
      tokenReads.push(Date.now());
      return read();
    };
    base = await h.api.listen({ port: 0, host: '127.0.0.1' });
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await h.close();
  });

  async function open(): Promise<OpenStream> {
    const s = await openStream(`${base}/api/stream`);
    streams.push(s);
    return s;
  }

  it('answers with an event stream that proxies neither buffer nor cache', async () => {
    const s = await open();
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /^text\/event-stream/);
    assert.equal(s.headers['cache-control'], 'no-store');
    assert.equal(s.headers['x-accel-buffering'], 'no');
    const comment = await s.next((f) => f.comment === 'keep-alive');
    assert.equal(comment.event, undefined);
  });

  it('sends a change event for a start, a completion, a purge and a dead letter', async () => {
    const s = await open();
    const api = (method: string, path: string, body?: unknown): Promise<Response> =>
      fetch(`${base}${path}`, {
        method,
        ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      });

    const started = await api('POST', '/api/orchestrations/approval', { instanceId: 'seen', input: APPROVAL });
    assert.equal(started.status, 201);
    const change = await s.next(isChange);
    const at = (JSON.parse(change.data ?? '{}') as { at?: string }).at;
    assert.ok(at !== undefined && !Number.isNaN(Date.parse(at)), `an ISO time, got ${change.data}`);
    await h.env.settle();
    await s.quiet(300);

    const raised = await api('POST', '/api/instances/seen/events/approval', { approved: true });
    assert.equal(raised.status, 202);
    assert.equal((await h.env.waitForCompletion('seen')).status, 'Completed');
    await s.next(isChange);
    await s.quiet(300);

    assert.equal((await api('DELETE', '/api/instances/seen')).status, 204);
    await s.next(isChange);

    await api('POST', '/api/orchestrations/approval', { instanceId: 'waiting', input: APPROVAL });
    await h.env.settle();
    await h.env.stopWorker(h.env.worker);
    await s.quiet(300);
    // A message parked by hand, as a worker parks a poison message: only the dead-letter count changes.
    await h.env.client.raiseEvent('waiting', 'approval', { approved: true });
    const [delivery] = await h.env.queue.receive('orchestrations', 1, { visibilityTimeoutMs: 60_000 });
    assert.ok(delivery);
    await h.env.queue.deadLetter(delivery, 'poison');
    await s.next(isChange);
  });

  it('serves every browser from one watcher, reading nothing before the first stream or after the last', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(tokenReads.length, 0, 'no stream, no reads');
    const [a, b] = [await open(), await open()];
    await new Promise((resolve) => setTimeout(resolve, 500));
    await fetch(`${base}/api/orchestrations/helloSequence`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await Promise.all([a.next(isChange), b.next(isChange)]);
    // One watcher: its reads are a poll interval apart. Two watchers would read twice per interval.
    const gaps = tokenReads.slice(1).map((t, i) => t - (tokenReads[i] as number));
    assert.ok(tokenReads.length >= 5, `reads: ${tokenReads.length}`);
    assert.ok(
      gaps.filter((gap) => gap < 25).length <= 1,
      `reads closer than half a poll interval: ${JSON.stringify(gaps)}`,
    );
    a.close();
    b.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = tokenReads.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(tokenReads.length, after, 'the watcher stopped with the last stream');
  });

  it('refuses one stream more than the bound with 503 TOO_MANY_STREAMS, and takes one again after a close', async () => {
    const open3 = [await open(), await open(), await open()];
    const refused = await fetch(`${base}/api/stream`);
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { code: string }).code, 'TOO_MANY_STREAMS');
    open3[0]?.close();
    for (let i = 0; i < 50; i++) {
      const again = await open();
      if (again.status === 200) return;
      again.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail('no stream was accepted after one closed');
  });

  it('answers HEAD with the headers only, holding no stream', async () => {
    const head = await fetch(`${base}/api/stream`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(String(head.headers.get('content-type')), /^text\/event-stream/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(tokenReads.length, 0, 'no watcher was started');
  });

  it('ends open streams when the server closes, and the close does not wait for them', async () => {
    const s = await open();
    await s.next((f) => f.comment === 'open');
    await h.api.close();
    await s.ended();
  });
});

describe('HTTP API: the change stream on a store without a change token', () => {
  it('says the store cannot report changes and ends the stream', async () => {
    const h = startHarness();
    const store = new Proxy(h.env.store, {
      get(target, property) {
        if (property === 'changeToken') return undefined;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as Store;
    const client = new DurableClient({ store, queue: h.env.queue, clock: h.env.clock });
    const api = createHttpApi(client);
    try {
      const base = await api.listen({ port: 0, host: '127.0.0.1' });
      const s = await openStream(`${base}/api/stream`);
      assert.equal(s.status, 200);
      const frame = await s.next(() => true);
      assert.equal(frame.event, 'unsupported');
      await s.ended();
    } finally {
      await api.close();
      await h.close();
    }
  });
});
