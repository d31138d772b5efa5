/**
 * What every caller of the Kubernetes API in Durable needs around a request made with `@kubernetes/client-node` 1.4:
 * the status and message of a failure, the Retry-After of a 429, and request options that abort the HTTP request on
 * a signal (a hung API server must not hold a renewal loop past its lease).
 */
import type { ConfigurationOptions, Observable, RequestContext, ResponseContext } from '@kubernetes/client-node';

/** The `Observable` class of the client, passed in by callers that load the client lazily. */
export type ObservableClass = new <T>(promise: Promise<T>) => Observable<T>;

/**
 * The HTTP status (client-node's `ApiException.code`) and the first line of the message of a failed request.
 * @example
 * try { await api.readNamespacedLease({ name, namespace }); } catch (e) { if (errorInfo(e).status === 404) create(); }
 */
export function errorInfo(error: unknown): { status?: number; message: string } {
  const status = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
  return typeof status === 'number' ? { status, message } : { message };
}

/**
 * The HTTP status of a failed request, if it got one (a connection error has none).
 * @example
 * if (statusOf(error) === 409) return reread();
 */
export function statusOf(error: unknown): number | undefined {
  return errorInfo(error).status;
}

/**
 * Retry-After of a 429, in ms (client-node 1.4 gives the response headers lower-cased on `ApiException.headers`);
 * 1 s when the server named none; `undefined` for anything but a 429.
 * @example
 * const wait = retryAfterMs(error); if (wait !== undefined) pausedUntil = now + wait;
 */
export function retryAfterMs(error: unknown): number | undefined {
  if (statusOf(error) !== 429) return undefined;
  const headers = (error as { headers?: Record<string, string> }).headers ?? {};
  const value = Object.entries(headers).find(([name]) => name.toLowerCase() === 'retry-after')?.[1];
  if (value === undefined) return 1000;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? 1000 : Math.max(0, date - Date.now());
}

/**
 * Per-request options (the generated APIs' last argument) that abort the HTTP request when `signal` aborts.
 * @example
 * const { Observable } = await import('@kubernetes/client-node');
 * await api.readNamespacedLease({ name, namespace }, abortableOptions(Observable, AbortSignal.timeout(5000)));
 */
export function abortableOptions(ObservableImpl: ObservableClass, signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(signal);
          return new ObservableImpl(Promise.resolve(context));
        },
        post: (context: ResponseContext) => new ObservableImpl(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
