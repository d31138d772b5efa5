/** Hash routing and data hooks. */
import { useEffect, useState } from 'preact/hooks';
import type { ApiError } from './api.js';
import { get, session } from './api.js';
import type { AppDescription } from './types.js';

export interface Route {
  /** Path segments after `#/`: `['instances', 'abc']`. */
  readonly parts: string[];
  readonly params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = raw.split('?', 2);
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { parts, params: new URLSearchParams(search) };
}

/** Builds a hash link: `href('instances', id)` → `#/instances/<id>`. */
export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

export function hrefWith(parts: string[], params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const text = search.toString();
  return `${href(...parts)}${text ? `?${text}` : ''}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const update = (): void => setRoute(parseHash(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** Re-renders on every session change (token, scopes, live tick). */
export function useSession(): typeof session {
  const [, setVersion] = useState(0);
  useEffect(() => session.subscribe(() => setVersion((v) => v + 1)), []);
  return session;
}

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: ApiError | Error | undefined;
  readonly loading: boolean;
}

/**
 * GETs `path` and again whenever it, `deps`, the token or the live tick change. Keeps the last data while
 * refetching, so live updates do not flash. `path` undefined: nothing to load.
 */
export function useApi<T>(path: string | undefined, deps: readonly unknown[] = [], live = true): Loaded<T> {
  const s = useSession();
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: undefined, loading: true });
  useEffect(() => {
    if (path === undefined) return;
    let live = true;
    setState((previous) => ({ ...previous, loading: true }));
    get<T>(path).then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error: Error) => live && setState((previous) => ({ data: previous.data, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [path, live ? s.tick : 0, s.token, ...deps]);
  return state;
}

/** Runs after `ms` of quiet: for inputs that filter as you type. */
export function useDebounced<T>(value: T, ms = 250): T {
  const [current, setCurrent] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setCurrent(value), ms);
    return () => clearTimeout(timer);
  }, [value]);
  return current;
}

/** The app's names (`GET /api/app`); undefined on a server that does not describe its app (404). */
export function useAppDescription(): AppDescription | undefined {
  return useApi<AppDescription>('/api/app', [], false).data;
}

/** Cursor paging whose pages start again at the first whenever `key` (the filters, as a string) changes. */
export interface CursorPaging {
  /** The cursor of the page shown (undefined: the first page). */
  readonly cursor: string | undefined;
  readonly atFirst: boolean;
  readonly previous: () => void;
  readonly next: (cursor: string) => void;
}

export function useCursorPaging(key: string): CursorPaging {
  // The cursors of the pages before this one, for Previous.
  const [paging, setPaging] = useState<{ key: string; cursors: readonly string[] }>({ key, cursors: [] });
  const cursors = paging.key === key ? paging.cursors : [];
  return {
    cursor: cursors[cursors.length - 1],
    atFirst: cursors.length === 0,
    previous: () => setPaging({ key, cursors: cursors.slice(0, -1) }),
    next: (cursor) => setPaging({ key, cursors: [...cursors, cursor] }),
  };
}
