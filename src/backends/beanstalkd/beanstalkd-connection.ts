/**
 * A minimal beanstalkd protocol client over `node:net`: one TCP connection, commands pipelined in order,
 * replies matched to commands first-in first-out (beanstalkd answers every command on a connection in order).
 *
 * Reconnection: when the socket closes without `close()` having been called, commands in flight are rejected
 * with {@link BeanstalkdConnectionError} (the server may or may not have applied them: callers treat them as
 * at-least-once), the connection reconnects with back-off, replays its `setup` commands (`use`, `watch`,
 * `ignore`: per-connection server state that a new connection does not have), and bumps `epoch`. Commands issued
 * while disconnected wait for the reconnection, up to `reconnectTimeoutMs`, then reject.
 *
 * Why hand-written rather than `fivebeans`: see the adapter's notes (beanstalkd-queue.ts); in short, fivebeans
 * is callback-only, unmaintained, does not reconnect, and pulls a worker daemon's dependencies.
 */
import { Socket } from 'node:net';

/** The connection was lost, or could not be (re-)established in time. */
export class BeanstalkdConnectionError extends Error {
  readonly code = 'BEANSTALKD_CONNECTION';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BeanstalkdConnectionError';
  }
}

/** A reply: its first line split on spaces, and the data block for replies that carry one. */
export interface Reply {
  readonly words: readonly string[];
  readonly body?: Buffer;
}

/** Replies whose last word is the length of a data block that follows (RESERVED, FOUND, OK). */
const WITH_BODY = new Set(['RESERVED', 'FOUND', 'OK']);
const CRLF = Buffer.from('\r\n');

interface Pending {
  readonly bytes: Buffer;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

export interface BeanstalkdConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** Sent after every (re)connection, before anything else; their replies are checked, not returned. */
  readonly setup?: readonly string[] | (() => readonly string[]);
  /** How long commands wait for a lost connection to come back before they reject. Default 10 s. */
  readonly reconnectTimeoutMs?: number;
}

/**
 * One beanstalkd connection with pipelining and reconnection.
 * @example
 * const conn = new BeanstalkdConnection({ host: '127.0.0.1', port: 11300, setup: ['use jobs'] });
 * const reply = await conn.command('put 100 0 30 5', Buffer.from('hello'));
 * // reply.words: ['INSERTED', '1']
 * conn.close();
 */
export class BeanstalkdConnection {
  /** Bumped on every successful (re)connection: reservations belong to one epoch (beanstalkd frees them on close). */
  epoch = 0;
  private socket: Socket | undefined;
  private connected = false;
  private closed = false;
  private buffer: Buffer = Buffer.alloc(0);
  /** Written, awaiting a reply, in order. */
  private readonly inFlight: Pending[] = [];
  /** Issued while disconnected, to write once connected. */
  private readonly waiting: { pending: Pending; timer: NodeJS.Timeout }[] = [];
  private backoffMs = 25;
  /** Writes are being gathered until the next tick (see `write`). */
  private corked = false;
  private connecting: Promise<void> | undefined;

  constructor(private readonly options: BeanstalkdConnectionOptions) {}

  /** Sends one command (with its data block, for `put`) and resolves with the reply. */
  command(line: string, data?: Buffer): Promise<Reply> {
    if (this.closed) return Promise.reject(new BeanstalkdConnectionError('The beanstalkd connection is closed.'));
    const bytes =
      data === undefined ? Buffer.from(`${line}\r\n`) : Buffer.concat([Buffer.from(`${line}\r\n`), data, CRLF]);
    return new Promise<Reply>((resolve, reject) => {
      const pending = { bytes, resolve, reject };
      if (this.connected && this.socket !== undefined) {
        this.inFlight.push(pending);
        this.write(this.socket, bytes);
        return;
      }
      const timer = setTimeout(() => {
        const index = this.waiting.findIndex((w) => w.pending === pending);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new BeanstalkdConnectionError(`No beanstalkd connection to ${this.address()} in time.`));
      }, this.options.reconnectTimeoutMs ?? 10_000);
      this.waiting.push({ pending, timer });
      this.ensureConnecting();
    });
  }

  /**
   * Writes a command. The commands issued in one tick (a batch's puts, deletes or reserves) leave in one segment:
   * the socket is corked at the first and uncorked on the next tick, one syscall instead of one per command.
   */
  private write(socket: Socket, bytes: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    socket.write(bytes);
  }

  /** Closes for good: pending commands reject; beanstalkd releases the reservations of this connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.destroy();
    this.fail(new BeanstalkdConnectionError('The beanstalkd connection was closed.'));
    for (const { pending, timer } of this.waiting.splice(0)) {
      clearTimeout(timer);
      pending.reject(new BeanstalkdConnectionError('The beanstalkd connection was closed.'));
    }
  }

  private address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  private ensureConnecting(): void {
    if (this.connecting !== undefined || this.closed) return;
    this.connecting = this.connectLoop().finally(() => {
      this.connecting = undefined;
    });
  }

  private async connectLoop(): Promise<void> {
    while (!this.closed && !this.connected) {
      try {
        await this.open();
        this.backoffMs = 25;
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, this.backoffMs));
        this.backoffMs = Math.min(this.backoffMs * 2, 1000);
      }
    }
  }

  /** Connects, replays the setup commands, then flushes the commands that waited. */
  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = new Socket();
      socket.setNoDelay(true);
      let settled = false;
      socket.once('error', (error) => {
        if (!settled) {
          settled = true;
          reject(error);
        }
      });
      socket.connect(this.options.port, this.options.host, () => {
        if (this.closed) {
          socket.destroy();
          settled = true;
          resolve();
          return;
        }
        this.socket = socket;
        this.buffer = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => this.onData(chunk));
        socket.on('error', () => undefined); // 'close' follows and handles it
        socket.on('close', () => this.onClose(socket));
        this.connected = true;
        this.epoch += 1;
        // Setup goes first so that every later command runs on a connection using/watching the right tubes.
        const lines = typeof this.options.setup === 'function' ? this.options.setup() : (this.options.setup ?? []);
        const setup = lines.map((line) => this.command(line));
        for (const { pending, timer } of this.waiting.splice(0)) {
          clearTimeout(timer);
          this.inFlight.push(pending);
          socket.write(pending.bytes);
        }
        settled = true;
        Promise.all(setup).then(
          () => resolve(),
          () => resolve(), // a lost connection during setup is handled by 'close'
        );
      });
    });
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    this.connected = false;
    this.socket = undefined;
    this.fail(new BeanstalkdConnectionError(`Lost the beanstalkd connection to ${this.address()}.`));
    // Reconnect only when someone needs the connection: the next command starts it.
    if (this.waiting.length > 0) this.ensureConnecting();
  }

  private fail(error: Error): void {
    for (const pending of this.inFlight.splice(0)) pending.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf(CRLF);
      if (end < 0) return;
      const words = this.buffer.subarray(0, end).toString('latin1').split(' ');
      let consumed = end + 2;
      let body: Buffer | undefined;
      if (WITH_BODY.has(words[0] ?? '')) {
        const length = Number(words[words.length - 1]);
        if (this.buffer.length < consumed + length + 2) return; // the data block has not all arrived yet
        body = Buffer.from(this.buffer.subarray(consumed, consumed + length));
        consumed += length + 2;
      }
      this.buffer = this.buffer.subarray(consumed);
      const pending = this.inFlight.shift();
      pending?.resolve(body === undefined ? { words } : { words, body });
    }
  }
}
