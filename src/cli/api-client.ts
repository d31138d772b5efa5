/**
 * The CLI's way to the HTTP API: JSON requests with an optional bearer token; problem details become
 * `CliError`s with the API's code and message.
 */
import { CliError } from '../host/cli-error.js';

export interface ApiClientOptions {
  readonly url: string;
  readonly token?: string;
}

export class ApiClient {
  private readonly base: URL;

  constructor(private readonly options: ApiClientOptions) {
    try {
      this.base = new URL(options.url);
    } catch {
      throw new CliError(`--url '${options.url}' is not a URL (example: http://127.0.0.1:8080).`, 'BAD_URL');
    }
  }

  async request<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = {};
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (error) {
      throw new CliError(
        `Cannot reach ${this.base.origin}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}. Is \`durable dev\` running?`,
        'UNREACHABLE',
      );
    }
    const text = await response.text();
    const json: unknown = text.length > 0 ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const problem = (json ?? {}) as { code?: string; message?: string };
      throw new CliError(problem.message ?? `HTTP ${response.status}`, problem.code ?? `HTTP_${response.status}`);
    }
    return json as T;
  }
}

/** A path segment, escaped. */
export const seg = (value: string): string => encodeURIComponent(value);
