/**
 * Readiness: the backends answer a cheap read within a deadline. A store or queue that hangs (a network
 * partition) counts as down: the probe must answer in time even when the backend never does.
 */
import type { Queue } from '../src/backends/queue.js';
import type { Store } from '../src/backends/store.js';

export interface Readiness {
  readonly ready: boolean;
  /** One entry per backend: `ok` or why not. */
  readonly checks: Readonly<Record<'store' | 'queue', string>>;
}

/**
 * @example
 * const { ready, checks } = await checkBackends(host.backends, 2000);
 */
export async function checkBackends(
  backends: { readonly store: Pick<Store, 'get'>; readonly queue: Pick<Queue, 'depth'> },
  timeoutMs: number,
): Promise<Readiness> {
  const [store, queue] = await Promise.all([
    probe(() => backends.store.get('durable:readyz'), timeoutMs),
    probe(() => backends.queue.depth('orchestrations'), timeoutMs),
  ]);
  return { ready: store === 'ok' && queue === 'ok', checks: { store, queue } };
}

async function probe(call: () => Promise<unknown>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([call().then(() => 'ok'), timeout]);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}
