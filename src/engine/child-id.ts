/**
 * Default instance ids of sub-orchestrations.
 *
 * A child id must be unique per parent *execution*, not per parent id: an instance id runs several executions
 * (continue-as-new, or a restart of a finished instance), each numbering its calls from 0, and a child id used by
 * an earlier execution is taken (its start is refused with INSTANCE_EXISTS). So the id holds the parent's
 * generation next to the call's sequence number: `<parent>:<generation>:<seq>`. It is derived from replayed state
 * only, so replay computes the same id.
 *
 * It must also pass the client's instance-id rule (1-200 of `A-Z a-z 0-9 _ . : # ~ -`). A parent id already
 * follows it; when the child id would be too long, the parent part is cut and a hash of the whole parent id
 * follows the cut (`<prefix>~<hash>:<generation>:<seq>`), so parents that differ only past the cut still get
 * different children. The hash is plain arithmetic: the engine imports no `node:crypto`.
 */

/** The longest instance id the client accepts (see the instance-id rule in `src/client/client.ts`). */
export const MAX_INSTANCE_ID_LENGTH = 200;

/**
 * The instance id of a sub-orchestration started without an explicit id.
 * @example
 * defaultChildId('order-7', 0, 3, 1); // 'order-7:0:3'
 * defaultChildId('order-7', 2, 3, 2); // 'order-7:2:3#2'
 */
export function defaultChildId(parentId: string, generation: number, seq: number, attempt: number): string {
  const tail = `:${generation}:${seq}${attempt > 1 ? `#${attempt}` : ''}`;
  if (parentId.length + tail.length <= MAX_INSTANCE_ID_LENGTH) return `${parentId}${tail}`;
  const hash = `~${hash53(parentId).toString(36)}`;
  return `${parentId.slice(0, MAX_INSTANCE_ID_LENGTH - tail.length - hash.length)}${hash}${tail}`;
}

/**
 * The incarnation of a child started by a parent's call: derived from the parent's incarnation, generation and
 * call, so replay computes the same one, and a child id reused by a later creation of the parent gets another.
 * A parent without an incarnation (created before they existed) starts children without one.
 */
export function childIncarnation(parentIncarnation: string, generation: number, seq: number): string | undefined {
  if (!parentIncarnation) return undefined;
  const key = `${parentIncarnation}/${generation}/${seq}`;
  return `${hash53(key).toString(36)}${hash53(`${key}/2`).toString(36)}`;
}

/** A 53-bit string hash (cyrb53): deterministic across processes and platforms, not cryptographic. */
function hash53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
