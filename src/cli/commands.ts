/**
 * The CLI's subcommands that talk to a running Durable over its HTTP API. A command returns its exit status (0 when
 * it returns nothing); errors are thrown as `CliError`s and printed by `main.ts`.
 */
import type { Api } from './api-client.js';
import { CliError } from '../host/cli-error.js';
import { RUNTIME_STATUSES } from '../engine/status.js';
import { seg } from './api-client.js';
import { short, table, time } from './format.js';
import type { ApiEvent } from './timeline.js';
import { timeline, waitingFor } from './timeline.js';

export interface CommandContext {
  readonly api: Api;
  readonly json: boolean;
  readonly out: (text: string) => void;
  /** Live progress on a terminal (the spinner of `status --wait`); a no-op when output is not a TTY. */
  readonly progress: (text: string) => void;
  /** The current time, in epoch ms (for "waiting for 3s"). */
  readonly now: () => number;
}

/** Runs a command; resolves to the exit status (nothing means 0). */
export type Command = (ctx: CommandContext, args: readonly string[], flags: Flags) => Promise<number | void>;
export type Flags = Readonly<Record<string, string | boolean | undefined>>;

interface Status {
  readonly instanceId: string;
  readonly name: string;
  readonly status: string;
  readonly generation: number;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly error?: { name: string; message: string };
  readonly customStatus?: unknown;
  readonly stuck?: { message: string };
  readonly createdAt: string;
  readonly lastUpdatedAt: string;
  /** What a Running or Suspended instance waits for, from servers that compute it. */
  readonly waitingFor?: readonly string[];
}

interface DeadLetter {
  readonly queue: string;
  readonly messageId: string;
  /** Absent for bytes that are not a message, which carry `unreadable` instead. */
  readonly instanceId?: string;
  readonly reason: string;
  readonly unreadable?: { readonly location: string; readonly base64: string };
}

interface Redriven {
  readonly redriven: ReadonlyArray<{ readonly queue: string; readonly messageIds: readonly string[] }>;
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated']);
const LIVE = new Set(['Pending', 'Running', 'Suspended']);
/** Instances scanned per request by `list --stuck`, which the API cannot filter on. */

function need(args: readonly string[], index: number, what: string): string {
  const value = args[index];
  if (value === undefined || value === '') throw new CliError(`Missing ${what}.`, 'USAGE');
  return value;
}

function parseJson(text: string | undefined, what: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`${what} must be JSON, for example '"Tokyo"', '42' or '{"a":1}' (got ${text}).`, 'USAGE');
  }
}

function flag(flags: Flags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

function showStatus(ctx: CommandContext, s: Status, waiting?: readonly string[]): void {
  if (ctx.json) return ctx.out(JSON.stringify(waiting ? { ...s, waitingFor: waiting } : s, null, 2));
  const rows: Array<[string, string]> = [
    ['instance', s.instanceId],
    ['name', s.name],
    ['status', s.stuck ? `${s.status} (stuck)` : s.status],
    ['generation', String(s.generation)],
    ['created', time(s.createdAt)],
    ['updated', time(s.lastUpdatedAt)],
  ];
  if (s.input !== undefined) rows.push(['input', short(s.input, 100)]);
  if (s.output !== undefined) rows.push(['output', short(s.output, 100)]);
  if (s.customStatus !== undefined) rows.push(['custom status', short(s.customStatus, 100)]);
  if (s.error) rows.push(['error', `${s.error.name}: ${s.error.message}`]);
  if (s.stuck) rows.push(['stuck', s.stuck.message]);
  if (s.status === 'Suspended') rows.push(['waiting for', 'resume (durable resume <id>)']);
  else if (s.status === 'Pending') rows.push(['waiting for', 'a worker to start it']);
  for (const [i, line] of (waiting ?? []).entries()) rows.push([i === 0 ? 'waiting for' : '', line]);
  ctx.out(rows.map(([k, v]) => `${k.padEnd(14)}${v}`).join('\n'));
}

/**
 * Shows an instance; a live one with what it is waiting for: the server's `waitingFor`, or (from a server that does
 * not send it) read from its history here.
 */
async function showLive(ctx: CommandContext, s: Status): Promise<void> {
  if (s.status !== 'Running' && s.status !== 'Suspended') return showStatus(ctx, s);
  const { waitingFor: fromServer, ...status } = s;
  if (fromServer !== undefined) return showStatus(ctx, status, fromServer);
  const h = await ctx.api.request<{ events: ApiEvent[] }>('GET', `/api/instances/${seg(s.instanceId)}/history`);
  return showStatus(ctx, status, waitingFor(h.events, ctx.now()));
}

/** The exit status of `status --wait`: an instance that failed or was terminated fails the command. */
function exitFor(s: Status): number {
  return s.status === 'Failed' || s.status === 'Terminated' ? 1 : 0;
}

/**
 * `--status` as the API wants it: canonical names, in any case and comma-separated (`running,FAILED`). `stuck` is
 * not a status but a note on a running instance, so it asks for `--stuck` instead.
 */
export function parseStatuses(value: string): { statuses: string[]; stuck: boolean } {
  const statuses: string[] = [];
  let stuck = false;
  for (const raw of value.split(',')) {
    const name = raw.trim();
    if (name.toLowerCase() === 'stuck') {
      stuck = true;
      continue;
    }
    const canonical = RUNTIME_STATUSES.find((s) => s.toLowerCase() === name.toLowerCase());
    if (!canonical) {
      throw new CliError(
        `--status must be one of ${RUNTIME_STATUSES.join(', ')} or stuck, in any case, comma-separated (got '${name}').`,
        'USAGE',
      );
    }
    if (!statuses.includes(canonical)) statuses.push(canonical);
  }
  return { statuses, stuck };
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export const commands: Record<string, Command> = {
  async start(ctx, args, flags) {
    const name = need(args, 0, 'orchestration name (durable start <name> [input-json])');
    const input = parseJson(args[1], 'input');
    const body = {
      ...(input !== undefined ? { input } : {}),
      ...(flag(flags, 'id') ? { instanceId: flag(flags, 'id') } : {}),
      ...(flag(flags, 'reuse') ? { reuse: flag(flags, 'reuse') } : {}),
    };
    const s = await ctx.api.request<Status>('POST', `/api/orchestrations/${seg(name)}`, body);
    if (ctx.json) ctx.out(JSON.stringify(s, null, 2));
    else ctx.out(`started ${s.instanceId}`);
  },

  async status(ctx, args, flags) {
    const id = need(args, 0, 'instance id (durable status <id> [--wait])');
    if (flags.wait === undefined || flags.wait === false) {
      return showLive(ctx, await ctx.api.request<Status>('GET', `/api/instances/${seg(id)}`));
    }
    const limitMs = typeof flags.wait === 'string' ? Number(flags.wait) : Infinity;
    if (Number.isNaN(limitMs) || limitMs < 0) throw new CliError('--wait takes a number of milliseconds.', 'USAGE');
    const deadline = ctx.now() + limitMs;
    let frame = 0;
    for (;;) {
      const left = Math.round(Math.max(0, Math.min(2000, deadline - ctx.now())));
      const s = await ctx.api.request<Status>('GET', `/api/instances/${seg(id)}?wait=${left}`, undefined, {
        waitMs: left,
      });
      if (TERMINAL.has(s.status)) {
        ctx.progress('');
        showStatus(ctx, s);
        return exitFor(s);
      }
      if (ctx.now() >= deadline) {
        ctx.progress('');
        return showLive(ctx, s);
      }
      const custom = s.customStatus === undefined ? '' : ` ${short(s.customStatus, 50)}`;
      ctx.progress(`${SPINNER[frame++ % SPINNER.length]} ${s.instanceId} ${s.stuck ? 'stuck' : s.status}${custom}`);
    }
  },

  async list(ctx, _args, flags) {
    const query = new URLSearchParams();
    for (const key of ['name', 'limit', 'cursor']) {
      const value = flag(flags, key);
      if (value !== undefined) query.set(key, value);
    }
    const wanted = flag(flags, 'status');
    const parsed = wanted === undefined ? { statuses: [], stuck: false } : parseStatuses(wanted);
    const stuckOnly = flags.stuck === true || parsed.stuck;
    if (parsed.statuses.length > 0) query.set('status', parsed.statuses.join(','));
    else if (stuckOnly) query.set('status', [...LIVE].join(','));
    if (stuckOnly) query.set('stuck', 'true');
    const found = await ctx.api.request<{ items: Status[]; nextCursor?: string }>(
      'GET',
      `/api/instances?${query.toString()}`,
    );
    // The server filters; the check here only keeps a stuck listing honest whatever answers.
    const page = stuckOnly ? { ...found, items: found.items.filter((s) => s.stuck !== undefined) } : found;
    if (ctx.json) return ctx.out(JSON.stringify(page, null, 2));
    if (page.items.length === 0) {
      ctx.out(stuckOnly ? 'no stuck instances' : 'no instances');
    } else {
      ctx.out(
        table(
          ['INSTANCE', 'NAME', 'STATUS', 'CREATED', 'OUTPUT'],
          page.items.map((s) => [
            s.instanceId,
            s.name,
            s.stuck ? 'stuck' : s.status,
            time(s.createdAt),
            short(s.stuck?.message ?? s.output ?? s.error?.message, 60),
          ]),
        ),
      );
    }
    if (page.nextCursor) ctx.out(`\nmore: --cursor ${page.nextCursor}`);
  },

  async history(ctx, args) {
    const id = need(args, 0, 'instance id (durable history <id>)');
    const h = await ctx.api.request<{ events: ApiEvent[] }>('GET', `/api/instances/${seg(id)}/history`);
    if (ctx.json) return ctx.out(JSON.stringify(h, null, 2));
    ctx.out(timeline(h.events));
  },

  async raise(ctx, args, flags) {
    const id = need(args, 0, 'instance id (durable raise <id> <event> [data-json])');
    const event = need(args, 1, 'event name');
    const data = parseJson(args[2], 'event data');
    const eventId = flag(flags, 'event-id');
    await ctx.api.request(
      'POST',
      `/api/instances/${seg(id)}/events/${seg(event)}${eventId ? `?eventId=${seg(eventId)}` : ''}`,
      data ?? null,
    );
    ctx.out(ctx.json ? JSON.stringify({ raised: event, instanceId: id }) : `raised ${event} on ${id}`);
  },

  terminate: control('terminate'),
  suspend: control('suspend'),
  resume: control('resume'),

  async restart(ctx, args, flags) {
    const id = need(args, 0, 'instance id (durable restart <id> [--new-id])');
    const fresh = flags['new-id'] === true;
    const result = await ctx.api.request<{ instanceId: string }>(
      'POST',
      `/api/instances/${seg(id)}/restart`,
      fresh ? { newInstanceId: true } : {},
    );
    if (ctx.json) return ctx.out(JSON.stringify({ restarted: id, instanceId: result.instanceId }));
    ctx.out(result.instanceId === id ? `restarted ${id}` : `restarted ${id} as ${result.instanceId}`);
  },

  async purge(ctx, args) {
    const id = need(args, 0, 'instance id (durable purge <id>)');
    await ctx.api.request('DELETE', `/api/instances/${seg(id)}`);
    ctx.out(ctx.json ? JSON.stringify({ purged: id }) : `purged ${id}`);
  },

  async 'dead-letters'(ctx, _args, flags) {
    const queue = flag(flags, 'queue');
    const page = await ctx.api.request<{ items: DeadLetter[] }>(
      'GET',
      `/api/dead-letters${queue !== undefined ? `?queue=${seg(queue)}` : ''}`,
    );
    if (ctx.json) return ctx.out(JSON.stringify(page, null, 2));
    if (page.items.length === 0) return ctx.out('no dead letters');
    ctx.out(
      table(
        ['QUEUE', 'MESSAGE', 'INSTANCE', 'REASON'],
        page.items.map((d) => [
          d.queue,
          d.messageId,
          d.instanceId ?? `(unreadable, ${d.unreadable?.location ?? '?'})`,
          short(d.reason, 70),
        ]),
      ),
    );
  },

  async kick(ctx, args, flags) {
    const all = flags.all === true;
    if (args.length === 0 && !all) {
      throw new CliError(
        'Name the dead letters to redrive, or pass --all (durable kick <messageId ...> | --all).',
        'USAGE',
      );
    }
    if (args.length > 0 && all) throw new CliError('Give message ids or --all, not both.', 'USAGE');
    const queue = flag(flags, 'queue');
    const body = { ...(queue !== undefined ? { queue } : {}), ...(all ? {} : { messageIds: [...args] }) };
    const result = await ctx.api.request<Redriven>('POST', '/api/dead-letters/redrive', body);
    if (ctx.json) return ctx.out(JSON.stringify(result, null, 2));
    const rows = result.redriven.flatMap((r) => r.messageIds.map((id) => [r.queue, id]));
    const lines = [`redriven ${rows.length} dead letter${rows.length === 1 ? '' : 's'}`];
    if (rows.length > 0) lines.push(table(['QUEUE', 'MESSAGE'], rows));
    const found = new Set(rows.map(([, id]) => id));
    const missing = args.filter((id) => !found.has(id));
    if (missing.length > 0) lines.push(`not dead letters${queue ? ` in ${queue}` : ''}: ${missing.join(', ')}`);
    ctx.out(lines.join('\n'));
  },

  async discard(ctx, args, flags) {
    const all = flags.all === true;
    if (args.length === 0 && !all) {
      throw new CliError(
        'Name the dead letters to delete, or pass --all (durable discard <messageId ...> | --all).',
        'USAGE',
      );
    }
    if (args.length > 0 && all) throw new CliError('Give message ids or --all, not both.', 'USAGE');
    const queue = flag(flags, 'queue');
    const body = { ...(queue !== undefined ? { queue } : {}), ...(all ? { all: true } : { messageIds: [...args] }) };
    const result = await ctx.api.request<{ deleted: Redriven['redriven'] }>('POST', '/api/dead-letters/delete', body);
    if (ctx.json) return ctx.out(JSON.stringify(result, null, 2));
    const rows = result.deleted.flatMap((r) => r.messageIds.map((id) => [r.queue, id]));
    const lines = [`deleted ${rows.length} dead letter${rows.length === 1 ? '' : 's'}`];
    if (rows.length > 0) lines.push(table(['QUEUE', 'MESSAGE'], rows));
    const found = new Set(rows.map(([, id]) => id));
    const missing = args.filter((id) => !found.has(id));
    if (missing.length > 0) lines.push(`not dead letters${queue ? ` in ${queue}` : ''}: ${missing.join(', ')}`);
    ctx.out(lines.join('\n'));
  },

  async signal(ctx, args, flags) {
    const entity = need(args, 0, 'entity id name@key (durable signal <name@key> <operation> [input-json])');
    const at = entity.indexOf('@');
    if (at <= 0) throw new CliError(`An entity id looks like name@key (got ${entity}).`, 'USAGE');
    const operation = need(args, 1, 'operation');
    const input = parseJson(args[2], 'input');
    const when = flag(flags, 'at');
    const body = { ...(input !== undefined ? { input } : {}), ...(when ? { at: when } : {}) };
    await ctx.api.request(
      'POST',
      `/api/entities/${seg(entity.slice(0, at))}/${seg(entity.slice(at + 1))}/${seg(operation)}`,
      body,
    );
    ctx.out(ctx.json ? JSON.stringify({ signalled: entity, operation }) : `signalled ${entity} ${operation}`);
  },

  async entity(ctx, args, flags) {
    const sub = need(args, 0, 'subcommand: durable entity get <name@key> | durable entity list [--name N]');
    if (sub === 'list') {
      const query = new URLSearchParams();
      for (const key of ['name', 'limit', 'cursor']) {
        const value = flag(flags, key);
        if (value !== undefined) query.set(key, value);
      }
      const page = await ctx.api.request<{ items: Array<{ entityId: string; state: unknown; lastModified: string }> }>(
        'GET',
        `/api/entities?${query.toString()}`,
      );
      const items = [...page.items].sort((a, b) => (a.entityId < b.entityId ? -1 : a.entityId > b.entityId ? 1 : 0));
      if (ctx.json) return ctx.out(JSON.stringify({ ...page, items }, null, 2));
      if (items.length === 0) return ctx.out('no entities');
      return ctx.out(
        table(
          ['ENTITY', 'STATE', 'MODIFIED'],
          items.map((e) => [e.entityId, short(e.state), time(e.lastModified)]),
        ),
      );
    }
    if (sub !== 'get') throw new CliError(`Unknown entity subcommand '${sub}' (get, list).`, 'USAGE');
    const id = need(args, 1, 'entity id name@key');
    const at = id.indexOf('@');
    if (at <= 0) throw new CliError(`An entity id looks like name@key (got ${id}).`, 'USAGE');
    const e = await ctx.api.request<{ state: unknown; lastModified: string; lastFailure?: LastFailure }>(
      'GET',
      `/api/entities/${seg(id.slice(0, at))}/${seg(id.slice(at + 1))}`,
    );
    if (ctx.json) return ctx.out(JSON.stringify(e, null, 2));
    const failure = e.lastFailure;
    ctx.out(
      `${id}  ${short(e.state, 100)}  (modified ${time(e.lastModified)})` +
        (failure === undefined
          ? ''
          : `\n  last failure: ${failure.operation} (${failure.signal ? 'signal' : 'call'} from ${failure.from}, ` +
            `${time(failure.at)}): ${failure.error.name}: ${failure.error.message}`),
    );
  },
};

/** An entity's last failed operation, as `GET /api/entities/:name/:key` reports it. */
interface LastFailure {
  readonly operation: string;
  readonly error: { readonly name: string; readonly message: string };
  readonly at: string;
  readonly from: string;
  readonly signal: boolean;
}

function control(action: 'terminate' | 'suspend' | 'resume'): Command {
  return async (ctx, args) => {
    const id = need(args, 0, `instance id (durable ${action} <id> [reason])`);
    const reason = args[1];
    await ctx.api.request('POST', `/api/instances/${seg(id)}/${action}`, reason !== undefined ? { reason } : {});
    ctx.out(ctx.json ? JSON.stringify({ [action]: id }) : `${action} requested for ${id}`);
  };
}
