import assert from 'node:assert/strict';
import net from 'node:net';
import type { InjectOptions } from 'fastify';
import { API_ROUTES } from '../../src/http/http-api.js';
import type { Harness } from './helpers.js';
import { APPROVAL, snapshot, startHarness, startViaApi } from './helpers.js';

/** A small seeded PRNG (mulberry32), so a failing case can be reproduced. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_SEGMENTS = [
  'a'.repeat(5000),
  '%00',
  'live-1%00',
  '%0d%0aSet-Cookie:%20x=1',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f',
  'a%2Fb',
  '%F0%9F%92%A5',
  '%3Cscript%3E',
  "'%3B%20DROP%20TABLE%20x",
  '%ZZ',
  'a%20b',
  '%7F',
];

const json = (url: string, payload: string, method: 'POST' | 'DELETE' = 'POST'): InjectOptions => ({
  method,
  url,
  payload,
  headers: { 'content-type': 'application/json' },
});

/** Hand-written hostile requests: every one must be refused with a 4xx. */
function handWritten(): InjectOptions[] {
  const requests: InjectOptions[] = [];
  for (const s of HOSTILE_SEGMENTS) {
    requests.push(
      { method: 'GET', url: `/api/instances/${s}` },
      { method: 'GET', url: `/api/instances/${s}/history` },
      { method: 'DELETE', url: `/api/instances/${s}` },
      { method: 'POST', url: `/api/instances/${s}/terminate` },
      json(`/api/instances/live-1/events/${s}`, '{}'),
      json(`/api/orchestrations/${s}`, '{}'),
      json(`/api/entities/counter/${s}/add`, '{"input":1}'),
      json(`/api/entities/${s}/home/add`, '{"input":1}'),
      json(`/api/entities/counter/home/${s}`, '{"input":1}'),
      { method: 'GET', url: `/api/entities/counter/${s}` },
    );
  }
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  for (const body of [
    '{"input":1e400}',
    '{"input":-1e400}',
    `{"input":${deep(100_000)}}`,
    '{"input":"x","instanceId":"live-1\\u0000"}',
    `{"instanceId":"${'i'.repeat(10_000)}"}`,
    '{"reuse":{"$ne":"reject"}}',
    '{"instanceId":["a"]}',
    '{"instanceId":null}',
    '{"__proto__":{"admin":true}}',
    '{"input":{"__proto__":{"admin":true}}}',
    '{"constructor":{"prototype":{"admin":true}}}',
    'null',
    'true',
    '42',
    '"string"',
    '[]',
    '{"input":"\\ud800"',
    '\u0000',
    `{"input":"${'x'.repeat(1024 * 1024)}"}`,
  ]) {
    requests.push(json('/api/orchestrations/helloSequence', body));
  }
  for (const body of ['{"x":1e999}', `${deep(1000)}`, '{"__proto__":{"x":1}}', '{"a":']) {
    requests.push(json('/api/instances/live-1/events/approval', body));
  }
  for (const body of [
    '{"reason":{"text":"x"}}',
    '{"reason":"a\\u001bb"}',
    `{"reason":"${'r'.repeat(2000)}"}`,
    '{"reason":"ok","__proto__":{}}',
  ]) {
    requests.push(json('/api/instances/live-1/terminate', body));
  }
  for (const body of [
    '{"at":"+275760-09-13T00:00:00.000Z"}',
    '{"at":"2026-02-30T25:61:61Z"}',
    '{"at":1e400}',
    '{"signalId":"../../x"}',
    '{"input":1e400}',
  ]) {
    requests.push(json('/api/entities/counter/home/add', body));
  }
  for (const op of ['toString', 'hasOwnProperty', '__defineGetter__', 'valueOf']) {
    requests.push(json(`/api/entities/counter/home/${op}`, '{"input":1}'));
  }
  for (const query of [
    'limit=99999999999999999999',
    'limit=1e400',
    'limit=-1',
    'limit=0x10',
    'status=Running%00',
    'status=running',
    'name=%00',
    `cursor=${'A'.repeat(5000)}`,
    'createdFrom=%2B275760-09-13T00:00:00Z',
    'createdFrom=0',
    '__proto__=1',
    '__proto__[admin]=1',
    'constructor[prototype][admin]=1',
    'status[]=Running',
  ]) {
    requests.push({ method: 'GET', url: `/api/instances?${query}` });
  }
  for (const query of [
    'queue=nope',
    'queue=',
    'queue=activities%00',
    'queue=ACTIVITIES',
    'queue=activities&queue=orchestrations',
    'queue[]=activities',
    '__proto__=1',
    'constructor[prototype][admin]=1',
  ]) {
    requests.push({ method: 'GET', url: `/api/dead-letters?${query}` });
  }
  for (const body of [
    '{"queue":"nope"}',
    '{"queue":null}',
    '{"queue":["activities"]}',
    '{"messageIds":[]}',
    '{"messageIds":"live-1/event/x"}',
    '{"messageIds":[1]}',
    '{"messageIds":[""]}',
    '{"messageIds":["a\\u0000b"]}',
    `{"messageIds":["${'m'.repeat(1001)}"]}`,
    `{"messageIds":[${Array.from({ length: 1001 }, (_, i) => `"m${i}"`).join(',')}]}`,
    '{"messageIds":{"$ne":null}}',
    '{"all":true}',
    '{"__proto__":{"queue":"activities"}}',
    'null',
    '[]',
    '"activities"',
  ]) {
    requests.push(json('/api/dead-letters/redrive', body));
  }
  requests.push({ method: 'GET', url: '/api/instances/live-1?wait=9007199254740993' });
  requests.push({ method: 'GET', url: '/api/instances/live-1?wait=1e400' });
  requests.push({ method: 'GET', url: '/api/instances', headers: { authorization: `Bearer ${'t'.repeat(8000)}` } });
  requests.push({ method: 'PATCH', url: '/api/instances/live-1' });
  requests.push({ method: 'GET', url: '/../../etc/passwd' });
  return requests;
}

/** Random identifiers that always hold at least one character no identifier may contain. */
function randomRequests(count: number, seed: number): InjectOptions[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const forbidden = ['%00', '%01', '%1F', '%7F', '%2F', '%20', '%40', '%22', '%5C', '%E2%80%AE', '%F0%9F%98%80'];
  const ok = 'abcXYZ019_.:#~-'.split('');
  // Entity keys may hold `@` (`name@key` splits at the first one); every other identifier may not.
  const forbiddenInKeys = forbidden.filter((c) => c !== '%40');
  const id = (kind: 'id' | 'key' = 'id'): string => {
    const parts = Array.from({ length: 1 + Math.floor(random() * 8) }, () => encodeURIComponent(pick(ok)));
    parts.splice(Math.floor(random() * (parts.length + 1)), 0, pick(kind === 'key' ? forbiddenInKeys : forbidden));
    return parts.join('');
  };
  const makers: Array<() => InjectOptions> = [
    () => ({ method: 'GET', url: `/api/instances/${id()}` }),
    () => ({ method: 'GET', url: `/api/instances/${id()}/history` }),
    () => ({ method: 'DELETE', url: `/api/instances/${id()}` }),
    () => json(`/api/instances/${id()}/suspend`, '{}'),
    () => json(`/api/instances/live-1/events/approval?eventId=${id()}`, '{}'),
    () => json('/api/orchestrations/helloSequence', JSON.stringify({ instanceId: decodeURIComponent(id()) })),
    () => json(`/api/entities/counter/${id('key')}/add`, '{"input":1}'),
    () => json(`/api/entities/counter/home/add`, JSON.stringify({ input: 1, signalId: decodeURIComponent(id()) })),
    () => ({ method: 'GET', url: `/api/entities/${id()}/home` }),
    () => ({ method: 'GET', url: `/api/instances?name=${pick(['%00', '%1F', '%7F'])}${id()}` }),
  ];
  return Array.from({ length: count }, () => pick(makers)());
}

describe('HTTP API: fuzzing with malformed, oversized and hostile input', () => {
  let h: Harness;
  before(async () => {
    h = startHarness();
    await startViaApi(h, 'approval', { instanceId: 'live-1', input: APPROVAL });
    await startViaApi(h, 'helloSequence', { instanceId: 'done-1', input: ['x'] });
    await h.env.waitForCompletion('done-1');
    await h.api.inject(json('/api/entities/counter/home/add', '{"input":1}'));
  });
  after(() => h.close());

  async function expectRefusedWithoutChange(requests: InjectOptions[]): Promise<void> {
    for (const request of requests) {
      const before = await snapshot(h.env);
      const response = await h.api.inject(request);
      const label = `${request.method} ${JSON.stringify(request.url).slice(0, 120)}`;
      assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${label} → ${response.statusCode}`);
      const problem = response.json<{ code?: unknown; message?: unknown }>();
      assert.equal(typeof problem.code, 'string', label);
      assert.equal(typeof problem.message, 'string', label);
      assert.equal(await snapshot(h.env), before, `${label} changed state`);
    }
  }

  it('refuses every hand-written hostile request with a 4xx problem and changes nothing', async () => {
    const requests = handWritten();
    assert.ok(requests.length > 150);
    await expectRefusedWithoutChange(requests);
  });

  it('refuses 300 random requests carrying a forbidden character with a 4xx problem and changes nothing', async () => {
    await expectRefusedWithoutChange(randomRequests(300, 20260101));
  });

  it('leaves the instances it was fuzzed against working', async () => {
    const response = await h.api.inject(json('/api/instances/live-1/events/approval', '{"approved":false,"by":"eve"}'));
    assert.equal(response.statusCode, 202);
    const done = await h.env.waitForCompletion('live-1');
    assert.deepEqual(done.output, { status: 'rejected', requestId: 'r-1', by: 'eve' });
    assert.equal(({} as Record<string, unknown>)['admin'], undefined);
  });
});

/** Every mutation route, with parameters and a body that would succeed from a same-origin client. */
function mutations(): Array<{ method: 'POST' | 'DELETE'; url: string; body: string | undefined }> {
  const bodies: Record<string, string | undefined> = {
    '/api/orchestrations/:name': JSON.stringify({ input: APPROVAL }),
    '/api/instances/:id/events/:name': '{"approved":true,"by":"mallory"}',
    '/api/entities/:name/:key/:operation': '{"input":1}',
    '/api/dead-letters/delete': '{"all":true}',
  };
  return API_ROUTES.filter((r) => r.method !== 'GET').map((route) => {
    const url = route.url.startsWith('/api/orchestrations')
      ? '/api/orchestrations/approval'
      : route.url.startsWith('/api/entities')
        ? '/api/entities/counter/home/add'
        : route.url.replace(':id', 'live-1').replace(':name', 'approval');
    return { method: route.method as 'POST' | 'DELETE', url, body: bodies[route.url] };
  });
}

describe('HTTP API: fuzzing with cross-site requests', () => {
  let h: Harness;
  before(async () => {
    h = startHarness();
    await startViaApi(h, 'approval', { instanceId: 'live-1', input: APPROVAL });
  });
  after(() => h.close());

  it('refuses every mutation route from a hostile Origin, a cross-site fetch or as a text/plain form: 403/415, nothing changes', async () => {
    const routes = mutations();
    assert.ok(routes.length >= 9, 'every mutation route');
    let sent = 0;
    for (const { method, url, body } of routes) {
      const variants: Array<[Record<string, string>, string | undefined, number]> = [
        [{ 'content-type': 'application/json', origin: 'http://evil.example' }, body, 403],
        [{ 'content-type': 'application/json', origin: 'null' }, body, 403],
        [{ 'content-type': 'application/json', origin: 'http://localhost.evil.example' }, body, 403],
        [{ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, body, 403],
        [{ 'content-type': 'text/plain' }, body ?? '{}', 415],
        [{ 'content-type': 'text/plain;charset=UTF-8', origin: 'http://localhost' }, body ?? '{}', 415],
        [{}, undefined, 415],
      ];
      for (const [headers, payload, status] of variants) {
        const before = await snapshot(h.env);
        const response = await h.api.inject({
          method,
          url,
          headers: { host: 'localhost', ...headers },
          ...(payload !== undefined ? { payload } : {}),
        });
        const label = `${method} ${url} ${JSON.stringify(headers)}`;
        assert.equal(response.statusCode, status, `${label}: ${response.body}`);
        assert.equal(await snapshot(h.env), before, `${label} changed state`);
        sent++;
      }
    }
    assert.ok(sent >= 60);
    // The same requests from the server's own origin go through: the refusals above were not for another reason.
    const own = await h.api.inject({
      method: 'POST',
      url: '/api/orchestrations/approval',
      headers: { host: 'localhost', origin: 'http://localhost', 'content-type': 'application/json' },
      payload: JSON.stringify({ input: APPROVAL }),
    });
    assert.equal(own.statusCode, 201, own.body);
  });
});

describe('HTTP API: fuzzing with slow requests (real sockets)', function () {
  this.timeout(30_000);
  let h: Harness;
  let port: number;
  before(async () => {
    h = startHarness({ bodyTimeoutMs: 300 });
    port = Number(new URL(await h.api.listen({ port: 0, host: '127.0.0.1' })).port);
  });
  after(() => h.close());

  /** Sends `head` and then `body` a byte at a time; resolves with what came back and whether the socket closed. */
  function slow(head: string, body: string, everyMs: number): Promise<{ text: string; closed: boolean }> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      let sent = 0;
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.write(head);
      const trickle = setInterval(() => {
        if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
      }, everyMs);
      const limit = setTimeout(() => {
        clearInterval(trickle);
        socket.destroy();
        resolve({ text, closed: false });
      }, 10_000);
      socket.on('close', () => {
        clearInterval(trickle);
        clearTimeout(limit);
        resolve({ text, closed: true });
      });
    });
  }

  it('ends every trickled or unfinished mutation with 408 or a closed socket, changes nothing, and keeps serving', async () => {
    const before = await snapshot(h.env);
    const cases = mutations().flatMap(({ method, url, body }) => {
      // Padded with whitespace (still valid JSON) so that a trickle lasts far longer than the timeout.
      const payload = `${body ?? '{}'}${' '.repeat(20)}`;
      const head = (length: number) =>
        `${method} ${url} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
      return [
        slow(head(payload.length), payload, 100), // trickled: a byte every 100 ms
        slow(head(payload.length + 100), payload, 1), // a Content-Length never fulfilled
        slow(`${method} ${url} HTTP/1.1\r\nHost: local`, '', 1), // headers never finished
      ];
    });
    const outcomes = await Promise.all(cases);
    for (const { text, closed } of outcomes) {
      assert.equal(closed, true, text);
      if (text !== '') assert.match(text, /^HTTP\/1\.1 408 [^]*"code":"REQUEST_TIMEOUT"/);
    }
    assert.ok(outcomes.filter((o) => o.text.startsWith('HTTP/1.1 408')).length > outcomes.length / 2);
    assert.equal(await snapshot(h.env), before);
    const alive = await fetch(`http://127.0.0.1:${port}/api/instances`);
    assert.equal(alive.status, 200);
  });
});
