/**
 * What `durable dev` says while the app runs: one line per orchestration start, completion, failure, termination,
 * continue-as-new and retry, per failed activity and entity operation, per stuck instance and per dead letter.
 *
 * It reads the runtime's structured log records (the `event` names of `LOG_EVENTS` and their fields), never log
 * text: it is a {@link Logger} that the dev host passes to its worker. Everything else the runtime logs is dropped.
 */
import { LOG_EVENTS } from '../observability/log-events.js';
import type { LogRecord, Logger } from '../observability/logger.js';

export interface DevReporterOptions {
  /** Receives each line, without its newline. */
  readonly write: (line: string) => void;
  /** ANSI colours (a terminal without NO_COLOR). */
  readonly color: boolean;
  /** The time printed at the start of each line (default: the wall clock). */
  readonly now?: () => Date;
}

type Paint = 'green' | 'red' | 'yellow' | 'cyan' | 'dim' | 'magenta';
const ANSI: Record<Paint, string> = {
  green: '\x1b[32m',
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  cyan: '\x1b[36m',
  magenta: '\x1b[35m',
  dim: '\x1b[2m',
};
const RESET = '\x1b[0m';

/** Remembered failed activities (to name them in the retry line) and stuck notes, per process; bounded. */
const REMEMBERED = 10_000;

/**
 * Whether `durable dev`'s lines are coloured: on a terminal, unless NO_COLOR is set (https://no-color.org).
 * @example
 * devReporter({ write: console.log, color: useColor(process.stdout, process.env) });
 */
export function useColor(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

/**
 * A logger that prints the dev loop's lines.
 * @example
 * const logger = devReporter({ write: (line) => process.stdout.write(`${line}\n`), color: true });
 * await startHost({ app, config, logger });
 */
export function devReporter(options: DevReporterOptions): Logger {
  const now = options.now ?? (() => new Date());
  const paint = (color: Paint, text: string): string => (options.color ? `${ANSI[color]}${text}${RESET}` : text);
  const failedActivities = new Map<string, string>();
  const stuckNotes = new Map<string, string>();

  const line = (color: Paint, word: string, subject: string, detail = ''): void => {
    const clock = now().toISOString().slice(11, 23);
    const text = `${paint('dim', clock)} ${paint(color, word.padEnd(11))} ${subject}${detail ? `  ${detail}` : ''}`;
    options.write(text);
  };
  const remember = (map: Map<string, string>, key: string, value: string): void => {
    if (map.size >= REMEMBERED) map.clear();
    map.set(key, value);
  };

  const onTurnCommitted = (r: LogRecord): void => {
    const id = str(r.instanceId);
    const subject = `${str(r.name)} ${id}`;
    const status = str(r.status);
    const previous = typeof r.previousStatus === 'string' ? r.previousStatus : undefined;
    const took = age(r);
    stuckNotes.delete(id);
    if (previous === undefined || previous === 'Pending') line('cyan', '▶ started', subject);
    else if (num(r.generation) > num(r.previousGeneration)) {
      line('dim', '↻ continued', subject, `as new, generation ${num(r.generation)} (running ${took})`);
    }
    for (const retry of Array.isArray(r.retries) ? (r.retries as RetryField[]) : []) {
      const what =
        retry.failed.kind === 'activity'
          ? `activity ${failedActivities.get(`${id}/${retry.failed.seq}`) ?? `#${retry.failed.seq}`}`
          : 'sub-orchestration';
      failedActivities.delete(`${id}/${retry.failed.seq}`);
      line(
        'yellow',
        '↻ retry',
        subject,
        `${what} failed (${retry.failed.error}); next attempt in ${ms(retry.delayMs)}`,
      );
    }
    if (status === previous) return;
    if (status === 'Completed') line('green', '✓ completed', subject, `in ${took}`);
    else if (status === 'Failed') line('red', '✗ failed', subject, `after ${took}: ${errorOf(r)}`);
    else if (status === 'Terminated') line('magenta', '■ terminated', subject, `after ${took}: ${errorOf(r)}`);
  };

  const handle = (r: LogRecord): void => {
    switch (r.event) {
      case LOG_EVENTS.turnCommitted:
        return onTurnCommitted(r);
      case LOG_EVENTS.activityFailed: {
        // The worker's own `activityFailed` (its runner crashed) has no activity name: not an activity's failure.
        if (typeof r.activity !== 'string') return;
        remember(failedActivities, `${str(r.instanceId)}/${num(r.seq)}`, r.activity);
        return line(
          'yellow',
          '! activity',
          `${r.activity} of ${str(r.instanceId)}`,
          `attempt ${num(r.attempt) || 1} failed: ${str(r.error)}`,
        );
      }
      case LOG_EVENTS.entityOperationFailed:
        return line(
          'red',
          '✗ entity op',
          `${str(r.instanceId)} ${str(r.operation)}`,
          `${r.signal === true ? 'signal' : 'call'} from ${str(r.from)} failed: ${str(r.errorName)}: ${str(r.error)}`,
        );
      case LOG_EVENTS.nonDeterminism:
      case LOG_EVENTS.turnFailed: {
        if (r.stuck !== true) {
          if (typeof r.instanceId === 'string') line('red', '! turn', r.instanceId, `failed: ${str(r.error)}`);
          return;
        }
        // Said once per instance and reason: the instance retries with a back-off, the line would repeat.
        const id = str(r.instanceId);
        if (stuckNotes.get(id) === str(r.error)) return;
        remember(stuckNotes, id, str(r.error));
        return line(
          'yellow',
          '⚠ stuck',
          `${typeof r.name === 'string' ? `${r.name} ` : ''}${id}`,
          `${str(r.error)} (retrying in ${ms(num(r.retryInMs))}, backing off to 60 s; deploy matching code or terminate it)`,
        );
      }
      case LOG_EVENTS.deadLettered:
        return line(
          'red',
          '☠ dead letter',
          `${str(r.messageId)}${typeof r.instanceId === 'string' ? ` of ${r.instanceId}` : ''}`,
          `${str(r.reason)} (durable dead-letters; durable kick ${str(r.messageId)})`,
        );
      case LOG_EVENTS.nondeterministicCall: {
        const replacement = r.call === 'Math.random()' ? 'ctx.random()' : 'ctx.now()';
        return line(
          'yellow',
          '⚠ nondeterministic',
          `${str(r.orchestration)} ${str(r.instanceId)}`,
          `called ${str(r.call)} during a turn: it differs on replay; use ${replacement} (said once per orchestration)`,
        );
      }
      case LOG_EVENTS.batchFailed:
        return line('red', '! worker', 'a batch failed', `${str(r.error)} (retried with a back-off)`);
    }
  };
  const safe = (r: LogRecord): void => {
    try {
      handle(r);
    } catch {
      // A line that cannot be printed must never break the turn that logged it.
    }
  };
  return { debug: safe, info: safe, warn: safe, error: safe };
}

interface RetryField {
  readonly failed: { readonly kind: string; readonly seq: number; readonly error: string };
  readonly delayMs: number;
}

/** How long the instance has existed at this commit (creation by the client to this turn). */
function age(r: LogRecord): string {
  return ms(Math.max(0, num(r.updatedAt) - num(r.createdAt)));
}

function errorOf(r: LogRecord): string {
  const name = typeof r.errorName === 'string' ? `${r.errorName}: ` : '';
  return `${name}${str(r.error) || 'no reason given'}`;
}

/**
 * A duration for people: `45 ms`, `1.2 s`, `3 min 4 s`, `2 h 5 min`.
 * @example
 * ms(1234); // '1.2 s'
 */
export function ms(value: number): string {
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)} s`;
  const minutes = Math.floor(value / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.floor((value % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function str(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  return JSON.stringify(value) ?? '';
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
