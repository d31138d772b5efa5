/**
 * A gate in front of one process's API client, so a test can freeze or cut off that process alone while the others
 * and the server carry on: `pause()` holds its requests (a SIGSTOP or a partition), `resume()` lets them go,
 * `cut()` fails every later one as a refused connection would.
 */
export interface ApiGate<T extends object> {
  readonly api: T;
  pause(): void;
  resume(): void;
  cut(): void;
}

export function gated<T extends object>(api: T): ApiGate<T> {
  let paused: Promise<void> | undefined;
  let open: () => void = () => undefined;
  let cut = false;
  const proxy = new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (paused) await paused;
        if (cut) throw new Error('connect ECONNREFUSED (cut off by the test)');
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    api: proxy,
    pause: () => {
      paused ??= new Promise((resolve) => (open = resolve));
    },
    resume: () => {
      paused = undefined;
      open();
    },
    cut: () => {
      cut = true;
    },
  };
}
