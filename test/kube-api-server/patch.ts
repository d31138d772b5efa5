/**
 * The three patch formats of PATCH requests, applied to plain JSON.
 *
 * - JSON merge patch (RFC 7386): objects merge, `null` deletes, anything else (lists included) replaces.
 * - JSON patch (RFC 6902): add, remove, replace, move, copy, test; a failed `test` or a missing path is an error.
 * - Strategic merge patch, as kubectl sends it for built-in kinds. Supported: merge-patch semantics, plus lists
 *   merged by key where Kubernetes declares `patchStrategy: merge` (MERGE_KEYS below: containers and env by
 *   `name`, volumeMounts by `mountPath`, ...), `$patch: delete` on a list item, `$patch: replace` on a map or
 *   list, `$setElementOrder/<list>` (reorders merged items), `$deleteFromPrimitiveList/<list>`, and `finalizers`
 *   merged as a set. Not supported: `$retainKeys` (ignored) and per-type merge keys beyond the table below.
 */
import { ApiError, badRequest } from './status.js';

type Json = any;

export function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`the JSON pointer "${path}" does not start with /`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, parts: string[], path: string): { parent: Json; last: string } {
  let parent = doc;
  for (const part of parts.slice(0, -1)) {
    parent = Array.isArray(parent) ? parent[Number(part)] : isObject(parent) ? parent[part] : undefined;
    if (parent === undefined)
      throw new ApiError(
        422,
        'Invalid',
        `the server rejected our request due to an error in our request: doc is missing path: "${path}"`,
      );
  }
  return { parent, last: parts[parts.length - 1]! };
}

function readPointer(doc: Json, path: string): Json {
  let current = doc;
  for (const part of pointer(path)) {
    current = Array.isArray(current) ? current[Number(part)] : isObject(current) ? current[part] : undefined;
    if (current === undefined) throw new ApiError(422, 'Invalid', `doc is missing path: "${path}"`);
  }
  return current;
}

export function jsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw badRequest('a JSON patch must be a list of operations');
  const doc = { root: structuredClone(target) };
  for (const op of operations) {
    const parts = ['root', ...pointer(op.path)];
    const { parent, last } = parentOf(doc, parts, op.path);
    const remove = (): Json => {
      if (Array.isArray(parent)) return parent.splice(Number(last), 1)[0];
      if (!isObject(parent) || !(last in parent))
        throw new ApiError(422, 'Invalid', `doc is missing path: "${op.path}"`);
      const old = parent[last];
      delete parent[last];
      return old;
    };
    const add = (value: Json): void => {
      if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, structuredClone(value));
      else if (isObject(parent)) parent[last] = structuredClone(value);
      else throw new ApiError(422, 'Invalid', `doc is missing path: "${op.path}"`);
    };
    switch (op.op) {
      case 'add':
        add(op.value);
        break;
      case 'remove':
        remove();
        break;
      case 'replace':
        remove();
        add(op.value);
        break;
      case 'move':
      case 'copy': {
        const value = readPointer(doc.root, op.from);
        if (op.op === 'move') {
          const from = parentOf(doc, ['root', ...pointer(op.from)], op.from);
          if (Array.isArray(from.parent)) from.parent.splice(Number(from.last), 1);
          else delete from.parent[from.last];
        }
        add(value);
        break;
      }
      case 'test':
        if (JSON.stringify(readPointer(doc.root, op.path)) !== JSON.stringify(op.value))
          throw new ApiError(422, 'Invalid', `testing value ${op.path} failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc.root;
}

/** Lists Kubernetes merges by key (patchStrategy "merge"), by field name, whatever the parent. */
export const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  ports: 'containerPort',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  conditions: 'type',
  ownerReferences: 'uid',
};
/** Lists of scalars Kubernetes merges as sets. */
const SET_LISTS = new Set(['finalizers']);

function mergeKeyFor(field: string, items: Json[]): string | undefined {
  const key = MERGE_KEYS[field];
  // Service ports carry `port`, not `containerPort`; both are `ports` lists with patchStrategy merge.
  if (field === 'ports' && items.some((i) => isObject(i) && 'port' in i && !('containerPort' in i))) return 'port';
  return key;
}

function mergeList(field: string, target: Json[], patch: Json[]): Json[] {
  if (SET_LISTS.has(field)) return [...new Set([...target, ...patch])];
  const key = mergeKeyFor(field, [...target, ...patch]);
  if (!key) return structuredClone(patch.filter((i) => !(isObject(i) && i.$patch)));
  if (patch.some((i) => isObject(i) && i.$patch === 'replace')) return patch.filter((i) => !(isObject(i) && i.$patch));
  const result = structuredClone(target);
  for (const item of patch) {
    if (!isObject(item)) continue;
    const index = result.findIndex((r: Json) => isObject(r) && r[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) result[index] = strategicMergePatch(result[index], item);
    else result.push(strategicMergePatch({}, item));
  }
  return result;
}

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const result: Record<string, Json> = isObject(target) ? { ...target } : {};
  const orders: [string, Json[]][] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue;
    if (key.startsWith('$setElementOrder/')) {
      orders.push([key.slice('$setElementOrder/'.length), value]);
      continue;
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(result[field])) result[field] = result[field].filter((v: Json) => !value.includes(v));
      continue;
    }
    if (value === null) delete result[key];
    else if (Array.isArray(value)) result[key] = mergeList(key, Array.isArray(result[key]) ? result[key] : [], value);
    else {
      const merged = strategicMergePatch(result[key], value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
  }
  for (const [field, order] of orders) {
    const list = result[field];
    const key = mergeKeyFor(field, Array.isArray(list) ? list : []);
    if (!Array.isArray(list)) continue;
    const rank = (item: Json): number => {
      const i = order.findIndex((o) => (key && isObject(o) ? o[key] === item[key] : o === item));
      return i < 0 ? order.length : i;
    };
    result[field] = [...list].sort((a, b) => rank(a) - rank(b));
  }
  return result;
}
