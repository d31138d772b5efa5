/**
 * Discovery and OpenAPI documents, generated from the registry.
 *
 * Discovery is the legacy (unaggregated) form: `/api` (APIVersions), `/apis` (APIGroupList), `/apis/<group>`
 * (APIGroup) and `/api/v1`, `/apis/<group>/<version>` (APIResourceList). kubectl 1.32 first asks `/api` and `/apis`
 * for the aggregated `apidiscovery.k8s.io/v2` form; a server may answer with the legacy form instead, and
 * client-go then falls back to fetching each group-version, which is what this server relies on.
 *
 * OpenAPI v3 serves, per group-version, each resource's paths with their operations, the
 * `x-kubernetes-group-version-kind` and `x-kubernetes-action` extensions and the `fieldValidation`/`dryRun`
 * parameters, because kubectl reads them to decide whether the server validates fields itself (it does).
 * Component schemas are open objects (`x-kubernetes-preserve-unknown-fields`) except for custom resources, whose
 * CRD schema is served. OpenAPI v2 is a valid document with no paths: nothing kubectl runs here needs more.
 */
import { apiVersionOf, VERBS, type Registry, type ResourceType } from './resources.js';

const GROUP_ORDER = ['', 'apps', 'autoscaling', 'policy', 'coordination.k8s.io', 'rbac.authorization.k8s.io'];

function sortedGroups(registry: Registry): [string, string[]][] {
  const rank = (g: string): number => (GROUP_ORDER.includes(g) ? GROUP_ORDER.indexOf(g) : GROUP_ORDER.length);
  return [...registry.groupVersions().entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

function apiGroup(name: string, versions: string[]): object {
  const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: list, preferredVersion: list[0] };
}

export function apiVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

export function apiGroupList(registry: Registry): object {
  const groups = sortedGroups(registry)
    .filter(([g]) => g !== '')
    .map(([g, v]) => apiGroup(g, v));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroupDocument(registry: Registry, group: string): object | undefined {
  const versions = registry.groupVersions().get(group);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, versions) } : undefined;
}

export function apiResourceList(registry: Registry, group: string, version: string): object | undefined {
  const types = registry.all().filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const resources: object[] = [];
  for (const t of types) {
    resources.push({
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames ? { shortNames: t.shortNames } : {}),
      ...(t.categories ? { categories: t.categories } : {}),
    });
    if (t.status)
      resources.push({
        name: `${t.plural}/status`,
        singularName: '',
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: ['get', 'patch', 'update'],
      });
    if (t.scale)
      resources.push({
        name: `${t.plural}/scale`,
        singularName: '',
        namespaced: t.namespaced,
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
        verbs: ['get', 'patch', 'update'],
      });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(types[0]!), resources };
}

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

export function openApiV3Root(registry: Registry, revision: number): object {
  const paths: Record<string, object> = {};
  for (const [group, versions] of registry.groupVersions())
    for (const version of versions)
      paths[gvPath(group, version)] = { serverRelativeURL: `/openapi/v3/${gvPath(group, version)}?hash=${revision}` };
  return { paths };
}

function schemaName(t: ResourceType): string {
  const group = t.group || 'core';
  return `${group.split('.').reverse().join('.')}.${t.version}.${t.kind}`;
}

const QUERY = (name: string): object => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });

function operations(t: ResourceType, item: boolean): Record<string, object> {
  const gvk = { group: t.group, version: t.version, kind: t.kind };
  const body = { content: { '*/*': { schema: { $ref: `#/components/schemas/${schemaName(t)}` } } } };
  const op = (action: string, extra: object = {}): object => ({
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    responses: { '200': { description: 'OK', ...body } },
    ...extra,
  });
  const writes = { parameters: [QUERY('dryRun'), QUERY('fieldManager'), QUERY('fieldValidation')], requestBody: body };
  if (item)
    return {
      get: op('get'),
      put: op('put', writes),
      patch: op('patch', { ...writes, parameters: [...writes.parameters, QUERY('force')] }),
      delete: op('delete', { parameters: [QUERY('dryRun')] }),
    };
  return { get: op('list'), post: op('post', writes), delete: op('deletecollection') };
}

export function openApiV3GroupVersion(registry: Registry, group: string, version: string): object | undefined {
  const types = registry.all().filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const paths: Record<string, object> = {};
  const schemas: Record<string, object> = {};
  for (const t of types) {
    const base = `/${gvPath(group, version)}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.plural}`;
    paths[base] = operations(t, false);
    paths[`${base}/{name}`] = operations(t, true);
    if (t.status) paths[`${base}/{name}/status`] = operations(t, true);
    schemas[schemaName(t)] = {
      ...(t.custom?.schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }),
      'x-kubernetes-group-version-kind': [{ group: t.group, version: t.version, kind: t.kind }],
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas },
  };
}

export function openApiV2(): object {
  return { swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths: {}, definitions: {} };
}

export function version(): object {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0-durable-test',
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.23',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}
