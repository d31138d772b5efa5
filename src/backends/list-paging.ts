/**
 * Paging for `Store.list`, shared by the store adapters so every store pages the same way: newest first (by
 * `createdAt`, then `instanceId` descending), an opaque cursor holding the last item's sort key, a default page
 * size and a cap.
 */
import { Buffer } from 'node:buffer';
import { ValidationError } from '../engine/errors.js';

/** Page size when the query gives none, and the largest page served (bigger limits are clamped). */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;

/** What a cursor encodes: the sort key of the last item of the previous page. */
export interface CursorPosition {
  readonly createdAt: number;
  readonly instanceId: string;
}

/** Sort order of `list`: newest first, ties broken by instance id, descending. */
export function compareNewestFirst(a: CursorPosition, b: CursorPosition): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  if (a.instanceId === b.instanceId) return 0;
  return a.instanceId < b.instanceId ? 1 : -1;
}

export function encodeCursor(position: CursorPosition): string {
  const plain: CursorPosition = { createdAt: position.createdAt, instanceId: position.instanceId };
  return Buffer.from(JSON.stringify(plain), 'utf8').toString('base64url');
}

/** Reads a cursor; anything malformed is a `ValidationError` (the caller's bad input, not a server fault). */
export function decodeCursor(cursor: string): CursorPosition {
  const invalid = (): ValidationError => new ValidationError('Malformed list cursor.', { field: 'cursor' });
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid();
  const { createdAt, instanceId } = parsed as Record<string, unknown>;
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt) || typeof instanceId !== 'string') throw invalid();
  return { createdAt, instanceId };
}

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ValidationError(`List limit must be a positive integer, got ${limit}.`, { field: 'limit' });
  }
  return Math.min(limit, MAX_LIMIT);
}
