/** Raw HTTPS requests to a KubeApiServer, for behaviour no client library exposes directly (410s, bookmarks). */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { KubeApiServer } from '../kube-api-server/server.js';

export interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: any;
}

export function call(
  server: KubeApiServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      {
        method,
        ca: server.caPem,
        headers: { Authorization: `Bearer ${server.tokens[0]}`, 'Content-Type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Opens a watch and collects its events until `stop()`; `ended` resolves when the server closes the stream. */
export function openWatch(
  server: KubeApiServer,
  path: string,
): { events: any[]; stop: () => void; ended: Promise<void> } {
  const events: any[] = [];
  let buffer = '';
  let finish: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (finish = resolve));
  const req = request(
    `${server.url}${path}`,
    { ca: server.caPem, headers: { Authorization: `Bearer ${server.tokens[0]}` } },
    (res) => {
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buffer.slice(0, newline)));
          buffer = buffer.slice(newline + 1);
        }
      });
      res.on('end', finish);
      res.on('error', finish);
      res.on('close', finish);
    },
  );
  req.on('error', finish);
  req.end();
  return { events, stop: () => req.destroy(), ended };
}
