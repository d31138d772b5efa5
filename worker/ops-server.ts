/**
 * The ops server of a worker (and operator) process: `/metrics` for Prometheus, `/healthz` (the process answers) and
 * `/readyz` (the backends answer; 503 otherwise, and always 503 once draining so traffic moves elsewhere).
 * It serves no workflow data: no auth, meant for the pod network.
 */
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  readonly registry: Registry;
  /** Ready or not, with one entry per check: `ok` or why not. */
  readonly readiness: () => Promise<{ readonly ready: boolean; readonly checks: Readonly<Record<string, string>> }>;
  /** True once a drain began. */
  readonly draining: () => boolean;
}

/**
 * @example
 * const ops = createOpsServer({ registry: metrics.registry, readiness: () => checkBackends(backends, 2000), draining: () => false });
 * await ops.listen({ host: '0.0.0.0', port: 9464 });
 */
export function createOpsServer(options: OpsServerOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (options.draining()) return reply.code(503).send({ status: 'draining' });
    const { ready, checks } = await options.readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await options.registry.metrics();
    return reply.header('content-type', options.registry.contentType).send(body);
  });
  return app;
}
