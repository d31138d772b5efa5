/**
 * In-memory object storage with one global, strictly increasing resourceVersion (as etcd's revision is), and a
 * bounded history of change events for watches.
 *
 * Invariants:
 * - Every write (create, update, delete) takes the next revision, and the stored object carries it as
 *   `metadata.resourceVersion`. A list reports the current revision.
 * - The history holds the last `historyLimit` events in revision order. A watch from revision `r` needs every
 *   event after `r`; if any was dropped (`r < compactedRevision`) the watch gets 410 Gone, never a silent gap.
 * - Objects handed out are copies; callers cannot mutate the store except through `put` and `remove`.
 */
export type KubeObject = Record<string, any> & {
  apiVersion?: string;
  kind?: string;
  metadata: Record<string, any> & { name: string; namespace?: string; resourceVersion?: string; uid?: string };
};

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  type: EventType;
  /** `group/plural`: which resource the object belongs to. */
  resource: string;
  revision: number;
  object: KubeObject;
  /** The object before a MODIFIED event: a selector watch turns a change in or out of scope into ADDED/DELETED. */
  previous?: KubeObject;
}

export type Listener = (event: StoredEvent) => void;

function keyOf(resource: string, namespace: string | undefined, name: string): string {
  return `${resource}|${namespace ?? ''}|${name}`;
}

export class Store {
  private revision = 0;
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: StoredEvent[] = [];
  private compacted = 0;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly historyLimit: number) {}

  currentRevision(): number {
    return this.revision;
  }

  /** The newest revision no longer in the history: watches from before it get 410 Gone. */
  compactedRevision(): number {
    return this.compacted;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.objects.get(keyOf(resource, namespace, name));
    return found ? structuredClone(found) : undefined;
  }

  /** Objects of `resource` (in `namespace` when given), sorted by namespace then name, as etcd keys sort. */
  list(resource: string, namespace?: string): KubeObject[] {
    const prefix = `${resource}|`;
    const found: KubeObject[] = [];
    for (const [key, object] of this.objects) {
      if (!key.startsWith(prefix)) continue;
      if (namespace !== undefined && object.metadata.namespace !== namespace) continue;
      found.push(structuredClone(object));
    }
    return found.sort((a, b) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}` < `${b.metadata.namespace ?? ''}/${b.metadata.name}` ? -1 : 1,
    );
  }

  /** Every stored object of every resource, for garbage collection. */
  everything(): { resource: string; object: KubeObject }[] {
    return [...this.objects.entries()].map(([key, object]) => ({
      resource: key.split('|')[0]!,
      object: structuredClone(object),
    }));
  }

  /** Writes `object` at the next revision and returns the stored copy. */
  put(resource: string, object: KubeObject): KubeObject {
    const key = keyOf(resource, object.metadata.namespace, object.metadata.name);
    const previous = this.objects.get(key);
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++this.revision);
    this.objects.set(key, stored);
    const event: StoredEvent = {
      type: previous ? 'MODIFIED' : 'ADDED',
      resource,
      revision: this.revision,
      object: structuredClone(stored),
    };
    if (previous) event.previous = previous;
    this.record(event);
    return structuredClone(stored);
  }

  /** Deletes the object; the DELETED event carries it at the deletion's revision, as the real server's does. */
  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = keyOf(resource, namespace, name);
    const existing = this.objects.get(key);
    if (!existing) return undefined;
    this.objects.delete(key);
    existing.metadata.resourceVersion = String(++this.revision);
    this.record({ type: 'DELETED', resource, revision: this.revision, object: structuredClone(existing) });
    return structuredClone(existing);
  }

  /** Events of `resource` after `revision`, or undefined when some were compacted away (→ 410). */
  eventsSince(resource: string, revision: number): StoredEvent[] | undefined {
    if (revision < this.compacted) return undefined;
    return this.history.filter((e) => e.resource === resource && e.revision > revision).map((e) => structuredClone(e));
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record(event: StoredEvent): void {
    this.history.push(event);
    while (this.history.length > this.historyLimit) this.compacted = this.history.shift()!.revision;
    for (const listener of [...this.listeners]) listener(event);
  }
}
