/**
 * Talking to `/api/*`: the bearer token (kept in sessionStorage: never in a URL, never a cookie), JSON requests,
 * problem details as errors, and the live-update stream read with fetch() (EventSource cannot send the token).
 */
import type { Problem, Scope, WhoAmI } from './types.js';

const TOKEN_KEY = 'durable.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

type Listener = () => void;

/** The little state every view shares: the token, who we are, whether to sign in, and a tick per change. */
class Session {
  token: string | undefined = readToken();
  who: WhoAmI | undefined;
  needsLogin = false;
  /** Bumped on every change the stream reports (and after each action): views refetch when it moves. */
  tick = 0;
  private readonly listeners = new Set<Listener>();

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(): void {
    for (const listener of this.listeners) listener();
  }

  changed(): void {
    this.tick++;
    this.emit();
  }

  signIn(token: string): void {
    this.token = token;
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
    } catch {
      // Storage refused (private mode): the token lives in memory for this page.
    }
    this.needsLogin = false;
    this.who = undefined;
    this.emit();
  }

  signOut(): void {
    this.token = undefined;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // nothing stored
    }
    this.who = undefined;
    this.needsLogin = true;
    this.emit();
  }

  can(scope: Scope): boolean {
    return this.who?.scopes.includes(scope) ?? false;
  }
}

function readToken(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export const session = new Session();

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json', ...extra };
  if (session.token) h.authorization = `Bearer ${session.token}`;
  return h;
}

/** GETs a JSON resource; a 401 asks for a token. */
export async function get<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: headers(), cache: 'no-store' });
  return read<T>(response);
}

/**
 * Sends a mutation with `Content-Type: application/json` and a JSON body (`{}` when there is nothing to say): the
 * server refuses mutations without it, which is what keeps other sites' forms out. DELETE has no body and sends
 * `X-Durable-Request: 1` instead.
 */
export async function send<T>(method: 'POST' | 'DELETE', path: string, body: unknown = {}): Promise<T> {
  const withBody = method !== 'DELETE';
  const response = await fetch(path, {
    method,
    // `X-Durable-Request` marks a body-less mutation as the dashboard's (a cross-site form cannot set it).
    headers: headers(withBody ? { 'content-type': 'application/json' } : { 'x-durable-request': '1' }),
    body: withBody ? JSON.stringify(body) : undefined,
  });
  const result = await read<T>(response);
  session.changed();
  return result;
}

async function read<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { detail: text.slice(0, 200) };
  }
  if (!response.ok) {
    if (response.status === 401 && !session.needsLogin) {
      session.needsLogin = true;
      session.emit();
    }
    throw new ApiError(response.status, parsed ?? {});
  }
  return parsed as T;
}

/**
 * Signs in with `token` if the server accepts it (its whoami answers); throws ApiError 401 otherwise, and keeps the
 * session as it was.
 */
export async function signInWith(token: string): Promise<void> {
  const auth = { accept: 'application/json', authorization: `Bearer ${token}` };
  const response = await fetch('/api/whoami', { headers: auth, cache: 'no-store' });
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as Problem;
    throw new ApiError(response.status, problem);
  }
  const who = (await response.json()) as WhoAmI;
  session.signIn(token);
  session.who = who;
  session.emit();
}

/** Who the token is (`GET /api/whoami`, which the server that serves the dashboard always has). */
export async function loadWhoAmI(): Promise<WhoAmI> {
  session.who = await get<WhoAmI>('/api/whoami');
  session.emit();
  return session.who;
}

/** Query string of the defined, non-empty values. */
export function query(values: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Splits an SSE byte stream into events (`event:` and `data:` lines, blank-line framed). */
export class SseParser {
  private buffer = '';
  constructor(private readonly onEvent: (event: string, data: string) => void) {}

  push(chunk: string): void {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0 || event !== 'message') this.onEvent(event, data.join('\n'));
    }
  }
}

export type LiveMode = 'connecting' | 'live' | 'polling' | 'offline';

/**
 * Keeps the views current: reads `/api/stream` and bumps the session's tick on each `change`; reconnects with
 * back-off (1 s doubling to 30 s); a store that cannot report changes (`event: unsupported`) gets a refresh every
 * 10 s while the tab is visible instead.
 */
export function startLiveUpdates(onMode: (mode: LiveMode) => void): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let backoff = 1000;
  let poll: ReturnType<typeof setInterval> | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const startPolling = (): void => {
    onMode('polling');
    poll ??= setInterval(() => {
      if (document.visibilityState === 'visible') session.changed();
    }, 10_000);
  };

  const connect = async (): Promise<void> => {
    if (stopped) return;
    controller = new AbortController();
    onMode('connecting');
    let unsupported = false;
    try {
      const response = await fetch('/api/stream', {
        headers: headers({ accept: 'text/event-stream' }),
        signal: controller.signal,
        cache: 'no-store',
      });
      if (response.status === 401) {
        await read(response).catch(() => undefined);
        return;
      }
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      onMode('live');
      backoff = 1000;
      session.changed(); // whatever changed while disconnected
      const parser = new SseParser((event) => {
        if (event === 'change') session.changed();
        else if (event === 'unsupported') unsupported = true;
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done || unsupported) break;
        parser.push(value);
      }
      if (unsupported) {
        controller.abort();
        return startPolling();
      }
    } catch {
      if (stopped) return;
    }
    if (stopped) return;
    onMode('offline');
    retry = setTimeout(() => void connect(), backoff);
    backoff = Math.min(backoff * 2, 30_000);
  };

  void connect();
  const reconnect = (): void => {
    // A new token: the stream reconnects with it.
    controller?.abort();
  };
  let lastToken = session.token;
  const unsubscribe = session.subscribe(() => {
    if (controller && session.token !== lastToken) {
      lastToken = session.token;
      reconnect();
    }
  });
  return () => {
    stopped = true;
    unsubscribe();
    controller?.abort();
    clearInterval(poll);
    clearTimeout(retry);
  };
}
