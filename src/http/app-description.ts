/**
 * What an app registers, as the HTTP API and the dashboard describe it: names only, never code. The API refuses
 * starts of unknown orchestrations, unknown events and unknown entity operations from it, and `GET /api/app`
 * serves it to the dashboard.
 */
import type { App } from '../engine/app.js';
import { entityOperations } from '../engine/entity.js';

export interface AppDescription {
  /** Sorted by name; `events` only for the orchestrations that declare them (`defineApp({ events })`). */
  readonly orchestrations: ReadonlyArray<{ readonly name: string; readonly events?: readonly string[] }>;
  readonly activities: readonly string[];
  /** Sorted by name, each with the operations it accepts (sorted). */
  readonly entities: ReadonlyArray<{ readonly name: string; readonly operations: readonly string[] }>;
}

/**
 * Describes an app.
 * @example
 * describeApp(app).entities; // [{ name: 'counter', operations: ['add', 'get', 'reset'] }, ...]
 */
export function describeApp(app: Pick<App, 'orchestrations' | 'activities' | 'entities' | 'events'>): AppDescription {
  const sorted = (names: Iterable<string>): string[] => [...names].sort();
  return {
    orchestrations: sorted(Object.keys(app.orchestrations)).map((name) => {
      const events = app.events[name];
      return events ? { name, events: [...events] } : { name };
    }),
    activities: sorted(Object.keys(app.activities)),
    entities: sorted(Object.keys(app.entities)).map((name) => ({
      name,
      operations: entityOperations(app.entities[name]!),
    })),
  };
}
