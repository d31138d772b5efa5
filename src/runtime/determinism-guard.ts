/**
 * A development-time guard: warns, once per orchestration name, when orchestration code reads the wall clock
 * (`Date.now()`, `new Date()`, `Date()`) or `Math.random()` during a turn. `durable dev` turns it on (the
 * worker's `warnNondeterminism` option); it is off by default and in production.
 *
 * It is a guard, not a sandbox: it warns and changes no value (the code still gets the real time, and its replay
 * may still diverge), and it sees only code that reads the globals while a turn runs. A reference taken earlier
 * (`const now = Date.now` at module load) escapes it. `durable/eslint` finds these mistakes before they run.
 *
 * How it attributes a read to an orchestration: the executor's `load` and `step` run inside an AsyncLocalStorage
 * context naming the instance, and the orchestration's code (the synchronous start and every continuation after an
 * `await`, which runs in the microtasks of the executor's drain) inherits it. Anything else that reads the clock
 * meanwhile (the logger's timestamps, HTTP handlers, activities, other turns' workers) has no such context and is
 * ignored. The globals are replaced only while at least one guarded turn runs in the process, and put back as they
 * were when the last one ends: outside turns nothing is patched.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** What a warning reports. */
export interface NondeterminismWarning {
  readonly orchestration: string;
  readonly instanceId: string;
  /** What the code read: `Date.now()`, `new Date()`, `Date()` or `Math.random()`. */
  readonly call: string;
}

interface TurnIdentity {
  /** The orchestration's name, once its start has been applied (read lazily: a new instance learns it in the turn). */
  readonly name: () => string;
  readonly instanceId: string;
}

/**
 * Watches orchestration turns for clock and `Math.random` reads.
 * @example
 * const guard = new DeterminismGuard((w) => logger.warn({ event: LOG_EVENTS.nondeterministicCall, ...w }));
 * const result = await guard.run({ instanceId, name: () => executor.snapshot.name }, () => executor.step(m, now));
 */
export class DeterminismGuard {
  private readonly turns = new AsyncLocalStorage<TurnIdentity>();
  private readonly warned = new Set<string>();

  constructor(private readonly onWarning: (warning: NondeterminismWarning) => void) {}

  /** Runs one executor call (`load` or `step`) of the instance `identity` names, watching its orchestration code. */
  async run<T>(identity: TurnIdentity, fn: () => Promise<T>): Promise<T> {
    const release = watch(this);
    try {
      return await this.turns.run(identity, fn);
    } finally {
      release();
    }
  }

  /** Runs `fn` as code that is not the orchestration's (a log sink called from the turn: the logger reads the clock). */
  exempt<T>(fn: () => T): T {
    return this.turns.exit(fn);
  }

  /** Called by the patched globals. */
  noteRead(call: string): void {
    const identity = this.turns.getStore();
    if (!identity) return;
    const orchestration = identity.name();
    if (orchestration === '' || this.warned.has(orchestration)) return;
    this.warned.add(orchestration);
    // The warning is written outside the turn's context: whatever the logger reads is not the orchestration's.
    this.turns.exit(() => this.onWarning({ orchestration, instanceId: identity.instanceId, call }));
  }
}

// ---- the process-wide patch --------------------------------------------------------------------------------

/** Guards with a turn running, and how many each has. The globals are patched while this is not empty. */
const watching = new Map<DeterminismGuard, number>();
let restore: (() => void) | undefined;

function watch(guard: DeterminismGuard): () => void {
  watching.set(guard, (watching.get(guard) ?? 0) + 1);
  if (!restore) restore = patchGlobals();
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    const count = (watching.get(guard) ?? 1) - 1;
    if (count > 0) watching.set(guard, count);
    else watching.delete(guard);
    if (watching.size === 0 && restore) {
      restore();
      restore = undefined;
    }
  };
}

function noteRead(call: string): void {
  for (const guard of watching.keys()) guard.noteRead(call);
}

/** Replaces `Date` and `Math.random` with watching versions; returns what puts the originals back. */
function patchGlobals(): () => void {
  const NativeDate = globalThis.Date;
  const nativeRandom = Math.random;
  const nativeNow = NativeDate.now.bind(NativeDate);
  const now = (): number => {
    noteRead('Date.now()');
    return nativeNow();
  };
  // A proxy, not a subclass: `instanceof Date`, `Date.UTC`, `Date.prototype` and the dates it makes are the
  // native ones; only reading the current time is noticed.
  const WatchedDate: DateConstructor = new Proxy(NativeDate, {
    construct(target, args: unknown[], newTarget: object): object {
      if (args.length === 0) noteRead('new Date()');
      // `newTarget` is this proxy (or a subclass): its `prototype` is Date.prototype, so the date is a native one.
      return Reflect.construct(target, args, newTarget as DateConstructor) as object;
    },
    apply(target, thisArg, args: unknown[]) {
      noteRead('Date()');
      return Reflect.apply(target, thisArg, args) as string;
    },
    get(target, property, receiver) {
      return property === 'now' ? now : (Reflect.get(target, property, receiver) as unknown);
    },
  });
  globalThis.Date = WatchedDate;
  Math.random = () => {
    noteRead('Math.random()');
    return nativeRandom();
  };
  return () => {
    globalThis.Date = NativeDate;
    Math.random = nativeRandom;
  };
}
