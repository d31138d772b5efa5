/**
 * A small pool of connections to RethinkDB on the official driver (`rethinkdb` 2.4.x), shared by the store and the
 * lock. The driver is imported lazily here, so a process that never opens RethinkDB never loads it.
 *
 * Invariants the adapters rely on:
 * - **Every query ends.** Each one races a timer (`timeoutMs`); a query that loses is rejected with a
 *   {@link RethinkdbError}, and its connection is closed, because a connection to a stalled server (SIGSTOP, a
 *   partition: the socket stays open) would otherwise hold every later query too. Whether the server applied a
 *   timed-out write is unknown: the adapters' writes are idempotent or decided by a version, so a retry is safe.
 * - **Nothing throws synchronously** and no driver event escapes: building a query happens inside the promise, and
 *   each connection has an `error` listener (the driver emits socket errors as events, which would otherwise kill
 *   the process).
 * - **Reconnection with back-off.** A lost connection is dropped; the next query on its slot connects again, no
 *   sooner than the slot's back-off (25 ms doubling to 2 s) allows, within its own deadline.
 * - Every failure reaches the caller as a {@link RethinkdbError} (driver, network, server and timeout errors alike,
 *   the original as `cause`): the runtime treats it as a backend failure and backs off.
 */
import type { Connection } from 'rethinkdb';

/** The driver's query language object (`r`). Typed loosely: the published typings lag the 2.4 driver. */
export type Reql = any;

/** A backend failure on RethinkDB: the query may or may not have been applied. */
export class RethinkdbError extends Error {
  readonly code = 'RETHINKDB';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RethinkdbError';
  }
}

export interface RethinkdbConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** The database every table of Durable lives in. */
  readonly db: string;
  readonly user?: string;
  readonly password?: string;
  /** PEM of the CA that signed the server's certificate: connects over TLS when given. */
  readonly tlsCa?: string;
  /** Every query (and every connection attempt) ends within this. Default 10 s. */
  readonly timeoutMs?: number;
  /** Connections opened in parallel (the driver multiplexes queries on each). Default 2. */
  readonly poolSize?: number;
}

/** Options of one run: RethinkDB's `run` optargs (`readMode`, `durability`, …). */
export type RunOptions = Record<string, unknown> & { readonly cursor?: symbol };

interface Slot {
  connection: Connection | undefined;
  connecting: Promise<Connection> | undefined;
  backoffMs: number;
  /** Epoch ms before which no new connection attempt is made. */
  notBefore: number;
}

/** A run option (not sent to the server) asking `run` for the cursor itself rather than its rows: a feed never ends. */
const FEED = Symbol('feed');

interface FeedCursor<T> {
  next(): Promise<T>;
  close(): Promise<void>;
}

const MIN_BACKOFF_MS = 25;
const MAX_BACKOFF_MS = 2000;

/**
 * Connections to one RethinkDB database.
 * @example
 * const pool = await RethinkdbPool.open({ host: '127.0.0.1', port: 28015, db: 'durable' });
 * const doc = await pool.run((r, db) => db.table('records').get('id'), { readMode: 'majority' });
 * await pool.close();
 */
export class RethinkdbPool {
  readonly timeoutMs: number;
  private readonly slots: Slot[];
  private next = 0;
  private closed = false;

  private constructor(
    /** The driver's `r`. */
    readonly r: Reql,
    private readonly options: RethinkdbConnectionOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.slots = Array.from({ length: Math.max(1, options.poolSize ?? 2) }, () => ({
      connection: undefined,
      connecting: undefined,
      backoffMs: MIN_BACKOFF_MS,
      notBefore: 0,
    }));
  }

  /** Loads the driver (once per process) and makes a pool; connections open on first use. */
  static async open(options: RethinkdbConnectionOptions): Promise<RethinkdbPool> {
    const driver = (await import('rethinkdb')) as { default?: Reql };
    return new RethinkdbPool(driver.default ?? driver, options);
  }

  get db(): string {
    return this.options.db;
  }

  /**
   * Builds a query from `r` and the database term, runs it on the next connection, and resolves with its result
   * (a cursor's rows are collected into an array). Rejects with a {@link RethinkdbError}, never later than
   * `timeoutMs` (the pool's, unless given) after the call.
   */
  async run<T>(
    build: (r: Reql, db: Reql) => Reql,
    runOptions: RunOptions = {},
    timeoutMs: number = this.timeoutMs,
  ): Promise<T> {
    if (this.closed) throw new RethinkdbError('The RethinkDB pool is closed.');
    const slot = this.slots[this.next++ % this.slots.length] as Slot;
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let connection: Connection | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A connection whose query did not answer in time may be stuck behind a stalled server: drop it.
        if (connection !== undefined) this.drop(slot, connection);
        reject(new RethinkdbError(`RethinkDB did not answer within ${timeoutMs} ms.`));
      }, timeoutMs);
    });
    const attempt = async (): Promise<T> => {
      connection = await this.connection(slot, deadline);
      const query = build(this.r, this.r.db(this.options.db));
      const { cursor: keepCursor, ...optargs } = runOptions;
      const result = await query.run(connection, { ...optargs, timeFormat: 'raw', binaryFormat: 'raw' });
      if (keepCursor === FEED) return result as T;
      if (result !== null && typeof result === 'object' && typeof result.toArray === 'function') {
        return (await result.toArray()) as T;
      }
      return result as T;
    };
    try {
      return await Promise.race([attempt(), timedOut]);
    } catch (error) {
      if (error instanceof RethinkdbError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      // A driver error means the connection is unusable (closed, reset); a server error leaves it fine.
      if (connection !== undefined && isDriverError(error)) this.drop(slot, connection);
      throw new RethinkdbError(`RethinkDB query failed: ${message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs a changefeed (`build` ends in `.changes(...)`) and resolves with the first change `accept` takes, or with
   * `undefined` once `waitMs` has passed or `signal` aborted. The feed is always closed before it resolves. Opening
   * the feed is bounded by the query timeout; a feed lost on the way (a failover, a restart) rejects with a
   * {@link RethinkdbError}, and the caller reads again and waits on a new one.
   */
  async waitForChange<T>(
    build: (r: Reql, db: Reql) => Reql,
    accept: (change: T) => boolean,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    const cursor = await this.run<FeedCursor<T>>(build, { cursor: FEED });
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const ended = new Promise<undefined>((resolve) => {
      onAbort = () => resolve(undefined);
      timer = setTimeout(onAbort, Math.max(0, waitMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
    });
    try {
      for (;;) {
        const next = cursor.next();
        const change = await Promise.race([next, ended]);
        if (change === undefined) {
          next.catch(() => undefined); // rejects once the cursor closes below
          return undefined;
        }
        if (accept(change)) return change;
      }
    } catch (error) {
      if (error instanceof RethinkdbError) throw error;
      throw new RethinkdbError(
        `A RethinkDB changefeed failed: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
        },
      );
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      cursor.close().catch(() => undefined);
    }
  }

  /** Closes every connection; queries in flight reject, later ones reject at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        const connection = slot.connection ?? (await slot.connecting?.catch(() => undefined));
        slot.connection = undefined;
        await connection?.close({ noreplyWait: false }).catch(() => undefined);
      }),
    );
  }

  private connection(slot: Slot, deadline: number): Promise<Connection> {
    if (slot.connection !== undefined && slot.connection.open) return Promise.resolve(slot.connection);
    slot.connection = undefined;
    slot.connecting ??= this.connect(slot, deadline).finally(() => {
      slot.connecting = undefined;
    });
    return slot.connecting;
  }

  private async connect(slot: Slot, deadline: number): Promise<Connection> {
    for (;;) {
      const wait = slot.notBefore - Date.now();
      if (wait > 0) {
        if (Date.now() + wait >= deadline) throw new RethinkdbError('No RethinkDB connection (backing off).');
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      if (this.closed) throw new RethinkdbError('The RethinkDB pool is closed.');
      try {
        const connection = await this.r.connect({
          host: this.options.host,
          port: this.options.port,
          ...(this.options.user !== undefined ? { user: this.options.user } : {}),
          ...(this.options.password !== undefined ? { password: this.options.password } : {}),
          ...(this.options.tlsCa !== undefined ? { ssl: { ca: this.options.tlsCa } } : {}),
          // The driver's connect timeout is in whole seconds.
          timeout: Math.max(1, Math.ceil((deadline - Date.now()) / 1000)),
        });
        (connection as Connection).on('error', () => this.drop(slot, connection as Connection));
        (connection as Connection).on('close', () => this.drop(slot, connection as Connection));
        if (this.closed) {
          await (connection as Connection).close({ noreplyWait: false }).catch(() => undefined);
          throw new RethinkdbError('The RethinkDB pool is closed.');
        }
        slot.connection = connection as Connection;
        slot.backoffMs = MIN_BACKOFF_MS;
        slot.notBefore = 0;
        return connection as Connection;
      } catch (error) {
        slot.notBefore = Date.now() + slot.backoffMs;
        slot.backoffMs = Math.min(slot.backoffMs * 2, MAX_BACKOFF_MS);
        if (error instanceof RethinkdbError || Date.now() + slot.backoffMs >= deadline) throw error;
      }
    }
  }

  /** Forgets a connection that failed, and closes it without waiting for anything it still owes. */
  private drop(slot: Slot, connection: Connection): void {
    if (slot.connection === connection) slot.connection = undefined;
    connection.close({ noreplyWait: false }).catch(() => undefined);
  }
}

function isDriverError(error: unknown): boolean {
  const name = error instanceof Error ? error.name : '';
  return name === 'ReqlDriverError' || name === 'ReqlTimeoutError' || !name.startsWith('Reql');
}
