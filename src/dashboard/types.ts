/**
 * What the dashboard reads from `/api/*`, as JSON (times are ISO strings). Event shapes come from the engine as types
 * only: the bundle holds none of the server's code.
 */
import type { HistoryEvent, HistoryEventType } from '../engine/history.js';
import type { RuntimeStatus } from '../engine/status.js';
import type { AppDescription } from '../http/app-description.js';

export type { AppDescription, HistoryEvent, HistoryEventType, RuntimeStatus };

/**
 * Every status, in the order the dashboard shows them. The bundle cannot import the engine's list (types only), so the
 * record makes the compiler refuse a status missing here.
 */
const STATUS_ORDER: { readonly [S in RuntimeStatus]: number } = {
  Pending: 0,
  Running: 1,
  Suspended: 2,
  Completed: 3,
  Failed: 4,
  Terminated: 5,
  ContinuedAsNew: 6,
};
export const STATUSES: readonly RuntimeStatus[] = (Object.keys(STATUS_ORDER) as RuntimeStatus[]).sort(
  (a, b) => STATUS_ORDER[a] - STATUS_ORDER[b],
);

export const TERMINAL: ReadonlySet<string> = new Set<RuntimeStatus>(['Completed', 'Failed', 'Terminated']);

export interface Failure {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
}

export interface Instance {
  readonly instanceId: string;
  readonly name: string;
  readonly status: RuntimeStatus;
  readonly generation: number;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly error?: Failure;
  readonly customStatus?: unknown;
  readonly stuck?: Failure;
  readonly createdAt: string;
  readonly lastUpdatedAt: string;
  readonly historyLength: number;
  /** While Running or Suspended: what it waits for, as `durable status` says it. */
  readonly waitingFor?: readonly string[];
  readonly parent?: { readonly instanceId: string; readonly name?: string };
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

export interface Counts {
  readonly counts: Record<RuntimeStatus, number>;
  readonly stuck: number;
  readonly total: number;
}

/** An event as the API returns it: a known one, or one from a newer server. */
export type ApiEvent = HistoryEvent | { readonly type: string; readonly at: number; readonly [key: string]: unknown };

export interface History {
  readonly instanceId: string;
  readonly events: ApiEvent[];
}

export interface Entity {
  readonly entityId: string;
  readonly name: string;
  readonly key: string;
  readonly state: unknown;
  readonly lastModified: string;
  readonly lockedBy?: string;
  readonly queued: number;
  readonly hasState: boolean;
  readonly lastFailure?: {
    readonly operation: string;
    readonly error: { readonly name: string; readonly message: string; readonly code?: string };
    readonly at: string;
    readonly from: string;
    readonly signal: boolean;
  };
}

export interface DeadLetter {
  readonly queue: string;
  readonly messageId: string;
  readonly instanceId?: string;
  readonly reason: string;
  readonly message?: {
    readonly body?: { readonly type?: string; readonly name?: string };
    readonly [key: string]: unknown;
  };
  readonly unreadable?: { readonly location: string; readonly base64: string };
  /** When it was parked, on servers that say so. */
  readonly deadLetteredAt?: string;
}

export type Scope = 'read' | 'write' | 'admin';

export interface WhoAmI {
  readonly scopes: Scope[];
  readonly name?: string;
  readonly authRequired: boolean;
}

export interface Problem {
  readonly status?: number;
  readonly title?: string;
  readonly detail?: string;
  readonly code?: string;
}
