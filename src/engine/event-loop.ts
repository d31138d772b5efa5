/**
 * The one place the engine touches the host's timers. The engine must compile without Node types (it runs
 * wherever a JS event loop does), so the host's scheduling functions are read from `globalThis`, typed here.
 */

interface HostTimers {
  readonly setImmediate?: (callback: () => void) => void;
  readonly setTimeout: (callback: () => void, ms: number) => void;
}

/**
 * Resolves after one macrotask. Every microtask queued before the call has run by then (microtasks always
 * drain before the next macrotask), which is what the executor's drain relies on. `setImmediate` where the
 * host has it (Node: no 1 ms clamp), `setTimeout(0)` elsewhere. Looked up per call, not at import.
 * @example
 * await yieldToEventLoop(); // every reaction to the event just applied has run
 */
export function yieldToEventLoop(): Promise<void> {
  const host = globalThis as unknown as HostTimers;
  return new Promise((resolve) => {
    if (host.setImmediate) host.setImmediate(resolve);
    else host.setTimeout(resolve, 0);
  });
}
