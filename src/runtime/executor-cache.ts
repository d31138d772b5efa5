/**
 * Replayed executors of recently used instances, so a turn costs its new events only, not a replay of the
 * whole history. An entry is valid only for the record version it was built at: any other version (another
 * worker committed, or this worker's commit failed) means replaying from the store.
 */
import type { OrchestrationExecutor } from '../engine/executor.js';

interface Entry {
  readonly executor: OrchestrationExecutor;
  readonly version: number;
}

export class ExecutorCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly capacity: number) {}

  /** The executor for `instanceId` at exactly `version`, if cached (and marks it recently used). */
  take(instanceId: string, version: number): OrchestrationExecutor | undefined {
    const entry = this.entries.get(instanceId);
    if (!entry) return undefined;
    this.entries.delete(instanceId);
    return entry.version === version ? entry.executor : undefined;
  }

  put(instanceId: string, version: number, executor: OrchestrationExecutor): void {
    this.entries.delete(instanceId);
    this.entries.set(instanceId, { executor, version });
    // Map iteration order is insertion order: the first key is the least recently used.
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  delete(instanceId: string): void {
    this.entries.delete(instanceId);
  }

  get size(): number {
    return this.entries.size;
  }
}
