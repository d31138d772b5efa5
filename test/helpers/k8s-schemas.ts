/**
 * Validates Kubernetes manifests against the published schemas, as an API server would before storing them, so
 * that a test of generated YAML (the Helm chart's, the operator's) fails on what a real cluster would refuse.
 *
 * WHAT IS IN: the OpenAPI schemas of Kubernetes 1.32 (`kubernetes-models` 4.x) for the built-in kinds of
 * {@link supportedKinds}, the Prometheus Operator's `monitoring.coreos.com/v1` and KEDA's `keda.sh/v1alpha1` kinds:
 * types, required fields, enums and formats; unknown fields, which the published schemas leave open but a server
 * with `fieldValidation=Strict` (kubectl's and Helm's default) rejects; `metadata.name` present; label keys and
 * values in the form the server accepts.
 *
 * WHAT IS DELIBERATELY NOT: the server's own validation beyond the schema (immutable fields, a Deployment's
 * selector matching its template's labels, cross-object references), CEL rules, custom resources of other CRDs
 * (an unknown apiVersion/kind throws: it is never silently accepted).
 *
 * @example
 * import { validateManifest } from '../helpers/k8s-schemas.js';
 * for (const doc of parseAllDocuments(rendered)) validateManifest(doc.toJS());
 */
import * as apiextensionsV1 from 'kubernetes-models/apiextensions.k8s.io/v1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as autoscalingV1 from 'kubernetes-models/autoscaling/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as batchV1 from 'kubernetes-models/batch/v1';
import * as coordinationV1 from 'kubernetes-models/coordination.k8s.io/v1';
import * as eventsV1 from 'kubernetes-models/events.k8s.io/v1';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as rbacV1 from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as coreV1 from 'kubernetes-models/v1';
import * as kedaV1alpha1 from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as monitoringV1 from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

/** One reason a manifest is invalid: a JSON pointer into it and what is wrong there. */
export interface ManifestProblem {
  path: string;
  message: string;
}

/** Thrown by {@link validateManifest}; the message names the kind, the name and every problem. */
export class ManifestValidationError extends Error {
  constructor(
    readonly kind: string,
    readonly objectName: string,
    readonly problems: readonly ManifestProblem[],
  ) {
    super(
      `${kind} ${JSON.stringify(objectName)} is invalid:\n` +
        problems.map((p) => `  ${p.path || '/'}: ${p.message}`).join('\n'),
    );
    this.name = 'ManifestValidationError';
  }
}

/** The errors the compiled schemas (ajv) report. */
interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params?: { allowedValues?: unknown[] };
}

interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  readonly prototype: { validate(): void };
}

const modules: readonly Record<string, unknown>[] = [
  coreV1,
  appsV1,
  batchV1,
  rbacV1,
  autoscalingV1,
  autoscalingV2,
  policyV1,
  coordinationV1,
  networkingV1,
  apiextensionsV1,
  eventsV1,
  monitoringV1,
  kedaV1alpha1,
];

/** `apiVersion kind` → the model class whose validate() holds the kind's schema. */
const models = new Map<string, ModelClass>();
for (const module of modules) {
  for (const value of Object.values(module)) {
    if (typeof value !== 'function') continue;
    const model = value as unknown as Partial<ModelClass>;
    if (typeof model.apiVersion === 'string' && typeof model.kind === 'string') {
      models.set(`${model.apiVersion} ${model.kind}`, model as ModelClass);
    }
  }
}

/** Every `apiVersion kind` that {@link validateManifest} knows, sorted. */
export function supportedKinds(): string[] {
  return [...models.keys()].sort();
}

/**
 * Throws a {@link ManifestValidationError} unless `manifest` (one parsed Kubernetes object) is valid for its
 * apiVersion and kind; throws too for a kind it does not know.
 * @example
 * validateManifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } });
 */
export function validateManifest(manifest: unknown): void {
  if (!isObject(manifest)) throw new ManifestValidationError('(not an object)', '', [problem('', 'must be an object')]);
  const { apiVersion, kind } = manifest;
  const name = isObject(manifest.metadata) ? manifest.metadata.name : undefined;
  const objectName = typeof name === 'string' ? name : '';
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    throw new ManifestValidationError(typeof kind === 'string' ? kind : '(no kind)', objectName, [
      problem('', 'must have string apiVersion and kind'),
    ]);
  }
  const model = models.get(`${apiVersion} ${kind}`);
  if (!model) {
    throw new ManifestValidationError(kind, objectName, [
      problem('', `unknown kind ${apiVersion} ${kind}: no schema for it (supportedKinds() lists those known)`),
    ]);
  }
  const problems: ManifestProblem[] = [];
  const { proxy, unread } = tracking(manifest);
  try {
    model.prototype.validate.call(proxy);
  } catch (error) {
    const errors = (error as { errors?: AjvError[] }).errors;
    if (!errors) throw error;
    for (const e of errors) {
      const allowed = e.keyword === 'enum' ? `: ${JSON.stringify(e.params?.allowedValues)}` : '';
      problems.push(problem(e.instancePath, `${e.message ?? `fails ${e.keyword}`}${allowed}`));
    }
  }
  for (const path of unread()) problems.push(problem(path, 'unknown field'));
  problems.push(...metadataProblems(manifest.metadata, '/metadata'));
  const template = (manifest.spec as { template?: { metadata?: unknown } } | undefined)?.template;
  if (isObject(template)) problems.push(...labelProblems(template.metadata, '/spec/template/metadata'));
  if (problems.length > 0) throw new ManifestValidationError(kind, objectName, problems);
}

/**
 * A proxy of `root` that records which properties the schema's validator reads, and `unread()`: the fields of
 * every object the validator looked into (read at least one property of) that it never read. The compiled schemas
 * read every declared property of an object (present or not), so an unread one is a field the schema does not
 * declare; objects it enumerates (maps: labels, data, resources) and objects it never looks into (free-form JSON:
 * a CRD's defaults, preserved unknown fields) are not checked.
 */
function tracking(root: Record<string, unknown>): { proxy: unknown; unread: () => string[] } {
  const reads = new WeakMap<object, { keys: Set<PropertyKey>; enumerated: boolean }>();
  const proxies = new WeakMap<object, object>();
  const record = (target: object) => {
    let r = reads.get(target);
    if (!r) reads.set(target, (r = { keys: new Set(), enumerated: false }));
    return r;
  };
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    let proxy = proxies.get(value);
    if (!proxy) {
      proxy = new Proxy(value, {
        get(target, key, receiver) {
          record(target).keys.add(key);
          return wrap(Reflect.get(target, key, receiver));
        },
        has(target, key) {
          record(target).keys.add(key);
          return Reflect.has(target, key);
        },
        getOwnPropertyDescriptor(target, key) {
          record(target).keys.add(key);
          return Reflect.getOwnPropertyDescriptor(target, key);
        },
        ownKeys(target) {
          record(target).enumerated = true;
          return Reflect.ownKeys(target);
        },
      });
      proxies.set(value, proxy);
    }
    return proxy;
  };
  const unread = (): string[] => {
    const found: string[] = [];
    const walk = (value: unknown, path: string): void => {
      if (Array.isArray(value)) return value.forEach((item, i) => walk(item, `${path}/${i}`));
      if (!isObject(value)) return;
      const r = reads.get(value);
      if (!r) return;
      for (const [key, child] of Object.entries(value)) {
        const childPath = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
        if (r.enumerated || r.keys.has(key)) walk(child, childPath);
        else if (!unchecked(key)) found.push(childPath);
      }
    };
    walk(root, '');
    return found;
  };
  return { proxy: wrap(root), unread };
}

/**
 * Fields the schemas declare but their compiled validators never read, so neither checked nor detectable as
 * unknown: measured by comparing each model's TypeScript interface with its validator's reads, across the three
 * packages, these are the only ones (`description` of JSONSchemaProps, printer columns and external docs; the
 * `x-kubernetes-*` extensions of JSONSchemaProps).
 */
function unchecked(key: string): boolean {
  return key === 'description' || key.startsWith('x-kubernetes-');
}

const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValue = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

function metadataProblems(metadata: unknown, path: string): ManifestProblem[] {
  if (!isObject(metadata) || (typeof metadata.name !== 'string' && typeof metadata.generateName !== 'string')) {
    return [problem(`${path}/name`, 'a name (or generateName) is required')];
  }
  return labelProblems(metadata, path);
}

/** The API server checks label syntax (not the schema): a value of more than 63 characters fails an install. */
function labelProblems(metadata: unknown, path: string): ManifestProblem[] {
  const labels = isObject(metadata) && isObject(metadata.labels) ? metadata.labels : {};
  const problems: ManifestProblem[] = [];
  for (const [key, value] of Object.entries(labels)) {
    if (!labelKey.test(key) || key.split('/').at(-1)!.length > 63) {
      problems.push(problem(`${path}/labels/${key}`, 'not a valid label key'));
    }
    if (typeof value !== 'string' || !labelValue.test(value)) {
      problems.push(problem(`${path}/labels/${key}`, `label value ${JSON.stringify(value)} is not valid`));
    }
  }
  return problems;
}

function problem(path: string, message: string): ManifestProblem {
  return { path, message };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
