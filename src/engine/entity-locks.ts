/**
 * An orchestration's side of entity messaging: message numbers per entity (so each entity applies this
 * generation's messages in order) and the critical section: requested, held, released.
 */
import { ValidationError } from './errors.js';

export interface Section {
  readonly lockId: string;
  readonly entities: readonly string[];
}

export class EntityLocks {
  private readonly counters = new Map<string, number>();
  private held: Section | undefined;
  private requested: Section | undefined;

  get inSection(): boolean {
    return this.held !== undefined;
  }

  /** Messages to one entity are numbered 1, 2, 3… per generation. */
  nextNumber(entityId: string): number {
    const n = (this.counters.get(entityId) ?? 0) + 1;
    this.counters.set(entityId, n);
    return n;
  }

  /** The lock id a call to `entityId` runs under; throws if the section does not cover that entity. */
  lockIdForCall(entityId: string): string | undefined {
    const section = this.held;
    if (section && !section.entities.includes(entityId)) {
      throw new ValidationError(
        `Inside a critical section only the locked entities (${section.entities.join(', ')}) may be called; ${entityId} is not one of them.`,
        { entityId, locked: section.entities },
        'LOCKING_RULES_VIOLATED',
      );
    }
    return section?.lockId;
  }

  /**
   * Throws if a signal to `entityId` is not allowed now. Inside a section, the locked entities may only be
   * called: a signal would wait for the unlock while later calls run at once, breaking the sender's order (the
   * same rule as Durable Functions).
   */
  checkSignal(entityId: string): void {
    if (this.held?.entities.includes(entityId)) {
      throw new ValidationError(
        `Inside a critical section the locked entity ${entityId} can be called, not signalled.`,
        { entityId },
        'LOCKING_RULES_VIOLATED',
      );
    }
  }

  /** Throws inside a section: a sub-orchestration could never take the locks the section holds. */
  checkSubOrchestration(): void {
    if (this.held) {
      throw new ValidationError(
        'Sub-orchestrations cannot be started inside a critical section.',
        { locked: this.held.entities },
        'LOCKING_RULES_VIOLATED',
      );
    }
  }

  /**
   * Starts acquiring a section over `entityIds`, returned in lock order. One global order (sorted ids) for every
   * orchestration means two sections over the same entities request them in the same order, so they can never
   * wait for each other in a cycle.
   */
  request(lockId: string, entityIds: readonly string[]): Section {
    if (this.held || this.requested) {
      throw new ValidationError(
        'This orchestration already holds (or is acquiring) a critical section; sections cannot be nested.',
        { held: (this.held ?? this.requested)?.entities },
        'LOCKING_RULES_VIOLATED',
      );
    }
    const entities = [...new Set(entityIds)].sort();
    if (entities.length === 0) throw new ValidationError('lock() needs at least one entity id.');
    this.requested = { lockId, entities };
    return this.requested;
  }

  granted(section: Section): void {
    this.requested = undefined;
    this.held = section;
  }

  isHeld(lockId: string): boolean {
    return this.held?.lockId === lockId;
  }

  /** Ends the section, or abandons a request still in flight; returns what must be unlocked. */
  release(): Section | undefined {
    const section = this.held ?? this.requested;
    this.held = undefined;
    this.requested = undefined;
    return section;
  }
}
