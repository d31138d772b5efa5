/**
 * Watch streams: newline-delimited JSON events `{"type": ..., "object": ...}` on a chunked 200 response.
 *
 * - resourceVersion unset or "0": synthetic ADDED events for the current objects, then live events.
 * - resourceVersion N: every event after N from the history, then live events; if the history no longer reaches
 *   back to N, one ERROR event carrying a 410 Expired Status, and the stream ends (the client must re-list).
 * - allowWatchBookmarks: BOOKMARK events carrying only the current resourceVersion, every `bookmarkIntervalMs`.
 * - sendInitialEvents=true: the ADDED events, then a BOOKMARK annotated `k8s.io/initial-events-end: "true"`.
 * - timeoutSeconds ends the stream cleanly. Selectors filter events; an object modified into a selector's scope
 *   is reported as ADDED, one modified out of it as DELETED, as the real server does.
 * - With a Table Accept header (kubectl get -w), each event's object is a one-row Table.
 * Events are written in revision order: the history is replayed and the live subscription made in one turn of
 * the event loop, so no write can fall between them.
 */
import type { ServerResponse } from 'node:http';
import { ApiError } from './status.js';
import type { KubeObject, Store, StoredEvent } from './store.js';

export interface WatchRequest {
  resource: string;
  resourceVersion: string | null;
  matches: (o: KubeObject) => boolean;
  present: (o: KubeObject) => object;
  bookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds: number | undefined;
  bookmarkIntervalMs: number;
  kind: string;
  apiVersion: string;
  initial: () => KubeObject[];
}

export function serveWatch(store: Store, res: ServerResponse, w: WatchRequest, onClose: () => void): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  // As the real server: the headers go out at once, so a client waiting for the response (client-node's
  // informer awaits it before its start() resolves) is not held until the first event.
  res.flushHeaders();
  const send = (type: string, object: object): void => {
    res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const bookmark = (annotations?: Record<string, string>): void =>
    send('BOOKMARK', {
      kind: w.kind,
      apiVersion: w.apiVersion,
      metadata: { resourceVersion: String(store.currentRevision()), ...(annotations ? { annotations } : {}) },
    });
  // As the real server's: an object modified into the watch's scope is ADDED, one modified out of it DELETED.
  const deliver = (e: StoredEvent): void => {
    const now = w.matches(e.object);
    const before = e.previous ? w.matches(e.previous) : now;
    if (e.type === 'MODIFIED' && now && !before) send('ADDED', w.present(e.object));
    else if (e.type === 'MODIFIED' && !now && before) send('DELETED', w.present(e.object));
    else if (now) send(e.type, w.present(e.object));
  };

  const rv = w.resourceVersion;
  if (!rv || rv === '0' || w.sendInitialEvents) {
    for (const o of w.initial()) if (w.matches(o)) send('ADDED', w.present(o));
    if (w.sendInitialEvents) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } else {
    const from = Number(rv);
    const events = Number.isInteger(from) ? store.eventsSince(w.resource, from) : undefined;
    if (!events) {
      const status = new ApiError(
        410,
        'Expired',
        `too old resource version: ${rv} (${store.compactedRevision()})`,
      ).toStatus();
      send('ERROR', status);
      res.end();
      onClose();
      return;
    }
    for (const e of events) deliver(e);
  }

  const unsubscribe = store.subscribe((e) => {
    if (e.resource === w.resource) deliver(e);
  });
  const timers: NodeJS.Timeout[] = [];
  if (w.bookmarks) timers.push(setInterval(() => bookmark(), w.bookmarkIntervalMs));
  if (w.timeoutSeconds !== undefined) timers.push(setTimeout(() => res.end(), w.timeoutSeconds * 1000));
  res.on('close', () => {
    unsubscribe();
    for (const t of timers) clearInterval(t);
    onClose();
  });
}
