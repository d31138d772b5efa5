/**
 * The CLI's way to the HTTP API: JSON requests with an optional bearer token and a time limit; problem details
 * become `CliError`s with the API's code and message. Anything that is not the Durable API (an HTML page, a 404 that
 * is not problem details, a server that never answers) becomes one line that says so.
 */
import { CliError } from '../host/cli-error.js';

export interface ApiClientOptions {
  readonly url: string;
  readonly token?: string;
  /** How long to wait for an answer, in ms, on top of any long-poll the request asks for. */
  readonly timeoutMs: number;
}

export interface RequestOptions {
  /** A long-poll the request asks the server for (`?wait=`): added to the time limit. */
  readonly waitMs?: number;
}

/** The part of {@link ApiClient} the commands use (tests pass a fake). */
export interface Api {
  request<T = unknown>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<T>;
}

export class ApiClient implements Api {
  private readonly base: URL;

  constructor(private readonly options: ApiClientOptions) {
    try {
      this.base = new URL(options.url);
    } catch {
      throw new CliError(
        `'${options.url}' (--url or DURABLE_URL) is not a URL; example: http://127.0.0.1:8080.`,
        'USAGE',
      );
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new CliError(`'${options.url}' (--url or DURABLE_URL) must start with http:// or https://.`, 'USAGE');
    }
  }

  async request<T = unknown>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    // The API refuses a mutation that carries neither a JSON body nor this header (its defence against cross-site
    // requests, which browsers send without either).
    if (method !== 'GET') headers['x-durable-request'] = '1';
    const limitMs = this.options.timeoutMs + (options.waitMs ?? 0);
    const signal = AbortSignal.timeout(limitMs);
    const what = `${method} ${url.pathname}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers,
        signal,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      text = await response.text();
    } catch (error) {
      if (signal.aborted) {
        throw new CliError(
          `${this.base.origin} did not answer ${what} within ${seconds(this.options.timeoutMs)} (--timeout <ms> waits longer).`,
          'TIMEOUT',
        );
      }
      const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
      throw new CliError(
        `Cannot reach ${this.base.origin}: ${cause}. Is \`durable dev\` running, and is --url (or DURABLE_URL) right?`,
        'UNREACHABLE',
      );
    }
    const type = response.headers.get('content-type') ?? '';
    const json = /json/i.test(type) ? parseJson(text) : NOT_JSON;
    if (json === NOT_JSON && text.length > 0) throw this.notDurable(what, response.status, type);
    if (!response.ok) {
      const problem = json as { code?: unknown; message?: unknown } | undefined;
      if (typeof problem?.code !== 'string' || typeof problem.message !== 'string') {
        throw this.notDurable(what, response.status, type);
      }
      const hint = problem.code === 'UNAUTHORIZED' ? ' Pass --token or set DURABLE_TOKEN.' : '';
      throw new CliError(`${problem.message}${hint}`, problem.code);
    }
    return (json === NOT_JSON ? undefined : json) as T;
  }

  private notDurable(what: string, status: number, type: string): CliError {
    const kind = /html/i.test(type)
      ? 'an HTML page'
      : type
        ? `'${type.split(';')[0] ?? type}'`
        : 'a body without a type';
    return new CliError(
      `${this.base.origin} is not a Durable API: it answered ${what} with ${status} and ${kind}. Check --url (or DURABLE_URL).`,
      'NOT_DURABLE',
    );
  }
}

const NOT_JSON = Symbol('not JSON');

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** A path segment, escaped. */
export const seg = (value: string): string => encodeURIComponent(value);
