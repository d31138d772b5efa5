/**
 * Structured logging. The runtime logs through this small interface, which a pino logger satisfies as is
 * (`pino()` can be passed directly); tests and the embedded default can pass {@link silentLogger}.
 * Every line carries a stable `event` name from the catalogue (`LOG_EVENTS`), checked by the type system: a name
 * that is not in the catalogue does not compile.
 */
import type { LogEventName } from './log-events.js';

/** The fields of one log line: its catalogued `event`, and whatever else describes it. */
export interface LogRecord {
  readonly event: LogEventName;
  readonly [field: string]: unknown;
}

export interface Logger {
  debug(fields: LogRecord, message?: string): void;
  info(fields: LogRecord, message?: string): void;
  warn(fields: LogRecord, message?: string): void;
  error(fields: LogRecord, message?: string): void;
}

/**
 * A logger that drops everything.
 * @example
 * new Worker({ ...backends, app, logger: silentLogger });
 */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
