/**
 * Shared setup for the HTTP API tests: the example app on a test environment, an API over its client, and a
 * snapshot of everything a request could change (instances, entities, both queues).
 */
import assert from 'node:assert/strict';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import app from '../../examples/app.js';
import type { HttpApiOptions } from '../../src/http/http-api.js';
import { createHttpApi } from '../../src/http/http-api.js';
import { TestEnvironment } from '../../src/testing/test-environment.js';

export interface Harness {
  readonly env: TestEnvironment;
  readonly api: FastifyInstance;
  close(): Promise<void>;
}

export function startHarness(options: HttpApiOptions = {}): Harness {
  const env = TestEnvironment.start(app);
  const api = createHttpApi(env.client, {
    orchestrations: Object.keys(app.orchestrations),
    entities: Object.keys(app.entities),
    ...options,
  });
  return {
    env,
    api,
    async close() {
      await api.close();
      await env.close();
    },
  };
}

/** Everything a request could change, after the worker has done all it can without time moving. */
export async function snapshot(env: TestEnvironment): Promise<string> {
  await env.settle();
  const instances = await env.client.list({ limit: 1000 });
  const entities = await env.client.listEntities({ limit: 1000, includeDeleted: true });
  const queues = {
    orchestrations: await env.queue.depth('orchestrations'),
    activities: await env.queue.depth('activities'),
  };
  return JSON.stringify({ instances, entities, queues });
}

/** Asserts a problem-details response with this status and code. */
export function assertProblem(response: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  const body = response.json<{ code: string; message: string }>();
  assert.equal(body.code, code, response.body);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
}

/** Runs a request that must be refused, and checks it refused with `status`/`code` and changed nothing. */
export async function assertRejectedWithoutChange(
  harness: Harness,
  request: InjectOptions,
  status: number,
  code: string,
): Promise<void> {
  const before = await snapshot(harness.env);
  const response = await harness.api.inject(request);
  assertProblem(response, status, code);
  assert.equal(await snapshot(harness.env), before, `${request.method} ${JSON.stringify(request.url)} changed state`);
}

/** Starts an instance through the API and returns its id. */
export async function startViaApi(harness: Harness, name: string, body: Record<string, unknown>): Promise<string> {
  const response = await harness.api.inject({ method: 'POST', url: `/api/orchestrations/${name}`, payload: body });
  assert.equal(response.statusCode, 201, response.body);
  return response.json<{ instanceId: string }>().instanceId;
}

/** What a client without a body sends on a mutation instead of a JSON content type (the CLI does). */
export const BODYLESS = { 'x-durable-request': '1' } as const;

/** An `approval` input that waits a day for its event. */
export const APPROVAL = { requestId: 'r-1', amount: 10, timeoutMs: 86_400_000 };

/**
 * Awaits `pending` (a long-poll, which waits on the environment's manual clock) while moving that clock forward in
 * `stepMs` steps: virtual time passes only when the test moves it.
 */
export async function whileTimePasses<T>(h: Harness, pending: Promise<T>, stepMs = 10): Promise<T> {
  let settled = false;
  const watched = pending.finally(() => (settled = true));
  while (!settled) await h.env.advance(stepMs);
  return watched;
}
