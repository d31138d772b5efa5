/**
 * One `durable worker` process, as a value: the host (backends + runtime worker), the metrics, the ops server,
 * and a drain with a deadline. `main.ts` adds the signals and the exit codes; tests can drive it in-process.
 */
import type { FastifyInstance } from 'fastify';
import type { App } from '../src/engine/app.js';
import { QUEUE_NAMES } from '../src/engine/messages.js';
import type { DurableConfig, WorkerSettings } from '../src/config/config.js';
import type { Host } from '../src/host/host.js';
import { startHost } from '../src/host/host.js';
import { countingLogger } from '../src/host/counting-logger.js';
import { LOG_EVENTS } from '../src/observability/log-events.js';
import type { Logger } from '../src/observability/logger.js';
import type { WorkerMetrics } from '../src/observability/metrics.js';
import { createWorkerMetrics } from '../src/observability/metrics.js';
import { describeApp } from '../src/http/app-description.js';
import { createHttpApi } from '../src/http/http-api.js';
import { createOpsServer } from './ops-server.js';
import type { WorkerApiSettings } from './options.js';
import { checkBackends } from './readiness.js';

export interface WorkerProcessOptions {
  readonly app: App;
  readonly config: DurableConfig;
  readonly settings: WorkerSettings;
  readonly logger: Logger;
  /** Per readiness probe (default 2 s). */
  readonly readinessTimeoutMs?: number;
  /** Serve the HTTP API too (`DURABLE_API_PORT`); off when undefined. */
  readonly api?: WorkerApiSettings | undefined;
}

export interface WorkerProcess {
  readonly host: Host;
  readonly metrics: WorkerMetrics;
  readonly ops: FastifyInstance;
  /** `http://host:port` of the ops server. */
  readonly opsAddress: string;
  /** `http://host:port` of the HTTP API, when it is served. */
  readonly apiAddress: string | undefined;
  /**
   * Stops taking work, lets running turns and activities finish, closes the ops server and the backends.
   * Resolves `'drained'`, or `'timeout'` when `settings.drainTimeoutMs` passed first (the work still running
   * is abandoned: its messages are not acknowledged and come back to another worker after their reservation).
   * Calling it again returns the same promise.
   */
  drain(): Promise<'drained' | 'timeout'>;
}

/**
 * @example
 * const worker = await startWorkerProcess({ app, config: loadConfig(), settings: loadWorkerSettings(), logger });
 * process.once('SIGTERM', () => void worker.drain().then((r) => process.exit(r === 'drained' ? 0 : 1)));
 */
export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const { settings } = options;
  const metrics = createWorkerMetrics();
  const logger = countingLogger(options.logger, metrics);
  const host = await startHost({
    app: options.app,
    config: options.config,
    logger,
    serves: { kinds: settings.serves, functions: settings.functions },
    worker: { orchestrationConcurrency: settings.orchestrationConcurrency, maxDeliveries: settings.maxDeliveries },
  });
  metrics.watchQueues(host.backends.queue, QUEUE_NAMES);
  metrics.watchCache(() => host.worker?.cachedInstances ?? 0);
  if (host.partitions) {
    const partitions = host.partitions;
    metrics.watchPartitions(() => partitions.held().length);
  }

  let draining: Promise<'drained' | 'timeout'> | undefined;
  const ops = createOpsServer({
    registry: metrics.registry,
    readiness: () => checkBackends(host.backends, options.readinessTimeoutMs ?? 2000),
    draining: () => draining !== undefined,
  });
  let opsAddress: string;
  try {
    opsAddress = await ops.listen({ host: settings.opsHost, port: settings.opsPort });
  } catch (error) {
    await host.stop();
    throw error;
  }
  logger.info({ event: LOG_EVENTS.opsListening, address: opsAddress }, `ops server on ${opsAddress}`);

  const api = options.api
    ? createHttpApi(host.client, {
        app: describeApp(options.app),
        allowedHosts: options.api.allowedHosts,
        logger,
        ...(options.api.auth ? { auth: options.api.auth } : {}),
      })
    : undefined;
  let apiAddress: string | undefined;
  if (api && options.api) {
    try {
      apiAddress = await api.listen({ host: options.api.host, port: options.api.port });
    } catch (error) {
      await ops.close();
      await host.stop();
      throw error;
    }
    logger.info({ event: LOG_EVENTS.apiListening, address: apiAddress }, `HTTP API on ${apiAddress}`);
  }

  const drainNow = async (): Promise<'drained'> => {
    await api?.close();
    await host.worker?.stop();
    await ops.close();
    await host.backends.close();
    return 'drained';
  };

  return {
    host,
    metrics,
    ops,
    opsAddress,
    apiAddress,
    drain() {
      if (draining) return draining;
      const started = Date.now();
      logger.info(
        { event: LOG_EVENTS.drainStarted, deadlineMs: settings.drainTimeoutMs },
        'draining: no new work; running turns and activities finish',
      );
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), settings.drainTimeoutMs);
      });
      draining = Promise.race([drainNow(), deadline]).then((result) => {
        clearTimeout(timer);
        if (result === 'drained') {
          logger.info({ event: LOG_EVENTS.drained, ms: Date.now() - started }, 'drained');
        } else {
          logger.error(
            {
              event: LOG_EVENTS.drainTimeout,
              deadlineMs: settings.drainTimeoutMs,
              workerIdle: host.worker?.idle ?? true,
            },
            'drain deadline passed with turns or activities still running; their messages return to the queue',
          );
        }
        return result;
      });
      return draining;
    },
  };
}
