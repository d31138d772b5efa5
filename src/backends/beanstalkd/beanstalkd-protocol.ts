/**
 * Pure helpers for the beanstalkd adapter: number mappings and parsing of the YAML-ish stats replies.
 */
import type { Reply } from './beanstalkd-connection.js';

/** beanstalkd priorities are unsigned 32-bit integers, lower first, like the contract's. */
export function toBeanstalkdPriority(priority: number | undefined, fallback: number): number {
  const value = typeof priority === 'number' && Number.isFinite(priority) ? Math.round(priority) : fallback;
  return Math.min(Math.max(value, 0), 0xffff_ffff);
}

/** Whole seconds, rounded up so that nothing becomes visible early; never negative. */
export function secondsUp(ms: number): number {
  return ms > 0 ? Math.ceil(ms / 1000) : 0;
}

/** Parses the `key: value` lines of a stats reply into numbers (non-numeric values are kept as strings). */
export function parseStats(reply: Reply): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const line of (reply.body ?? Buffer.alloc(0)).toString('utf8').split('\n')) {
    const match = /^([\w-]+):\s*(.*)$/.exec(line.trim());
    if (match === null) continue;
    const [, key, raw] = match as unknown as [string, string, string];
    const value = raw.replace(/^"(.*)"$/, '$1');
    out[key] = /^-?\d+$/.test(value) ? Number(value) : value;
  }
  return out;
}

/** A reply that is not what the command expects: an error naming the command and the reply. */
export function unexpected(command: string, reply: Reply): Error {
  return new Error(`beanstalkd: unexpected reply '${reply.words.join(' ')}' to '${command}'.`);
}
