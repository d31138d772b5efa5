/**
 * Structured logging. The runtime logs through this small interface, which a pino logger satisfies as is
 * (`pino()` can be passed directly); tests and the embedded default can pass {@link silentLogger}.
 * Every line carries a stable `event` name from {@link LOG_EVENTS}.
 */

export interface Logger {
  debug(fields: Record<string, unknown>, message?: string): void;
  info(fields: Record<string, unknown>, message?: string): void;
  warn(fields: Record<string, unknown>, message?: string): void;
  error(fields: Record<string, unknown>, message?: string): void;
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
