/** Human-readable output for the CLI: aligned tables, short values, times and durations. */
export { duration, iso, json, relative, short } from '../client/text-format.js';

/** Renders rows as an aligned table with a header. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** An ISO time without milliseconds, or '' . */
export function time(value: unknown): string {
  return typeof value === 'string' ? value.replace(/\.\d{3}Z$/, 'Z') : '';
}
