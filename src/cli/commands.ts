/**
 * The CLI's subcommands that talk to a running Durable over its HTTP API.
 */
import type { ApiClient } from './api-client.js';
import { CliError } from '../host/cli-error.js';
import { seg } from './api-client.js';
import { short, table, time } from './format.js';

export interface CommandContext {
  readonly api: ApiClient;
  readonly json: boolean;
  readonly out: (text: string) => void;
  /** Live progress on a terminal (the spinner of `status --wait`); a no-op when output is not a TTY. */
  readonly progress: (text: string) => void;
}

export type Command = (ctx: CommandContext, args: readonly string[], flags: Flags) => Promise<void>;
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

function showStatus(ctx: CommandContext, s: Status): void {
  if (ctx.json) return ctx.out(JSON.stringify(s, null, 2));
  const rows: Array<[string, string]> = [
    ['instance', s.instanceId],
    ['name', s.name],
    ['status', s.status],
    ['generation', String(s.generation)],
    ['created', time(s.createdAt)],
    ['updated', time(s.lastUpdatedAt)],
  ];
  if (s.input !== undefined) rows.push(['input', short(s.input, 100)]);
  if (s.output !== undefined) rows.push(['output', short(s.output, 100)]);
  if (s.customStatus !== undefined) rows.push(['custom status', short(s.customStatus, 100)]);
  if (s.error) rows.push(['error', `${s.error.name}: ${s.error.message}`]);
  if (s.stuck) rows.push(['stuck', s.stuck.message]);
  ctx.out(rows.map(([k, v]) => `${k.padEnd(14)}${v}`).join('\n'));
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
      return showStatus(ctx, await ctx.api.request<Status>('GET', `/api/instances/${seg(id)}`));
    }
    const limitMs = typeof flags.wait === 'string' ? Number(flags.wait) : Infinity;
    if (Number.isNaN(limitMs) || limitMs < 0) throw new CliError('--wait takes a number of milliseconds.', 'USAGE');
    const deadline = Date.now() + limitMs;
    let frame = 0;
    for (;;) {
      const left = Math.max(0, Math.min(2000, deadline - Date.now()));
      const s = await ctx.api.request<Status>('GET', `/api/instances/${seg(id)}?wait=${Math.round(left)}`);
      if (TERMINAL.has(s.status) || Date.now() >= deadline) {
        ctx.progress('');
        return showStatus(ctx, s);
      }
      const custom = s.customStatus === undefined ? '' : ` ${short(s.customStatus, 50)}`;
      ctx.progress(`${SPINNER[frame++ % SPINNER.length]} ${s.instanceId} ${s.status}${custom}`);
    }
  },

  async list(ctx, _args, flags) {
    const query = new URLSearchParams();
    for (const key of ['status', 'name', 'limit', 'cursor', 'createdFrom', 'createdTo']) {
      const value = flag(flags, key);
      if (value !== undefined) query.set(key, value);
    }
    const page = await ctx.api.request<{ items: Status[]; nextCursor?: string }>(
      'GET',
      `/api/instances?${query.toString()}`,
    );
    if (ctx.json) return ctx.out(JSON.stringify(page, null, 2));
    ctx.out(
      table(
        ['INSTANCE', 'NAME', 'STATUS', 'CREATED', 'OUTPUT'],
        page.items.map((s) => [
          s.instanceId,
          s.name,
          s.status,
          time(s.createdAt),
          short(s.output ?? s.error?.message, 40),
        ]),
      ),
    );
    if (page.nextCursor) ctx.out(`\nmore: --cursor ${page.nextCursor}`);
  },

  async history(ctx, args) {
    const id = need(args, 0, 'instance id (durable history <id>)');
    const h = await ctx.api.request<{ events: Array<Record<string, unknown>> }>(
      'GET',
      `/api/instances/${seg(id)}/history`,
    );
    if (ctx.json) return ctx.out(JSON.stringify(h, null, 2));
    ctx.out(
      table(
        ['#', 'EVENT', 'SEQ', 'DETAIL'],
        h.events.map((e, i) => {
          const { type, at: _at, seq, ...rest } = e;
          return [String(i), String(type), typeof seq === 'number' ? String(seq) : '', short(rest, 70)];
        }),
      ),
    );
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
      if (ctx.json) return ctx.out(JSON.stringify(page, null, 2));
      return ctx.out(
        table(
          ['ENTITY', 'STATE', 'MODIFIED'],
          page.items.map((e) => [e.entityId, short(e.state), time(e.lastModified)]),
        ),
      );
    }
    if (sub !== 'get') throw new CliError(`Unknown entity subcommand '${sub}' (get, list).`, 'USAGE');
    const id = need(args, 1, 'entity id name@key');
    const at = id.indexOf('@');
    if (at <= 0) throw new CliError(`An entity id looks like name@key (got ${id}).`, 'USAGE');
    const e = await ctx.api.request<{ state: unknown; lastModified: string }>(
      'GET',
      `/api/entities/${seg(id.slice(0, at))}/${seg(id.slice(at + 1))}`,
    );
    ctx.out(
      ctx.json ? JSON.stringify(e, null, 2) : `${id}  ${short(e.state, 100)}  (modified ${time(e.lastModified)})`,
    );
  },
};

function control(action: 'terminate' | 'suspend' | 'resume'): Command {
  return async (ctx, args) => {
    const id = need(args, 0, `instance id (durable ${action} <id> [reason])`);
    const reason = args[1];
    await ctx.api.request('POST', `/api/instances/${seg(id)}/${action}`, reason !== undefined ? { reason } : {});
    ctx.out(ctx.json ? JSON.stringify({ [action]: id }) : `${action} requested for ${id}`);
  };
}
