/**
 * When a server-side apply is due. An apply with nothing changed still costs a request (and, on a real API
 * server, an admission and a storage round trip), so the operator applies an object only when what it wants is
 * not what is there:
 * - the live object lacks a field it applies, or holds another value (someone edited it, or the spec changed); or
 * - the hash of what it last applied (an annotation written with each apply) differs: a field it stopped applying
 *   is removed only by an apply, which a containment check alone would never see.
 * Fields other managers added (defaults, an HPA's replicas, `kubectl annotate`) do not count: they are theirs.
 */
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';

export const APPLIED_HASH = 'durable.dev/applied-hash';

/**
 * The object to apply, annotated with the hash of its own content.
 * @example
 * await api.patch(withAppliedHash(desired), undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
 */
export function withAppliedHash<T extends KubernetesObject>(desired: T): T {
  const hash = createHash('sha256').update(canonical(desired)).digest('hex').slice(0, 16);
  const metadata = desired.metadata ?? {};
  return { ...desired, metadata: { ...metadata, annotations: { ...metadata.annotations, [APPLIED_HASH]: hash } } };
}

/**
 * @example
 * needsApply(withAppliedHash(desired), informer.get(name, namespace)); // false when nothing changed
 */
export function needsApply(desired: KubernetesObject, live: KubernetesObject | undefined): boolean {
  // Objects from a list carry no apiVersion or kind (the list does): the informer's cache holds them so.
  return live === undefined || !contains(live, { ...desired, apiVersion: undefined, kind: undefined });
}

/** True when every field of `wanted` is in `actual` with the same value; lists must match element by element. */
export function contains(actual: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) {
    return (
      Array.isArray(actual) && actual.length === wanted.length && wanted.every((item, i) => contains(actual[i], item))
    );
  }
  if (wanted !== null && typeof wanted === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const record = actual as Record<string, unknown>;
    return Object.entries(wanted).every(([key, value]) => value === undefined || contains(record[key], value));
  }
  return actual === wanted;
}

/** JSON with sorted keys, so equal objects hash alike whatever order their fields were built in. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
