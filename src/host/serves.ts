/**
 * What a worker serves: kinds of work (orchestrations, entities, activities) and, with per-function Beanstalkd
 * tubes, which activities and entity types. Turned into the queue's work selection and the runtime's loops.
 *
 * Orchestrations and entities share the runtime's turn loop and, on the embedded queues, one queue: only
 * Beanstalkd, with a tube per kind, can give them to different workers.
 */
import type { WorkSelection } from '../backends/queue.js';
import type { DurableConfig, WorkQueue } from '../config/config.js';
import type { App } from '../engine/app.js';
import { ValidationError } from '../engine/errors.js';

export interface Serves {
  /** Kinds of work to take; default all three. */
  readonly kinds?: readonly WorkQueue[];
  /** Only these activities and entity types (needs per-function tubes); default all of the app's. */
  readonly functions?: readonly string[] | undefined;
}

export interface ResolvedServes {
  /** What the queue's receives take (Beanstalkd maps it to tubes); the embedded queues take everything. */
  readonly selection: WorkSelection;
  /** Which runtime loops run. */
  readonly loops: { readonly orchestrations: boolean; readonly activities: boolean };
}

/**
 * Checks a worker's serves against the app and the configuration; a mismatch is a `ValidationError` saying what
 * to change.
 * @example
 * const { selection, loops } = resolveServes(app, config, { kinds: ['activities'], functions: ['charge'] });
 */
export function resolveServes(app: App, config: DurableConfig, serves: Serves = {}): ResolvedServes {
  const kinds = new Set<WorkQueue>(serves.kinds ?? ['orchestrations', 'entities', 'activities']);
  const routing = config.beanstalkd?.tubes;
  if (routing === undefined && kinds.has('orchestrations') !== kinds.has('entities')) {
    throw new ValidationError(
      'DURABLE_SERVES: orchestrations and entities share one queue on the embedded backends; serve both, or put ' +
        'the queue on Beanstalkd (DURABLE_QUEUE_URL), which has a tube per kind.',
      { serves: [...kinds] },
    );
  }
  if (serves.functions !== undefined && routing !== 'function') {
    throw new ValidationError(
      'DURABLE_FUNCTIONS needs per-function tubes: DURABLE_QUEUE_URL and DURABLE_TUBES=function.',
      {
        functions: serves.functions,
      },
    );
  }
  const activities = Object.keys(app.activities);
  const entities = Object.keys(app.entities);
  const unknown = (serves.functions ?? []).filter((name) => !activities.includes(name) && !entities.includes(name));
  if (unknown.length > 0) {
    throw new ValidationError(
      `DURABLE_FUNCTIONS names no activity or entity of the app: ${unknown.join(', ')} ` +
        `(activities: ${activities.join(', ') || 'none'}; entities: ${entities.join(', ') || 'none'}).`,
      { unknown },
    );
  }
  const chosen = (names: string[]): string[] =>
    serves.functions === undefined ? names : names.filter((n) => serves.functions?.includes(n));
  return {
    selection: {
      kinds: [...kinds],
      // Per-function tubes need the names even when serving all of a kind: the tubes are named after them.
      ...(routing === 'function' ? { functions: { entities: chosen(entities), activities: chosen(activities) } } : {}),
    },
    loops: {
      orchestrations: kinds.has('orchestrations') || kinds.has('entities'),
      activities: kinds.has('activities'),
    },
  };
}
