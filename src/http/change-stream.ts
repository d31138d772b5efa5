/**
 * Live updates for the dashboard: `GET /api/stream`, Server-Sent Events saying "something changed, fetch again".
 *
 * One {@link ChangeWatcher} per API instance reads a cheap change token (`DurableClient.changeToken`: the store's
 * token and the dead-letter counts) at most once per `pollMs`, only while at least one stream is open: started by
 * the first subscriber, stopped with the last. However many browsers are connected, the backend sees one read per
 * second. A token that differs from the last one read becomes one `event: change` on every open stream, coalesced to
 * at most one per `coalesceMs`. The events carry no data but the time: each client refetches what it shows.
 *
 * A stream's response headers are sent once the watcher has its baseline token, so a client that opens the stream
 * and then fetches misses no change made after its fetch. Streams are bounded (`maxStreams`; the next request gets
 * 503 `TOO_MANY_STREAMS`), carry a `: keep-alive` comment every `keepAliveMs` so that proxies keep them open, and
 * all end when the server closes.
 */
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DurableClient } from '../client/client.js';
import type { Problem } from './errors.js';
import { statusFor } from './errors.js';
import type { ApiRoute, RouteContext } from './route.js';

export interface ChangeStreamOptions {
  /** How often the shared watcher reads the change token, in ms (default 1000). */
  readonly pollMs?: number;
  /** At most one `change` event per this many ms (default 500). */
  readonly coalesceMs?: number;
  /** A `: keep-alive` comment line this often, in ms (default 15000). */
  readonly keepAliveMs?: number;
  /** Streams open at once (default 32); one more gets 503 `TOO_MANY_STREAMS`. */
  readonly maxStreams?: number;
}

/** Token of a watcher whose last read failed: any token read later counts as a change (something may have). */
const UNKNOWN = Symbol('unknown');

/**
 * Reads a change token while anyone listens and tells listeners when it moves.
 * @example
 * const watcher = new ChangeWatcher(() => client.changeToken(), { pollMs: 1000, coalesceMs: 500 });
 * const { ready, unsubscribe } = watcher.subscribe((at) => console.log('changed at', at));
 * await ready; // the baseline is read: later changes are reported
 */
export class ChangeWatcher {
  private readonly listeners = new Set<(at: Date) => void>();
  private last: string | undefined | typeof UNKNOWN;
  private timer: NodeJS.Timeout | undefined;
  private pendingEmit: NodeJS.Timeout | undefined;
  private lastEmit = 0;
  /** Bumped by every start and stop, so a read that was in flight when the watcher stopped is dropped. */
  private run = 0;
  private baseline: Promise<void> = Promise.resolve();

  constructor(
    private readonly read: () => Promise<string | undefined>,
    private readonly options: { readonly pollMs: number; readonly coalesceMs: number },
  ) {}

  /** Listeners now (and so whether the watcher runs). */
  get listening(): number {
    return this.listeners.size;
  }

  /** Adds a listener; `ready` resolves once the watcher has a token to compare later ones with. */
  subscribe(listener: (at: Date) => void): { ready: Promise<void>; unsubscribe: () => void } {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    let subscribed = true;
    return {
      ready: this.baseline,
      unsubscribe: () => {
        if (!subscribed) return;
        subscribed = false;
        this.listeners.delete(listener);
        if (this.listeners.size === 0) this.stop();
      },
    };
  }

  private start(): void {
    this.run += 1;
    this.last = undefined;
    this.baseline = this.tick(this.run);
  }

  private stop(): void {
    this.run += 1;
    clearTimeout(this.timer);
    clearTimeout(this.pendingEmit);
    this.timer = undefined;
    this.pendingEmit = undefined;
  }

  private async tick(run: number): Promise<void> {
    let token: string | undefined | typeof UNKNOWN;
    try {
      token = await this.read();
    } catch {
      token = UNKNOWN; // a backend failure: no event now, and the next token read counts as a change
    }
    if (run !== this.run) return;
    if (this.last !== undefined && token !== UNKNOWN && token !== this.last) this.emit();
    if (token !== UNKNOWN || this.last !== undefined) this.last = token;
    this.timer = setTimeout(() => void this.tick(run), this.options.pollMs);
  }

  private emit(): void {
    if (this.pendingEmit !== undefined) return; // one is already due: it covers this change too
    const wait = this.lastEmit + this.options.coalesceMs - Date.now();
    if (wait <= 0) return this.fire();
    this.pendingEmit = setTimeout(() => {
      this.pendingEmit = undefined;
      this.fire();
    }, wait);
  }

  private fire(): void {
    this.lastEmit = Date.now();
    const at = new Date(this.lastEmit);
    for (const listener of [...this.listeners]) listener(at);
  }
}

/**
 * The open streams of one API instance and their shared watcher.
 * @example
 * const streams = new ChangeStreams(client, { maxStreams: 32 });
 * app.addHook('preClose', (done) => { streams.closeAll(); done(); });
 */
export class ChangeStreams {
  readonly watcher: ChangeWatcher;
  private readonly open = new Set<() => void>();
  private readonly keepAliveMs: number;
  private readonly maxStreams: number;

  constructor(
    private readonly client: DurableClient,
    options: ChangeStreamOptions = {},
  ) {
    this.watcher = new ChangeWatcher(() => client.changeToken(), {
      pollMs: options.pollMs ?? 1000,
      coalesceMs: options.coalesceMs ?? 500,
    });
    this.keepAliveMs = options.keepAliveMs ?? 15_000;
    this.maxStreams = options.maxStreams ?? 32;
  }

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  /** Ends every open stream (the server is closing: it must not wait for browsers that never hang up). */
  closeAll(): void {
    for (const end of [...this.open]) end();
  }

  /** Serves one stream: refused when full, `unsupported` when the store cannot tell changes. */
  async serve(reply: FastifyReply): Promise<unknown> {
    if (!this.client.canWatchChanges) {
      return eventStream(reply).send(
        'event: unsupported\ndata: {"reason":"This store cannot report changes cheaply; refresh on a timer."}\n\n',
      );
    }
    if (this.open.size >= this.maxStreams) {
      // Sent here rather than thrown: the error handler hides every 5xx as INTERNAL, and this one is the caller's
      // to act on (retry later, or fall back to a timer).
      const problem: Problem = {
        code: 'TOO_MANY_STREAMS',
        message: `At most ${this.maxStreams} change streams may be open at once; try again later.`,
        details: { maxStreams: this.maxStreams },
      };
      return reply
        .code(statusFor(problem.code))
        .header('retry-after', '5')
        .type('application/problem+json; charset=utf-8')
        .send(JSON.stringify(problem));
    }
    const body = new PassThrough();
    const timers: { keepAlive?: NodeJS.Timeout } = {};
    const { ready, unsubscribe } = this.watcher.subscribe((at) => {
      body.write(`event: change\ndata: ${JSON.stringify({ at: at.toISOString() })}\n\n`);
    });
    const end = (): void => {
      if (!this.open.delete(end)) return;
      unsubscribe();
      clearInterval(timers.keepAlive);
      body.end();
    };
    this.open.add(end);
    const socket = reply.raw.socket;
    reply.raw.on('close', () => {
      // The browser went away. It may have only half-closed the connection, which Node then keeps open for a
      // response that will never be read: close it, or the server's close() would wait for it for ever.
      end();
      socket?.destroy();
    });
    await ready;
    // Not if it was closed while the baseline was read (the body has ended).
    if (this.open.has(end)) timers.keepAlive = setInterval(() => body.write(': keep-alive\n\n'), this.keepAliveMs);
    body.write(': open\n\n'); // flushes the headers: from here on, every change is reported
    return eventStream(reply).send(body);
  }
}

function eventStream(reply: FastifyReply): FastifyReply {
  return reply
    .code(200)
    .header('cache-control', 'no-store')
    .header('x-accel-buffering', 'no')
    .type('text/event-stream; charset=utf-8');
}

function stream(request: FastifyRequest, reply: FastifyReply, context: RouteContext): Promise<unknown> {
  // HEAD (which Fastify derives from GET) gets the headers only: no body would ever be read, no slot is taken.
  if (request.method === 'HEAD') return Promise.resolve(eventStream(reply).send(''));
  if (context.streams === undefined) {
    return Promise.resolve(
      eventStream(reply).send('event: unsupported\ndata: {"reason":"No change streams here."}\n\n'),
    );
  }
  return context.streams.serve(reply);
}

/** The stream route. */
export const streamRoutes: readonly ApiRoute[] = [
  {
    method: 'GET',
    url: '/api/stream',
    operationId: 'streamChanges',
    summary:
      'Server-Sent Events: `event: change` (data `{"at": ISO time}`, at most one per 500 ms) whenever an instance, ' +
      'an entity or the dead letters change; `: keep-alive` every 15 s; `event: unsupported` (then the end) when ' +
      'the store cannot tell changes.',
    access: 'read',
    schema: {},
    responses: {
      200: '`text/event-stream`.',
      503: 'Problem details: too many streams are open (TOO_MANY_STREAMS).',
    },
    handler: stream,
  },
];
