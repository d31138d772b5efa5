/**
 * The production logger: pino, one JSON object per line on stdout (or `destination`), ISO timestamps, the level
 * as a name. The runtime's {@link Logger} interface is pino's own call shape, so no adapter sits in between.
 */
import type { DestinationStream } from 'pino';
import { pino } from 'pino';
import type { Logger } from './logger.js';

/** The levels pino writes here (the configuration's `DURABLE_LOG_LEVEL` takes the same four names). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface PinoLoggerOptions {
  readonly level?: LogLevel;
  /** Fields on every line (e.g. `{ workerId }`). */
  readonly base?: Record<string, unknown>;
  /** Where lines go; default stdout (synchronously, so a line logged just before `process.exit` is not lost). */
  readonly destination?: DestinationStream;
}

/**
 * @example
 * const logger = createLogger({ level: 'info' });
 * logger.info({ event: LOG_EVENTS.workerStarted, workerId }, 'worker started');
 */
export function createLogger(options: PinoLoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
