/**
 * Links from a resource to its management endpoints, as relative URLs (like Durable Functions'
 * `statusQueryGetUri` and friends, but without secrets: the caller authenticates with its own token).
 */

/** Management endpoints of one instance. `purge` is a DELETE on `self`; the others take a POST. */
export interface InstanceLinks {
  readonly self: string;
  readonly history: string;
  /** A template: replace `{eventName}`. */
  readonly raiseEvent: string;
  readonly terminate: string;
  readonly suspend: string;
  readonly resume: string;
  readonly purge: string;
}

/**
 * @example
 * instanceLinks('order#42').history; // '/api/instances/order%2342/history'
 */
export function instanceLinks(instanceId: string): InstanceLinks {
  const self = `/api/instances/${encodeURIComponent(instanceId)}`;
  return {
    self,
    history: `${self}/history`,
    raiseEvent: `${self}/events/{eventName}`,
    terminate: `${self}/terminate`,
    suspend: `${self}/suspend`,
    resume: `${self}/resume`,
    purge: self,
  };
}

/**
 * @example
 * entityLinks('counter', 'home').signal; // '/api/entities/counter/home/{operation}'
 */
export function entityLinks(name: string, key: string): { readonly self: string; readonly signal: string } {
  const self = `/api/entities/${encodeURIComponent(name)}/${encodeURIComponent(key)}`;
  return { self, signal: `${self}/{operation}` };
}

/**
 * The same URL with `cursor` replaced: the next page under the same filters.
 * @example
 * nextLink('/api/instances?limit=2', 'abc'); // '/api/instances?limit=2&cursor=abc'
 */
export function nextLink(url: string, cursor: string): string {
  const parsed = new URL(url, 'http://api.invalid');
  parsed.searchParams.set('cursor', cursor);
  return `${parsed.pathname}${parsed.search}`;
}
