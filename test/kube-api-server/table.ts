/**
 * `meta.k8s.io/v1` Table output, which `kubectl get` asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).
 * Columns: Name, then the kind's own columns (a few built-ins below, or a CRD's additionalPrinterColumns), then
 * Age unless a CRD declares its own columns. `date` cells are rendered as ages ("5m3s" style, coarsened like
 * `duration.HumanDuration`), as the real server renders them. Rows carry the object as PartialObjectMetadata
 * by default, the whole object with `includeObject=Object`, nothing with `includeObject=None`.
 */
import type { PrinterColumn, ResourceType } from './resources.js';
import type { KubeObject } from './store.js';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
  cell: (o: KubeObject) => unknown;
}

export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

function age(timestamp: unknown, now: number): string {
  return typeof timestamp === 'string' ? humanDuration(now - Date.parse(timestamp)) : '<unknown>';
}

/**
 * The JSONPath subset CRD printer columns use: `.a.b`, `.a[0]`, and `.a[?(@.k=="v")].b`.
 * Returns undefined when any step is missing, which renders as `<none>`.
 */
export function jsonPath(object: unknown, path: string): unknown {
  const steps = path.match(/\.[^.[]+|\[\?\(@\.[^)]*\)\]|\[\d+\]/g) ?? [];
  let current: any = object;
  for (const step of steps) {
    if (current === undefined || current === null) return undefined;
    if (step.startsWith('.')) current = current[step.slice(1)];
    else if (step.startsWith('[?')) {
      const m = /@\.(\w+)\s*==\s*["']([^"']*)["']/.exec(step);
      current = Array.isArray(current) && m ? current.find((i) => i?.[m[1]!] === m[2]) : undefined;
    } else current = Array.isArray(current) ? current[Number(step.slice(1, -1))] : undefined;
  }
  return current;
}

function builtinColumns(t: ResourceType): Column[] {
  const col = (name: string, cell: (o: KubeObject) => unknown, type = 'string'): Column => ({
    name,
    type,
    format: '',
    description: name,
    priority: 0,
    cell,
  });
  switch (t.kind) {
    case 'Deployment':
      return [
        col('Ready', (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`),
        col('Up-to-date', (o) => o.status?.updatedReplicas ?? 0, 'integer'),
        col('Available', (o) => o.status?.availableReplicas ?? 0, 'integer'),
      ];
    case 'ConfigMap':
    case 'Secret':
      return [col('Data', (o) => Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, 'integer')];
    case 'Lease':
      return [col('Holder', (o) => o.spec?.holderIdentity ?? '')];
    case 'Namespace':
      return [col('Status', (o) => o.status?.phase ?? 'Active')];
    default:
      return [];
  }
}

function printerColumns(columns: PrinterColumn[], now: number): Column[] {
  return columns.map((c) => ({
    name: c.name,
    type: c.type,
    format: c.format ?? '',
    description: c.description ?? '',
    priority: c.priority ?? 0,
    cell: (o: KubeObject) => {
      const value = jsonPath(o, c.jsonPath);
      if (value === undefined || value === null) return null;
      if (c.type === 'date') return age(value, now);
      return typeof value === 'object' ? JSON.stringify(value) : value;
    },
  }));
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function toTable(
  t: ResourceType,
  objects: KubeObject[],
  listMeta: object,
  include: IncludeObject,
  now: number,
): object {
  const name: Column = {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: 'Name must be unique within a namespace.',
    priority: 0,
    cell: (o) => o.metadata.name,
  };
  const ageColumn: Column = {
    name: 'Age',
    type: 'string',
    format: '',
    description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
    priority: 0,
    cell: (o) => age(o.metadata.creationTimestamp, now),
  };
  const own = t.custom?.printerColumns.length
    ? printerColumns(t.custom.printerColumns, now)
    : [...builtinColumns(t), ageColumn];
  const columns = [name, ...own];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: columns.map(({ cell: _, ...definition }) => definition),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o) ?? null),
      ...(include === 'None'
        ? {}
        : {
            object:
              include === 'Object'
                ? o
                : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
          }),
    })),
  };
}
