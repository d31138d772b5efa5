import assert from 'node:assert/strict';
import { DurableError } from '../../src/engine/errors.js';
import { HttpError, statusFor, toProblem } from '../../src/http/errors.js';
import { API_ROUTES } from '../../src/http/http-api.js';
import { checkJsonValue } from '../../src/http/json-body.js';
import type { Harness } from './helpers.js';
import { assertProblem, assertRejectedWithoutChange, startHarness } from './helpers.js';

describe('HTTP API: bodies, media types, routes and the OpenAPI document', () => {
  let h: Harness;
  beforeEach(() => {
    h = startHarness({ bodyLimit: 4096 });
  });
  afterEach(() => h.close());

  const start = (payload: string, contentType = 'application/json') => ({
    method: 'POST' as const,
    url: '/api/orchestrations/helloSequence',
    payload,
    headers: { 'content-type': contentType },
  });

  it('refuses a body over the limit with 413, changing nothing', async () => {
    await assertRejectedWithoutChange(h, start(JSON.stringify({ input: 'x'.repeat(5000) })), 413, 'BODY_TOO_LARGE');
  });

  it('refuses bodies that are not JSON with 415, changing nothing', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data']) {
      await assertRejectedWithoutChange(h, start('{"input":1}', type), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('refuses malformed JSON and prototype-polluting keys with 400, changing nothing', async () => {
    for (const payload of [
      '{"input":',
      '{"input":1}{}',
      '{"__proto__":{"polluted":true}}',
      '{"input":{"constructor":{"prototype":{"polluted":true}}}}',
      '{"input":{"a":{"__proto__":{"polluted":true}}}}',
    ]) {
      await assertRejectedWithoutChange(h, start(payload), 400, 'VALIDATION');
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('refuses JSON nested deeper than the limit with 400', async () => {
    const deep = `{"input":${'['.repeat(100)}${']'.repeat(100)}}`;
    await assertRejectedWithoutChange(h, start(deep), 400, 'VALIDATION');
    assert.doesNotThrow(() => checkJsonValue({ a: [[{ b: 1 }]] }, 4));
    assert.throws(() => checkJsonValue({ a: [[{ b: 1 }]] }, 3), /deeper than 3/);
  });

  it('answers unknown routes with 404 NOT_FOUND, and a known path asked with another method with 405 and Allow', async () => {
    assertProblem(await h.api.inject({ method: 'GET', url: '/api/nothing' }), 404, 'NOT_FOUND');
    assertProblem(await h.api.inject({ method: 'PUT', url: '/api/nothing/x' }), 404, 'NOT_FOUND');
    assertProblem(await h.api.inject({ method: 'GET', url: '/nothing' }), 404, 'NOT_FOUND');
    for (const [method, url, allow] of [
      ['PUT', '/api/instances/x', 'GET, HEAD, DELETE'],
      ['PATCH', '/api/instances', 'GET, HEAD'],
      ['GET', '/api/orchestrations/helloSequence', 'POST'],
      ['DELETE', '/api/instances/x/terminate', 'POST'],
    ] as const) {
      const response = await h.api.inject({ method, url });
      assertProblem(response, 405, 'METHOD_NOT_ALLOWED');
      assert.equal(response.headers.allow, allow, `${method} ${url}`);
      assert.deepEqual(response.json<{ details: { allow: string[] } }>().details.allow, allow.split(', '));
    }
  });

  it('serves an OpenAPI 3 document with every route, its parameters, body schema and scope', async () => {
    const response = await h.api.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    const doc = response.json<{ openapi: string; paths: Record<string, Record<string, any>> }>();
    assert.match(doc.openapi, /^3\./);
    for (const route of API_ROUTES) {
      const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
      const op = doc.paths[path]?.[route.method.toLowerCase()];
      assert.ok(op, `${route.method} ${path} is documented`);
      assert.equal(op['x-scope'], route.access);
      const pathParams = (op.parameters ?? []).filter((p: { in: string }) => p.in === 'path').map((p: any) => p.name);
      assert.deepEqual(
        pathParams,
        [...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]),
      );
    }
    const start = doc.paths['/api/orchestrations/{name}']?.['post'];
    assert.deepEqual(Object.keys(start.requestBody.content['application/json'].schema.properties), [
      'input',
      'instanceId',
      'reuse',
    ]);
    const list = doc.paths['/api/instances']?.['get'];
    assert.ok(list.parameters.some((p: any) => p.name === 'status' && p.in === 'query'));
  });
});

describe('HTTP API: mapping errors to statuses', () => {
  it('maps client error codes to their statuses in one table', () => {
    const expected: Array<[Parameters<typeof statusFor>[0], number]> = [
      ['VALIDATION', 400],
      ['INSTANCE_NOT_FOUND', 404],
      ['ENTITY_NOT_FOUND', 404],
      ['INSTANCE_EXISTS', 409],
      ['INVALID_STATE', 409],
      ['BODY_TOO_LARGE', 413],
      ['UNSUPPORTED_MEDIA_TYPE', 415],
      ['UNKNOWN_ORCHESTRATION', 422],
      ['UNKNOWN_ENTITY', 422],
      ['UNAUTHORIZED', 401],
      ['FORBIDDEN', 403],
    ];
    for (const [code, status] of expected) assert.equal(statusFor(code), status, code);
  });

  it('hides the message of internal errors from callers', () => {
    const internal = toProblem(new Error('database password is hunter2'));
    assert.equal(internal.status, 500);
    assert.deepEqual(internal.problem, { code: 'INTERNAL', message: 'Internal error.' });
    const engine = toProblem(new DurableError('NON_DETERMINISM', 'replay details'));
    assert.equal(engine.status, 500);
    assert.equal(engine.problem.message, 'Internal error.');
    const known = toProblem(new HttpError('ENTITY_NOT_FOUND', 'No entity counter@x.'));
    assert.deepEqual(known, { status: 404, problem: { code: 'ENTITY_NOT_FOUND', message: 'No entity counter@x.' } });
  });
});
