/**
 * Server-side apply and managedFields, in a simplified model of structured-merge-diff.
 *
 * The model: a field set is a set of leaf paths. A path step is `f:<field>`, `k:{"<key>":<value>}` for an item
 * of a list merged by key (the keys of MERGE_KEYS in patch.ts: containers and env by name, ...), or `v:<value>`
 * for an item of a set list (finalizers). Any other list is atomic: the list is one leaf. An object that holds
 * nothing is a leaf. Sets are stored as managedFields entries (FieldsV1 tries, `.` marking a node that is
 * itself owned) and read back from them on every write, so what clients see is the whole state.
 *
 * - Apply by manager M: fields of the applied configuration that another manager owns with a different value
 *   are conflicts → 409 Conflict listing each, unless `force=true`, which takes them away from that manager.
 *   Fields M applied before and no longer applies are removed from the object unless another manager owns them.
 *   Then the configuration merges into the object, and M's Apply entry holds exactly its fields.
 * - Any other write by manager U (create, update, patch) makes U own every leaf it changed, taken from whoever
 *   owned it; it never conflicts, as in the real server.
 * Not modelled: ownership of non-leaf fields, per-version entries (all entries carry the object's apiVersion),
 * `x-kubernetes-list-type` on CRD schemas (CRD lists are atomic unless named in MERGE_KEYS), and `subresource`.
 */
import { canonical } from './canonical.js';
import { isObject, MERGE_KEYS } from './patch.js';
import { ApiError } from './status.js';
import type { KubeObject } from './store.js';

type Json = any;
type Path = string[];

const SET_LISTS = new Set(['finalizers']);
/** Metadata a client never owns: identity and server-set fields. */
const SERVER_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'generateName',
]);

function leaves(value: Json, prefix: Path, field: string, out: Path[]): void {
  if (Array.isArray(value)) {
    const key = MERGE_KEYS[field];
    if (SET_LISTS.has(field)) for (const v of value) out.push([...prefix, `v:${JSON.stringify(v)}`]);
    else if (key && value.every((i) => isObject(i) && i[key] !== undefined))
      for (const item of value) leaves(item, [...prefix, `k:${JSON.stringify({ [key]: item[key] })}`], '', out);
    else out.push(prefix);
    return;
  }
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leaves(v, [...prefix, `f:${k}`], k, out);
    return;
  }
  out.push(prefix);
}

/** The paths a client can own in `object`. */
export function fieldPaths(object: KubeObject): Path[] {
  const out: Path[] = [];
  for (const [k, v] of Object.entries(object)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if (k === 'metadata') {
      for (const [mk, mv] of Object.entries(v ?? {}))
        if (!SERVER_METADATA.has(mk)) leaves(mv, ['f:metadata', `f:${mk}`], mk, out);
    } else leaves(v, [`f:${k}`], k, out);
  }
  return out;
}

function step(value: Json, s: string): Json {
  if (value === undefined || value === null) return undefined;
  if (s.startsWith('f:')) return isObject(value) ? value[s.slice(2)] : undefined;
  if (!Array.isArray(value)) return undefined;
  if (s.startsWith('v:')) return value.find((i) => JSON.stringify(i) === s.slice(2));
  const [[key, want]] = Object.entries(JSON.parse(s.slice(2)) as Record<string, Json>) as [[string, Json]];
  return value.find((i) => isObject(i) && i[key] === want);
}

export function valueAt(object: Json, path: Path): Json {
  return path.reduce(step, object);
}

function removeAt(object: Json, path: Path): void {
  const parent = valueAt(object, path.slice(0, -1));
  const last = path[path.length - 1]!;
  if (last.startsWith('f:') && isObject(parent)) delete parent[last.slice(2)];
  else if (Array.isArray(parent)) {
    const item = step(parent, last);
    const index = parent.indexOf(item);
    if (index >= 0) parent.splice(index, 1);
  }
}

/** Applied configuration merged into the live object: keyed lists by key, set lists as sets, others replaced. */
function merge(live: Json, applied: Json, field: string): Json {
  if (Array.isArray(applied) && Array.isArray(live)) {
    if (SET_LISTS.has(field)) return [...new Set([...live, ...applied])];
    const key = MERGE_KEYS[field];
    if (!key) return structuredClone(applied);
    const result = structuredClone(live);
    for (const item of applied) {
      const i = result.findIndex((r: Json) => isObject(r) && r[key] === item[key]);
      if (i >= 0) result[i] = merge(result[i], item, '');
      else result.push(structuredClone(item));
    }
    return result;
  }
  if (isObject(applied) && isObject(live)) {
    const result = { ...live };
    for (const [k, v] of Object.entries(applied)) result[k] = merge(live[k], v, k);
    return result;
  }
  return structuredClone(applied);
}

interface Entry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fields: Map<string, Path>;
}

function toTrie(paths: Path[]): Json {
  const root: Json = {};
  for (const path of paths) {
    let node = root;
    for (const s of path) node = node[s] ??= {};
  }
  // A node that is owned itself and also has owned children is marked with '.', as FieldsV1 does.
  for (const path of paths) {
    const node = path.reduce((n: Json, s) => n[s], root);
    if (Object.keys(node).some((k) => k !== '.')) node['.'] = {};
  }
  return root;
}

function fromTrie(trie: Json, prefix: Path = [], out: Path[] = []): Path[] {
  for (const [k, child] of Object.entries(trie ?? {})) {
    if (k === '.') {
      out.push(prefix);
      continue;
    }
    if (Object.keys(child as object).length === 0) out.push([...prefix, k]);
    else fromTrie(child, [...prefix, k], out);
  }
  return out;
}

const id = (p: Path): string => JSON.stringify(p);

function readEntries(object: KubeObject | undefined): Entry[] {
  return ((object?.metadata.managedFields as Json[]) ?? []).map((m) => ({
    manager: m.manager,
    operation: m.operation,
    apiVersion: m.apiVersion,
    time: m.time,
    fields: new Map(fromTrie(m.fieldsV1).map((p) => [id(p), p])),
  }));
}

function writeEntries(object: KubeObject, entries: Entry[]): void {
  const kept = entries.filter((e) => e.fields.size > 0);
  if (kept.length === 0) delete object.metadata.managedFields;
  else
    object.metadata.managedFields = kept.map((e) => ({
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      time: e.time,
      fieldsType: 'FieldsV1',
      fieldsV1: toTrie([...e.fields.values()]),
    }));
}

function entryFor(
  entries: Entry[],
  manager: string,
  operation: Entry['operation'],
  apiVersion: string,
  now: string,
): Entry {
  let entry = entries.find((e) => e.manager === manager && e.operation === operation);
  if (!entry) entries.push((entry = { manager, operation, apiVersion, time: now, fields: new Map() }));
  entry.time = now;
  entry.apiVersion = apiVersion;
  return entry;
}

/** Records a non-apply write: `manager` owns every leaf that differs between `before` and `after`. */
export function recordUpdate(before: KubeObject | undefined, after: KubeObject, manager: string, now: string): void {
  // A client may write managedFields itself (kubectl does, to migrate client-side apply to server-side apply):
  // the written entries replace the stored ones, as the real server accepts them.
  const written = after.metadata.managedFields;
  const own = written !== undefined && canonical(written) !== canonical(before?.metadata.managedFields);
  const entries = readEntries(own ? after : before);
  const changed = fieldPaths(after).filter((p) => canonical(valueAt(before, p)) !== canonical(valueAt(after, p)));
  const present = new Set(fieldPaths(after).map(id));
  for (const e of entries) for (const key of [...e.fields.keys()]) if (!present.has(key)) e.fields.delete(key);
  if (changed.length > 0) {
    for (const e of entries) for (const p of changed) e.fields.delete(id(p));
    const mine = entryFor(entries, manager, 'Update', after.apiVersion ?? '', now);
    for (const p of changed) mine.fields.set(id(p), p);
  }
  writeEntries(after, entries);
}

/** Server-side apply of `applied` onto `live` (undefined when creating). Returns the new object. */
export function serverSideApply(
  live: KubeObject | undefined,
  applied: KubeObject,
  manager: string,
  force: boolean,
  now: string,
): KubeObject {
  const entries = readEntries(live);
  const mine = fieldPaths(applied);
  const conflicts: { manager: string; apiVersion: string; path: Path }[] = [];
  for (const e of entries) {
    if (e.manager === manager) continue;
    for (const p of mine)
      if (e.fields.has(id(p)) && canonical(valueAt(live, p)) !== canonical(valueAt(applied, p)))
        conflicts.push({ manager: e.manager, apiVersion: e.apiVersion, path: p });
  }
  if (conflicts.length > 0 && !force) {
    const show = (p: Path): string =>
      p.map((s) => (s.startsWith('f:') ? `.${s.slice(2)}` : `[${s.slice(2)}]`)).join('');
    const causes = conflicts.map((c) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with "${c.manager}" using ${c.apiVersion}`,
      field: show(c.path),
    }));
    const listed = causes.map((c) => `${c.message}: ${c.field}`).join('\n- ');
    throw new ApiError(
      409,
      'Conflict',
      `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${conflicts.length === 1 ? listed : `\n- ${listed}`}`,
      { causes },
    );
  }
  for (const c of conflicts) for (const e of entries) if (e.manager === c.manager) e.fields.delete(id(c.path));
  const entry = entryFor(entries, manager, 'Apply', applied.apiVersion ?? '', now);
  const result: KubeObject = structuredClone(live ?? { metadata: { name: applied.metadata.name } });
  const appliedIds = new Set(mine.map(id));
  for (const [key, p] of entry.fields)
    if (!appliedIds.has(key) && !entries.some((e) => e !== entry && e.fields.has(key))) removeAt(result, p);
  const { metadata: appliedMeta, ...rest } = applied;
  const merged = merge(result, rest, '') as KubeObject;
  merged.metadata = merge(
    result.metadata,
    Object.fromEntries(Object.entries(appliedMeta ?? {}).filter(([k]) => !SERVER_METADATA.has(k))),
    '',
  );
  entry.fields = new Map(mine.map((p) => [id(p), p]));
  writeEntries(merged, entries);
  return merged;
}
