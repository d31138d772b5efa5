/**
 * An in-process Kubernetes API server for tests: node:http on a free loopback port, bearer-token
 * authentication, discovery and OpenAPI, resources with the real server's semantics (see README.md), watches,
 * fault injection, and a count of every request by verb and resource.
 *
 * @example
 * const server = new KubeApiServer({ token: 't0ken' });
 * await server.start();
 * // point a client at server.url with `Authorization: Bearer t0ken`
 * server.requestCount({ verb: 'update', resource: 'leases' });
 * await server.stop();
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  apiGroupDocument,
  apiGroupList,
  apiResourceList,
  apiVersions,
  openApiV2,
  openApiV3GroupVersion,
  openApiV3Root,
  version,
} from './discovery.js';
import { Faults, type FaultRule } from './faults.js';
import { Objects, resourceKey } from './objects.js';
import { Registry, apiVersionOf } from './resources.js';
import { ResourceHandler, route, wantsTable, type Reply } from './routes.js';
import { ApiError } from './status.js';
import { Store, type KubeObject } from './store.js';
import { toTable } from './table.js';
import { serveWatch } from './watch.js';

export interface KubeApiServerOptions {
  /** Bearer tokens accepted; requests without one of them get 401. Default: one random token. */
  tokens?: string[];
  /** Events kept for watch resumption; older resourceVersions get 410 Gone. Default 1000. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that allow them. Default 1000 ms. */
  bookmarkIntervalMs?: number;
  now?: () => Date;
  random?: () => number;
}

export interface RequestRecord {
  verb: string;
  /** `plural` or `plural/subresource`, or the path for non-resource requests (`/api`, `/openapi/v3`). */
  resource: string;
  group: string;
  namespace: string | undefined;
  status: number;
  /** When the request arrived, in `performance.now()` milliseconds (for gaps between requests, e.g. Retry-After). */
  at: number;
}

/**
 * HTTPS, because client-go sends bearer tokens only over TLS: over plain HTTP kubectl silently omits the
 * token and every request would be 401. The certificate is a committed self-signed test fixture (tls/README.md).
 */
const TLS = {
  key: readFileSync(new URL('./tls/key.pem', import.meta.url), 'utf8'),
  cert: readFileSync(new URL('./tls/cert.pem', import.meta.url), 'utf8'),
};

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export class KubeApiServer {
  readonly tokens: string[];
  readonly faults: Faults;
  private readonly registry = new Registry();
  private readonly store: Store;
  private readonly objects: Objects;
  private readonly handler: ResourceHandler;
  private readonly now: () => Date;
  private readonly bookmarkIntervalMs: number;
  private readonly records: RequestRecord[] = [];
  private readonly watches = new Set<ServerResponse>();
  private server: Server | undefined;
  private dropTimer: NodeJS.Timeout | undefined;
  private port = 0;

  constructor(options: KubeApiServerOptions = {}) {
    this.tokens = options.tokens ?? [`token-${Math.random().toString(36).slice(2)}`];
    this.now = options.now ?? (() => new Date());
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.faults = new Faults(options.random);
    this.store = new Store(options.historyLimit ?? 1000);
    this.objects = new Objects(this.store, this.registry, this.now);
    this.handler = new ResourceHandler(this.store, this.objects, this.now);
    const ns = this.registry.find('', 'v1', 'namespaces')!;
    for (const name of SYSTEM_NAMESPACES)
      this.objects.create(
        ns,
        undefined,
        { metadata: { name } },
        { manager: 'kube-apiserver', fieldValidation: 'Ignore', dryRun: false, warnings: [] },
      );
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** PEM of the self-signed certificate the server presents (valid for 127.0.0.1 and localhost). */
  get caPem(): string {
    return TLS.cert;
  }

  /** A kubeconfig for this server: kubectl and client-node read it as they read a real cluster's. */
  kubeconfig(namespace = 'default'): string {
    const ca = Buffer.from(TLS.cert).toString('base64');
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: durable-test\n  cluster:\n    server: ${this.url}\n    certificate-authority-data: ${ca}`,
      'users:',
      `- name: durable-test\n  user:\n    token: ${this.tokens[0]}`,
      'contexts:',
      `- name: durable-test\n  context:\n    cluster: durable-test\n    user: durable-test\n    namespace: ${namespace}`,
      'current-context: durable-test',
      '',
    ].join('\n');
  }

  async start(): Promise<void> {
    this.server = createServer({ key: TLS.key, cert: TLS.cert }, (req, res) => void this.serve(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (this.dropTimer) clearInterval(this.dropTimer);
    this.dropWatches();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests received, optionally filtered; failed ones (401, injected faults) included. */
  requests(filter: { verb?: string; resource?: string } = {}): RequestRecord[] {
    return this.records.filter(
      (r) => (!filter.verb || r.verb === filter.verb) && (!filter.resource || r.resource === filter.resource),
    );
  }

  requestCount(filter: { verb?: string; resource?: string } = {}): number {
    return this.requests(filter).length;
  }

  /** Counts keyed `verb resource`, e.g. `{ 'update leases': 3 }`. */
  requestCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.records) counts[`${r.verb} ${r.resource}`] = (counts[`${r.verb} ${r.resource}`] ?? 0) + 1;
    return counts;
  }

  resetRequestCounts(): void {
    this.records.length = 0;
  }

  injectFault(rule: FaultRule): void {
    this.faults.add(rule);
  }

  /** Removes every injected fault. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Ends every open watch, as an API server restart or a load balancer timeout does. */
  dropWatches(): number {
    const open = [...this.watches];
    for (const res of open) res.destroy();
    return open.length;
  }

  dropWatchesEvery(ms: number | undefined): void {
    if (this.dropTimer) clearInterval(this.dropTimer);
    this.dropTimer = ms === undefined ? undefined : setInterval(() => this.dropWatches(), ms);
  }

  /** Runs the garbage collector now (it also runs on its own after every deletion). Returns objects deleted. */
  collectGarbage(): number {
    return this.objects.collectGarbage();
  }

  /** Direct read for assertions, bypassing HTTP and the request count. */
  read(group: string, plural: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const t = this.registry.versionsOf(group, plural)[0];
    const o = t && this.store.get(resourceKey(t), namespace, name);
    return o && t ? this.objects.present(t, o) : undefined;
  }

  resourceVersion(): number {
    return this.store.currentRevision();
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const resource = route(this.registry, method, url.pathname, url.searchParams);
    const record: RequestRecord = {
      verb: resource?.verb ?? method.toLowerCase(),
      resource: resource
        ? resource.sub
          ? `${resource.type.plural}/${resource.sub}`
          : resource.type.plural
        : url.pathname,
      group: resource?.type.group ?? '',
      namespace: resource?.namespace,
      status: 0,
      at: performance.now(),
    };
    this.records.push(record);
    const reply = (r: Reply): void => {
      record.status = r.status;
      const body = JSON.stringify(r.body);
      res.writeHead(r.status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        ...(r.headers ?? {}),
      });
      res.end(body);
    };
    const fail = (e: ApiError, headers?: Record<string, string>): void =>
      reply({ status: e.code, body: e.toStatus(), ...(headers ? { headers } : {}) });
    try {
      const raw = await readBody(req);
      if (['/healthz', '/livez', '/readyz'].includes(url.pathname)) {
        record.status = 200;
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
        return;
      }
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !this.tokens.includes(auth.slice('Bearer '.length)))
        return fail(new ApiError(401, 'Unauthorized', 'Unauthorized'));
      const fault = this.faults.decide(record.verb, record.resource);
      if (fault.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, fault.latencyMs));
      if (fault.status === 429) {
        const seconds = fault.retryAfterSeconds ?? 1;
        return fail(
          new ApiError(429, 'TooManyRequests', 'Too many requests, please try again later.', {
            retryAfterSeconds: seconds,
          }),
          { 'Retry-After': String(seconds) },
        );
      }
      if (fault.status)
        return fail(new ApiError(fault.status, 'InternalError', 'Internal error occurred: injected fault'));
      const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
      // No protobuf or CBOR here: 415 tells client-go to fall back to JSON, as it does against servers without them.
      if (
        raw &&
        !['application/json', '*/*', ''].includes(contentType) &&
        !contentType.endsWith('patch+json') &&
        contentType !== 'application/apply-patch+yaml'
      )
        return fail(
          new ApiError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
          ),
        );
      if (resource?.verb === 'watch')
        return this.watch(resource.type, resource.namespace, url.searchParams, req, res, record);
      if (resource) return reply(this.handler.handle(resource, url.searchParams, req.headers, raw));
      const document = this.nonResource(url.pathname);
      if (document === undefined)
        return fail(new ApiError(404, 'NotFound', 'the server could not find the requested resource'));
      reply({ status: 200, body: document });
    } catch (e) {
      if (e instanceof ApiError) return fail(e);
      fail(new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error).stack ?? String(e)}`));
    }
  }

  private nonResource(path: string): unknown {
    const parts = path.split('/').filter(Boolean);
    if (path === '/version') return version();
    if (path === '/api') return apiVersions(`127.0.0.1:${this.port}`);
    if (path === '/apis') return apiGroupList(this.registry);
    if (parts[0] === 'api' && parts.length === 2) return apiResourceList(this.registry, '', parts[1]!);
    if (parts[0] === 'apis' && parts.length === 2) return apiGroupDocument(this.registry, parts[1]!);
    if (parts[0] === 'apis' && parts.length === 3) return apiResourceList(this.registry, parts[1]!, parts[2]!);
    if (path === '/openapi/v2') return openApiV2();
    if (path === '/openapi/v3') return openApiV3Root(this.registry, this.store.currentRevision());
    if (parts[0] === 'openapi' && parts[1] === 'v3') {
      const [kind, ...gv] = parts.slice(2);
      if (kind === 'api' && gv.length === 1) return openApiV3GroupVersion(this.registry, '', gv[0]!);
      if (kind === 'apis' && gv.length === 2) return openApiV3GroupVersion(this.registry, gv[0]!, gv[1]!);
    }
    return undefined;
  }

  private watch(
    t: Parameters<typeof toTable>[0],
    namespace: string | undefined,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
  ): void {
    const table = wantsTable(req.headers);
    const include = (query.get('includeObject') ?? 'Metadata') as 'None' | 'Metadata' | 'Object';
    const inScope = this.handler.matcher(query);
    const timeout = query.get('timeoutSeconds');
    record.status = 200;
    this.watches.add(res);
    serveWatch(
      this.store,
      res,
      {
        resource: resourceKey(t),
        resourceVersion: query.get('resourceVersion'),
        matches: (o) => (namespace === undefined || o.metadata.namespace === namespace) && inScope(o),
        present: (o) => {
          const shown = this.objects.present(t, o);
          return table
            ? toTable(t, [shown], { resourceVersion: o.metadata.resourceVersion }, include, this.now().getTime())
            : shown;
        },
        bookmarks: query.get('allowWatchBookmarks') === 'true',
        sendInitialEvents: query.get('sendInitialEvents') === 'true',
        timeoutSeconds: timeout ? Number(timeout) : undefined,
        bookmarkIntervalMs: this.bookmarkIntervalMs,
        kind: t.kind,
        apiVersion: apiVersionOf(t),
        initial: () => this.store.list(resourceKey(t), namespace),
      },
      () => this.watches.delete(res),
    );
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
