/**
 * `durable worker <app>`: the container entry point. Run as `node bin/durable.mjs worker <app>` or directly as
 * `node --import tsx worker/main.ts <app>`.
 *
 * Exit codes: 0 after a complete drain (SIGTERM/SIGINT), 1 when the drain deadline passed, a second signal
 * arrived, or the worker could not start; 2 for a usage error.
 */
import { loadApp } from '../src/host/load-app.js';
import { ValidationError } from '../src/engine/errors.js';
import { LOG_EVENTS } from '../src/observability/log-events.js';
import { createLogger } from '../src/observability/pino-logger.js';
import { parseWorkerArgs, WORKER_USAGE } from './options.js';
import { startWorkerProcess } from './worker-process.js';

async function main(argv: readonly string[]): Promise<void> {
  let invocation;
  try {
    invocation = parseWorkerArgs(argv, process.env);
  } catch (error) {
    process.stderr.write(`durable worker: ${(error as Error).message}\n${WORKER_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (invocation.help) {
    process.stdout.write(`${WORKER_USAGE}\n`);
    return;
  }
  const { config, settings, api } = invocation;
  const logger = createLogger({ level: settings.logLevel });
  let worker;
  try {
    const app = await loadApp(settings.app);
    worker = await startWorkerProcess({ app, config, settings, logger, api });
  } catch (error) {
    logger.error({ event: LOG_EVENTS.fatal, error: String(error) }, 'the worker could not start');
    process.exitCode = error instanceof ValidationError ? 2 : 1;
    return;
  }
  const running = worker;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // An operator who asks twice wants out now; unacknowledged messages come back after their reservation.
      logger.error({ event: LOG_EVENTS.drainTimeout, signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    void running.drain().then((result) => process.exit(result === 'drained' ? 0 : 1));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

// Through bin/durable.mjs the arguments start with the subcommand's name.
const args = process.argv.slice(2);
await main(args[0] === 'worker' ? args.slice(1) : args);
