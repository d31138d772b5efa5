/**
 * Resource requests: URL → (type, namespace, name, subresource) → verb → the object lifecycle in objects.ts.
 *
 * Paths: `/api/v1/...` and `/apis/<group>/<version>/...`, then `[namespaces/<ns>/]<plural>[/<name>[/<sub>]]`.
 * Subresources: `status` (where the type declares it) and `scale` (deployments; autoscaling/v1 Scale).
 * Patch content types: merge-patch+json, json-patch+json, strategic-merge-patch+json (built-in kinds only: 415
 * for custom resources, as the real server answers) and apply-patch+yaml (server-side apply; `fieldManager`
 * required, `force` honoured). Lists honour labelSelector, fieldSelector, limit and continue; the continue token
 * resumes after the last name returned, from the current state (the real server reads a snapshot).
 */
import type { IncomingHttpHeaders } from 'node:http';
import yaml from 'js-yaml';
import { serverSideApply } from './apply.js';
import { resourceKey, type FieldValidation, type Objects, type WriteOptions } from './objects.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { apiVersionOf, type Registry, type ResourceType, type ScaleSubresource } from './resources.js';
import { fieldSelector, labelSelector } from './selectors.js';
import { ApiError, badRequest, success } from './status.js';
import type { KubeObject, Store } from './store.js';
import { toTable, type IncludeObject } from './table.js';

export interface ResourceRoute {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  sub: string | undefined;
  verb: string;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Parses a resource path, or returns undefined when it names no served resource. */
export function route(
  registry: Registry,
  method: string,
  path: string,
  query: URLSearchParams,
): ResourceRoute | undefined {
  const parts = path.split('/').filter(Boolean);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) [group, version, rest] = ['', parts[1]!, parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 4) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && registry.find(group, version, rest[2]!)?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const type = registry.find(group, version, rest[0]!);
  if (!type || rest.length > 3) return undefined;
  const [, name, sub] = rest;
  // A namespaced resource is listed and watched across namespaces, but its objects live only under one.
  if (type.namespaced && namespace === undefined && (name || method === 'POST')) return undefined;
  if (sub && !((sub === 'status' && type.status) || (sub === 'scale' && type.scale))) return undefined;
  const watching = query.get('watch') === 'true' || query.get('watch') === '1';
  const verb =
    method === 'GET'
      ? name
        ? 'get'
        : watching
          ? 'watch'
          : 'list'
      : method === 'POST'
        ? 'create'
        : method === 'PUT'
          ? 'update'
          : method === 'PATCH'
            ? 'patch'
            : method === 'DELETE'
              ? name
                ? 'delete'
                : 'deletecollection'
              : 'unknown';
  return { type, namespace, name, sub, verb };
}

/** What `Accept` asks for: a Table, or the object itself. */
export function wantsTable(headers: IncomingHttpHeaders): boolean {
  const accept = headers.accept ?? '';
  const first = accept.split(',')[0] ?? '';
  return /as=Table/.test(first) && /g=meta\.k8s\.io/.test(first);
}

function managerOf(query: URLSearchParams, headers: IncomingHttpHeaders): string {
  const explicit = query.get('fieldManager');
  if (explicit) return explicit;
  const agent = headers['user-agent'] ?? 'unknown';
  return agent.split('/')[0] ?? 'unknown';
}

function writeOptions(query: URLSearchParams, headers: IncomingHttpHeaders): WriteOptions {
  const v = query.get('fieldValidation') ?? 'Warn';
  if (!['Strict', 'Warn', 'Ignore'].includes(v))
    throw badRequest(`fieldValidation must be one of Ignore, Warn or Strict, not ${v}`);
  return {
    manager: managerOf(query, headers),
    fieldValidation: v as FieldValidation,
    dryRun: query.has('dryRun'),
    warnings: [],
  };
}

export class ResourceHandler {
  constructor(
    private readonly store: Store,
    private readonly objects: Objects,
    private readonly now: () => Date,
  ) {}

  handle(r: ResourceRoute, query: URLSearchParams, headers: IncomingHttpHeaders, raw: string): Reply {
    const { type: t, namespace: ns } = r;
    const table = wantsTable(headers);
    const include = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
    const one = (o: KubeObject, status = 200, options?: WriteOptions): Reply => ({
      status,
      body: table ? toTable(t, [o], { resourceVersion: o.metadata.resourceVersion }, include, this.now().getTime()) : o,
      ...(options?.warnings.length
        ? { headers: { Warning: options.warnings.map((w) => `299 - "${w}"`).join(', ') } }
        : {}),
    });
    switch (r.verb) {
      case 'list':
        return this.list(t, ns, query, table, include);
      case 'get':
        if (r.sub === 'scale') return { status: 200, body: this.scaleOf(t, this.objects.get(t, ns, r.name!)) };
        return one(this.objects.get(t, ns, r.name!));
      case 'create': {
        if (r.name)
          throw new ApiError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        const options = writeOptions(query, headers);
        return one(this.objects.create(t, ns, parseJson(raw), options), 201, options);
      }
      case 'update': {
        const options = writeOptions(query, headers);
        if (r.sub === 'scale') return { status: 200, body: this.writeScale(t, ns, r.name!, parseJson(raw), options) };
        return one(this.objects.update(t, ns, r.name!, parseJson(raw), r.sub, options), 200, options);
      }
      case 'patch':
        return this.patch(r, query, headers, raw, one);
      case 'delete': {
        const body = raw ? parseJson(raw) : {};
        const propagationPolicy = query.get('propagationPolicy') ?? body.propagationPolicy;
        const { object, gone } = this.objects.delete(t, ns, r.name!, {
          ...body,
          propagationPolicy,
          dryRun: query.has('dryRun'),
        });
        if (!gone || t.custom || t.kind === 'Pod') return one(object, gone ? 200 : 200);
        return {
          status: 200,
          body: success({ name: r.name!, group: t.group, kind: t.plural, ...{ uid: object.metadata.uid } }),
        };
      }
      case 'deletecollection': {
        const matches = this.matcher(query);
        for (const o of this.store.list(resourceKey(t), ns))
          if (matches(o)) this.objects.delete(t, o.metadata.namespace, o.metadata.name, {});
        return { status: 200, body: success({ group: t.group, kind: t.plural }) };
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  matcher(query: URLSearchParams): (o: KubeObject) => boolean {
    const labels = labelSelector(query.get('labelSelector'));
    const fields = fieldSelector(query.get('fieldSelector'));
    return (o) => labels(o) && fields(o);
  }

  private list(
    t: ResourceType,
    ns: string | undefined,
    query: URLSearchParams,
    table: boolean,
    include: IncludeObject,
  ): Reply {
    const matches = this.matcher(query);
    let items = this.store.list(resourceKey(t), ns).filter(matches);
    const token = query.get('continue');
    if (token) {
      const after = String(JSON.parse(Buffer.from(token, 'base64').toString()).after);
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > after);
    }
    const limit = Number(query.get('limit') ?? 0);
    const metadata: Record<string, unknown> = { resourceVersion: String(this.store.currentRevision()) };
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1]!;
      metadata.continue = Buffer.from(
        JSON.stringify({ after: `${last.metadata.namespace ?? ''}/${last.metadata.name}` }),
      ).toString('base64');
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    if (table)
      return {
        status: 200,
        body: toTable(
          t,
          items.map((o) => this.objects.present(t, o)),
          metadata,
          include,
          this.now().getTime(),
        ),
      };
    // Typed lists of built-in kinds carry no kind/apiVersion on their items; custom resource lists do.
    const shown = t.custom ? items.map((o) => this.objects.present(t, o)) : items;
    return { status: 200, body: { kind: `${t.kind}List`, apiVersion: apiVersionOf(t), metadata, items: shown } };
  }

  private patch(
    r: ResourceRoute,
    query: URLSearchParams,
    headers: IncomingHttpHeaders,
    raw: string,
    one: (o: KubeObject, status?: number, options?: WriteOptions) => Reply,
  ): Reply {
    const { type: t, namespace: ns, name } = r;
    const contentType = (headers['content-type'] ?? '').split(';')[0]!.trim();
    const options = writeOptions(query, headers);
    if (r.sub === 'scale') {
      const scale = this.scaleOf(t, this.objects.get(t, ns, name!));
      const patched =
        contentType === 'application/json-patch+json'
          ? jsonPatch(scale, parseJson(raw))
          : mergePatch(scale, parseJson(raw));
      return { status: 200, body: this.writeScale(t, ns, name!, patched, options) };
    }
    if (contentType === 'application/apply-patch+yaml') {
      if (!query.get('fieldManager'))
        throw new ApiError(
          422,
          'Invalid',
          'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        );
      const applied = parseYaml(raw);
      if (!applied.apiVersion || !applied.kind)
        throw badRequest('apiVersion and kind must be set in an applied configuration');
      if (applied.metadata?.name && applied.metadata.name !== name)
        throw badRequest('the name of the object does not match the name on the URL');
      applied.metadata = { ...(applied.metadata ?? {}), name };
      const force = query.get('force') === 'true';
      const live = this.store.get(resourceKey(t), ns, name!);
      options.managedFieldsDone = true;
      const now = this.now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z');
      if (!live)
        return one(
          this.objects.create(t, ns, serverSideApply(undefined, applied, options.manager, force, now), options),
          201,
          options,
        );
      const next = serverSideApply(
        { ...this.objects.present(t, live), metadata: live.metadata },
        applied,
        options.manager,
        force,
        now,
      );
      if (r.sub !== 'status' && t.status) next.status = live.status;
      return one(
        this.objects.update(
          t,
          ns,
          name!,
          { ...next, metadata: { ...next.metadata, resourceVersion: undefined } },
          r.sub,
          options,
        ),
        200,
        options,
      );
    }
    const live = this.objects.get(t, ns, name!);
    let patched: KubeObject;
    if (contentType === 'application/merge-patch+json') patched = mergePatch(live, parseJson(raw));
    else if (contentType === 'application/json-patch+json') patched = jsonPatch(live, parseJson(raw));
    else if (contentType === 'application/strategic-merge-patch+json') {
      if (t.custom)
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
        );
      patched = strategicMergePatch(live, parseJson(raw));
    } else
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
    // A resourceVersion in the patch is a precondition; otherwise the patch applies to whatever is stored.
    const precondition =
      patched.metadata?.resourceVersion !== live.metadata.resourceVersion
        ? patched.metadata?.resourceVersion
        : undefined;
    const body = { ...patched, metadata: { ...patched.metadata, resourceVersion: precondition } };
    return one(this.objects.update(t, ns, name!, body, r.sub, options), 200, options);
  }

  /** The Scale of an object, read at its type's paths (a CRD names them; deployments use `.spec.replicas`). */
  private scaleOf(t: ResourceType, o: KubeObject): object {
    const paths = t.scale as ScaleSubresource;
    const matchLabels = o.spec?.selector?.matchLabels as Record<string, string> | undefined;
    const declared = paths.labelSelectorPath ? atPath(o, paths.labelSelectorPath) : undefined;
    const selector =
      typeof declared === 'string'
        ? declared
        : matchLabels
          ? Object.entries(matchLabels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',')
          : undefined;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: o.metadata.name,
        namespace: o.metadata.namespace,
        uid: o.metadata.uid,
        resourceVersion: o.metadata.resourceVersion,
        creationTimestamp: o.metadata.creationTimestamp,
      },
      spec: { replicas: numberAt(o, paths.specReplicasPath) },
      status: { replicas: numberAt(o, paths.statusReplicasPath), ...(selector ? { selector } : {}) },
    };
  }

  private writeScale(t: ResourceType, ns: string | undefined, name: string, scale: any, options: WriteOptions): object {
    const live = this.objects.get(t, ns, name);
    if (typeof scale?.spec?.replicas !== 'number') throw badRequest('Scale.spec.replicas must be an integer');
    const rv = scale.metadata?.resourceVersion;
    const next = structuredClone({ ...live, metadata: { ...live.metadata, resourceVersion: rv } }) as KubeObject;
    setAtPath(next, (t.scale as ScaleSubresource).specReplicasPath, scale.spec.replicas);
    return this.scaleOf(t, this.objects.update(t, ns, name, next, undefined, options));
  }
}

function parseJson(raw: string): any {
  try {
    return JSON.parse(raw);
  } catch {
    throw badRequest(`couldn't get version/kind; json parse error: invalid JSON body`);
  }
}

function parseYaml(raw: string): any {
  try {
    return yaml.load(raw);
  } catch {
    throw badRequest('error decoding YAML: invalid body');
  }
}

/** The value at a simple JSON path (`.spec.replicas`), as the scale subresource's paths are written. */
function atPath(o: unknown, path: string): unknown {
  let at: unknown = o;
  for (const key of path.split('.').filter((k) => k !== '')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function numberAt(o: unknown, path: string): number {
  const value = atPath(o, path);
  return typeof value === 'number' ? value : 0;
}

function setAtPath(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.').filter((k) => k !== '');
  let at = o;
  for (const key of keys.slice(0, -1)) {
    if (at[key] === null || typeof at[key] !== 'object') at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[keys[keys.length - 1] as string] = value;
}
