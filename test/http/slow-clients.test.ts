/**
 * Slow and broken clients over real sockets: the body timeout (trickled bodies, a Content-Length never fulfilled),
 * the connection cap, and the errors Node raises before Fastify's router, each as problem details. Small limits
 * through options (timeout 500 ms, cap 5); the tests assert what happens, never how long it took.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { DurableClient } from '../../src/client/client.js';
import { createHttpApi } from '../../src/http/http-api.js';
import type { Harness } from './helpers.js';
import { snapshot, startHarness } from './helpers.js';

interface Outcome {
  readonly text: string;
  readonly closed: boolean;
}

describe('HTTP API: slow clients and errors before the router (real sockets)', function () {
  this.timeout(20_000);
  let h: Harness;
  let port: number;
  const sockets = new Set<net.Socket>();
  before(async () => {
    h = startHarness({ bodyTimeoutMs: 500, maxConnections: 5 });
    port = Number(new URL(await h.api.listen({ port: 0, host: '127.0.0.1' })).port);
  });
  afterEach(() => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  });
  after(() => h.close());

  function connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
      sockets.add(socket);
    });
  }

  /** Everything the server sends until it closes the connection (or `limitMs` passes: then `closed` is false). */
  function outcome(socket: net.Socket, limitMs = 8000): Promise<Outcome> {
    return new Promise((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      const timer = setTimeout(() => resolve({ text, closed: false }), limitMs);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ text, closed: true });
      });
    });
  }

  function problemOf(text: string): { status: number; type: string; code: string } {
    const [head = '', body = ''] = text.split('\r\n\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const type = /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? '';
    return { status, type, code: (JSON.parse(body) as { code: string }).code };
  }

  async function stillServes(): Promise<void> {
    const response = await fetch(`http://127.0.0.1:${port}/api/instances`);
    assert.equal(response.status, 200);
  }

  it('answers a body trickled byte by byte with 408 problem details, closes the socket, and starts nothing', async () => {
    const before = await snapshot(h.env);
    const socket = await connect();
    const result = outcome(socket);
    const body = JSON.stringify({ input: ['Oslo'] });
    socket.write(
      `POST /api/orchestrations/helloSequence HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
    }, 100);
    const { text, closed } = await result;
    clearInterval(trickle);
    assert.ok(sent < body.length, 'the body was cut before it was complete');
    assert.equal(closed, true);
    assert.deepEqual(problemOf(text), {
      status: 408,
      type: 'application/problem+json; charset=utf-8',
      code: 'REQUEST_TIMEOUT',
    });
    assert.equal(await snapshot(h.env), before);
    await stillServes();
  });

  it('answers a Content-Length never fulfilled, and a connection that sends nothing, with 408 and a closed socket', async () => {
    const partial = await connect();
    const partialResult = outcome(partial);
    partial.write(
      'POST /api/orchestrations/helloSequence HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"input":',
    );
    const silent = await connect();
    const silentResult = outcome(silent);
    for (const { text, closed } of [await partialResult, await silentResult]) {
      assert.equal(closed, true);
      assert.equal(problemOf(text).code, 'REQUEST_TIMEOUT');
    }
    await stillServes();
  });

  it('closes connections beyond the cap while the ones under it are held, and serves again once they go', async () => {
    const held = await Promise.all([1, 2, 3, 4, 5].map(() => connect()));
    for (const socket of held) socket.write('GET /api/instances HTTP/1.1\r\nHost: localhost\r\n');
    const extra = await connect();
    const { text, closed } = await outcome(extra, 3000);
    assert.equal(closed, true, 'the sixth connection is closed');
    assert.equal(text, '', 'without an answer');
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stillServes();
  });

  it('answers a bad method, a bad header, oversized headers and an unmet Expect with problem details', async () => {
    const cases: Array<[string, number, string]> = [
      ['G(ET / HTTP/1.1\r\nHost: localhost\r\n\r\n', 400, 'BAD_REQUEST'],
      ['GET / HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n', 400, 'BAD_REQUEST'],
      [`GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
      [
        'POST /api/orchestrations/helloSequence HTTP/1.1\r\nHost: localhost\r\nExpect: teapot\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
        417,
        'EXPECTATION_FAILED',
      ],
    ];
    for (const [request, status, code] of cases) {
      const socket = await connect();
      const result = outcome(socket);
      socket.write(request);
      const { text, closed } = await result;
      assert.equal(closed, true, request.slice(0, 20));
      assert.deepEqual(problemOf(text), { status, type: 'application/problem+json; charset=utf-8', code });
      assert.match(text, /x-content-type-options: nosniff/i);
    }
    await stillServes();
  });

  it('refuses limits that are not positive integers', () => {
    assert.throws(() => createHttpApi({} as DurableClient, { bodyTimeoutMs: 0 }), /bodyTimeoutMs/);
    assert.throws(() => createHttpApi({} as DurableClient, { maxConnections: 1.5 }), /maxConnections/);
  });
});
