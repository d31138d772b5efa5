/**
 * Values, times and lengths of time as a person reads them, in one line: shared by the CLI's output and the
 * server's `waitingFor` lines (so `durable status` reads the same whichever of the two computed them).
 */

/** A value in one line, cut to `max` characters. */
export function short(value: unknown, max = 60): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A value as JSON in one line (a string keeps its quotes: "42" is not 42), cut to `max` characters. */
export function json(value: unknown, max = 60): string {
  return value === undefined ? '' : short(JSON.stringify(value), max);
}

/**
 * Epoch milliseconds as an ISO time (UTC, with milliseconds), or '' for anything that is not a finite number.
 * @example
 * iso(0); // '1970-01-01T00:00:00.000Z'
 */
export function iso(ms: unknown): string {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : '';
}

/**
 * A length of time the way a person reads it: `850ms`, `1.2s`, `42s`, `3m05s`, `2h07m`, `3d04h`. Negative
 * lengths (clock skew between workers) read as 0ms.
 * @example
 * duration(185_000); // '3m05s'
 */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 1000) return `${Math.max(0, Math.round(Number.isFinite(ms) ? ms : 0))}ms`;
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/**
 * How far `ms` lies from `now`: `in 5m00s` or `3.1s ago`.
 * @example
 * relative(Date.now() + 300_000, Date.now()); // 'in 5m00s'
 */
export function relative(ms: number, now: number): string {
  return ms >= now ? `in ${duration(ms - now)}` : `${duration(now - ms)} ago`;
}
