/**
 * Object lifecycle with the real server's semantics: create, update (optimistic concurrency), patch, delete
 * with finalizers, subresources, and background garbage collection of dependents.
 *
 * Invariants:
 * - A write whose body carries `metadata.resourceVersion` succeeds only if it equals the stored one (409
 *   Conflict otherwise); a write without one is unconditional, as the real server allows for these kinds.
 * - A write that changes nothing is not stored: no new resourceVersion, no watch event.
 * - `metadata.generation` starts at 1 and is bumped only when something other than metadata and status changes.
 * - With a status subresource, writes to the object keep the stored status and `/status` writes change only it.
 * - An object with finalizers is not removed by DELETE: it gets `deletionTimestamp` and stays until an update
 *   empties its finalizers. A deleted owner's dependents are deleted in the background once all of their owners
 *   are gone (propagationPolicy Background, the default; Foreground is treated as Background; Orphan removes the
 *   owner's references from its dependents).
 */
import { randomUUID } from 'node:crypto';
import { recordUpdate } from './apply.js';
import { canonical } from './canonical.js';
import { acceptedStatus, typesOfCrd, validateCrd } from './crd.js';
import { apiVersionOf, type Registry, type ResourceType } from './resources.js';
import { applyDefaults, prune, validate } from './schema.js';
import { alreadyExists, badRequest, conflict, invalid, notFound } from './status.js';
import type { KubeObject, Store } from './store.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions {
  manager: string;
  fieldValidation: FieldValidation;
  dryRun: boolean;
  /** Filled with `Warning` header texts (unknown fields under Warn). */
  warnings: string[];
  /** Set when server-side apply already recorded managedFields. */
  managedFieldsDone?: boolean;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function resourceKey(t: ResourceType): string {
  return `${t.group}/${t.plural}`;
}

function specOf(o: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = o;
  return canonical(rest);
}

/** Equal but for resourceVersion and managedFields timestamps: a write that changes only those is a no-op. */
function sameContent(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject): string => {
    const { resourceVersion: _r, managedFields, ...metadata } = o.metadata;
    const owners = ((managedFields as any[]) ?? []).map(({ time: _t, ...entry }) => entry);
    return canonical({ ...o, metadata, owners });
  };
  return strip(a) === strip(b);
}

export class Objects {
  private gcScheduled = false;

  constructor(
    private readonly store: Store,
    private readonly registry: Registry,
    private readonly now: () => Date,
  ) {}

  get(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const found = this.store.get(resourceKey(t), namespace, name);
    if (!found) throw notFound(t.plural, t.group, name);
    return this.present(t, found);
  }

  /** Stored objects are version-less; a read names the version it was asked for. */
  present(t: ResourceType, o: KubeObject): KubeObject {
    return { apiVersion: apiVersionOf(t), kind: t.kind, ...o };
  }

  create(t: ResourceType, namespace: string | undefined, body: KubeObject, options: WriteOptions): KubeObject {
    this.checkKind(t, body);
    const metadata = { ...(body.metadata ?? {}) };
    if (!metadata.name && metadata.generateName) metadata.name = `${metadata.generateName}${randomUUID().slice(0, 5)}`;
    if (!metadata.name)
      throw invalid(t.kind, t.group, '', [
        {
          reason: 'FieldValueRequired',
          field: 'metadata.name',
          message: 'Required value: name or generateName is required',
        },
      ]);
    if (metadata.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
    if (!DNS_SUBDOMAIN.test(metadata.name) || metadata.name.length > 253)
      throw invalid(t.kind, t.group, metadata.name, [
        {
          reason: 'FieldValueInvalid',
          field: 'metadata.name',
          message: `Invalid value: "${metadata.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        },
      ]);
    if (t.namespaced) {
      if (metadata.namespace && metadata.namespace !== namespace)
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      metadata.namespace = namespace;
      if (!this.store.get('/namespaces', undefined, namespace!)) throw notFound('namespaces', '', namespace!);
    } else delete metadata.namespace;
    if (this.store.get(resourceKey(t), metadata.namespace, metadata.name))
      throw alreadyExists(t.plural, t.group, metadata.name);
    const object: KubeObject = { ...body, apiVersion: apiVersionOf(t), kind: t.kind, metadata };
    metadata.uid = randomUUID();
    metadata.creationTimestamp = this.timestamp();
    delete metadata.deletionTimestamp;
    if (t.generation) metadata.generation = 1;
    if (t.status) delete object.status;
    this.prepare(t, undefined, object, options);
    if (!options.managedFieldsDone) recordUpdate(undefined, object, options.manager, this.timestamp());
    if (options.dryRun) return object;
    const stored = this.store.put(resourceKey(t), this.strip(object));
    this.afterWrite(t, stored);
    return this.present(t, stored);
  }

  /** PUT, and the second half of every PATCH. `sub` is 'status' for the status subresource. */
  update(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    body: KubeObject,
    sub: string | undefined,
    options: WriteOptions,
  ): KubeObject {
    this.checkKind(t, body);
    const existing = this.store.get(resourceKey(t), namespace, name);
    if (!existing) throw notFound(t.plural, t.group, name);
    if (body.metadata?.name && body.metadata.name !== name)
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    const wanted = body.metadata?.resourceVersion;
    if (wanted && wanted !== existing.metadata.resourceVersion)
      throw conflict(
        t.plural,
        t.group,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    if (body.metadata?.uid && body.metadata.uid !== existing.metadata.uid)
      throw conflict(
        t.plural,
        t.group,
        name,
        `Precondition failed: UID in precondition: ${body.metadata.uid}, UID in object meta: ${existing.metadata.uid}`,
      );
    let next: KubeObject;
    if (sub === 'status') next = { ...existing, status: body.status };
    else {
      next = { ...body, apiVersion: apiVersionOf(t), kind: t.kind, metadata: { ...body.metadata } };
      for (const key of [
        'uid',
        'creationTimestamp',
        'deletionTimestamp',
        'deletionGracePeriodSeconds',
        'generation',
        'namespace',
      ])
        if (existing.metadata[key] === undefined) delete next.metadata[key];
        else next.metadata[key] = existing.metadata[key];
      next.metadata.name = name;
      if (t.status) {
        if (existing.status === undefined) delete next.status;
        else next.status = existing.status;
      }
      if (
        existing.metadata.deletionTimestamp &&
        (next.metadata.finalizers ?? []).some((f: string) => !(existing.metadata.finalizers ?? []).includes(f))
      )
        throw invalid(t.kind, t.group, name, [
          {
            reason: 'FieldValueForbidden',
            field: 'metadata.finalizers',
            message: 'Forbidden: no new finalizers can be added if the object is being deleted',
          },
        ]);
    }
    this.prepare(t, existing, next, options);
    if (
      t.generation &&
      specOf(next) !== specOf({ ...existing, apiVersion: next.apiVersion, kind: next.kind } as KubeObject)
    )
      next.metadata.generation = (existing.metadata.generation ?? 0) + 1;
    if (!options.managedFieldsDone)
      recordUpdate(
        { ...existing, apiVersion: next.apiVersion, kind: next.kind } as KubeObject,
        next,
        options.manager,
        this.timestamp(),
      );
    const stripped = this.strip(next);
    if (sameContent(stripped, existing) || options.dryRun) return this.present(t, options.dryRun ? next : existing);
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      const removed = this.store.remove(resourceKey(t), namespace, name)!;
      this.afterDelete(t, removed);
      return this.present(t, removed);
    }
    const stored = this.store.put(resourceKey(t), stripped);
    this.afterWrite(t, stored);
    return this.present(t, stored);
  }

  /** Returns the object as it is after the call: still present (finalizers) or gone. */
  delete(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    options: Record<string, any>,
  ): { object: KubeObject; gone: boolean } {
    const existing = this.store.get(resourceKey(t), namespace, name);
    if (!existing) throw notFound(t.plural, t.group, name);
    const pre = options.preconditions ?? {};
    if (pre.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion)
      throw conflict(
        t.plural,
        t.group,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion}`,
      );
    if (pre.uid && pre.uid !== existing.metadata.uid)
      throw conflict(
        t.plural,
        t.group,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid}`,
      );
    if (options.dryRun) return { object: this.present(t, existing), gone: false };
    if (options.propagationPolicy === 'Orphan') this.orphanDependents(existing.metadata.uid!);
    if (t.plural === 'namespaces' && !t.group) this.deleteContents(name);
    if ((existing.metadata.finalizers ?? []).length > 0) {
      if (existing.metadata.deletionTimestamp) return { object: this.present(t, existing), gone: false };
      existing.metadata.deletionTimestamp = this.timestamp();
      existing.metadata.deletionGracePeriodSeconds = 0;
      const stored = this.store.put(resourceKey(t), existing);
      return { object: this.present(t, stored), gone: false };
    }
    const removed = this.store.remove(resourceKey(t), namespace, name)!;
    this.afterDelete(t, removed);
    return { object: this.present(t, removed), gone: true };
  }

  /** Deletes every dependent whose owners are all gone, repeatedly (a dependent may own others). */
  collectGarbage(): number {
    let deleted = 0;
    for (;;) {
      const all = this.store.everything();
      const uids = new Set(all.map((e) => e.object.metadata.uid));
      const orphans = all.filter(({ object }) => {
        const refs: any[] = object.metadata.ownerReferences ?? [];
        return refs.length > 0 && refs.every((r) => !uids.has(r.uid)) && !object.metadata.deletionTimestamp;
      });
      if (orphans.length === 0) return deleted;
      for (const { resource, object } of orphans) {
        const t = this.typeOfResource(resource);
        if (!t) continue;
        this.delete(t, object.metadata.namespace, object.metadata.name, { propagationPolicy: 'Background' });
        deleted++;
      }
    }
  }

  private typeOfResource(resource: string): ResourceType | undefined {
    const [group, plural] = resource.split('/') as [string, string];
    return this.registry.versionsOf(group, plural)[0];
  }

  private orphanDependents(uid: string): void {
    for (const { resource, object } of this.store.everything()) {
      const refs: any[] = object.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === uid)) continue;
      object.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
      if (object.metadata.ownerReferences.length === 0) delete object.metadata.ownerReferences;
      this.store.put(resource, object);
    }
  }

  private deleteContents(namespace: string): void {
    for (const { resource, object } of this.store.everything()) {
      if (object.metadata.namespace !== namespace) continue;
      const t = this.typeOfResource(resource);
      if (t) this.delete(t, namespace, object.metadata.name, {});
    }
  }

  private checkKind(t: ResourceType, body: KubeObject): void {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badRequest('the body of the request was not an object');
    if (body.kind && body.kind !== t.kind)
      throw badRequest(`the kind of the object (${body.kind}) does not match the resource (${t.kind})`);
    const version = body.apiVersion;
    if (version && version !== apiVersionOf(t))
      throw badRequest(
        `the API version in the data (${version}) does not match the expected API version (${apiVersionOf(t)})`,
      );
  }

  /** Kind-specific defaulting and validation, applied on every create and update. */
  private prepare(t: ResourceType, existing: KubeObject | undefined, o: KubeObject, options: WriteOptions): void {
    if (t.custom?.schema) {
      applyDefaults(o, t.custom.schema);
      const unknown = prune(o, t.custom.schema, '');
      if (unknown.length > 0 && options.fieldValidation === 'Strict')
        throw badRequest(`strict decoding error: ${unknown.map((u) => `unknown field "${u.slice(1)}"`).join(', ')}`);
      if (options.fieldValidation === 'Warn')
        options.warnings.push(...unknown.map((u) => `unknown field "${u.slice(1)}"`));
      const causes = validate(o, t.custom.schema, '');
      if (causes.length > 0) throw invalid(t.kind, t.group, o.metadata.name, causes);
    }
    if (t.kind === 'Deployment' && !t.custom) {
      o.spec ??= {};
      o.spec.replicas ??= 1;
      const causes = [];
      if (!o.spec.selector)
        causes.push({ reason: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
      if (!o.spec.template)
        causes.push({ reason: 'FieldValueRequired', field: 'spec.template', message: 'Required value' });
      if (typeof o.spec.replicas !== 'number' || o.spec.replicas < 0)
        causes.push({
          reason: 'FieldValueInvalid',
          field: 'spec.replicas',
          message: `Invalid value: ${JSON.stringify(o.spec.replicas)}: must be greater than or equal to 0`,
        });
      if (causes.length > 0) throw invalid(t.kind, t.group, o.metadata.name, causes);
    }
    if (t.kind === 'Namespace' && !t.group)
      o.status = { phase: o.metadata.deletionTimestamp ? 'Terminating' : 'Active' };
    if (t.kind === 'CustomResourceDefinition') {
      validateCrd(o);
      if (existing && existing.spec.group !== o.spec.group)
        throw invalid(t.kind, t.group, o.metadata.name, [
          { reason: 'FieldValueInvalid', field: 'spec.group', message: 'Invalid value: field is immutable' },
        ]);
      o.status = acceptedStatus(o, existing?.status?.conditions?.[0]?.lastTransitionTime ?? this.timestamp());
    }
  }

  private afterWrite(t: ResourceType, stored: KubeObject): void {
    if (t.kind === 'CustomResourceDefinition' && t.group === 'apiextensions.k8s.io')
      this.registry.replaceCustom(stored.spec.group, stored.spec.names.plural, typesOfCrd(stored));
  }

  private afterDelete(t: ResourceType, removed: KubeObject): void {
    if (t.kind === 'CustomResourceDefinition' && t.group === 'apiextensions.k8s.io') {
      const types = typesOfCrd(removed);
      for (const ct of types.slice(0, 1))
        for (const o of this.store.list(resourceKey(ct)))
          this.store.remove(resourceKey(ct), o.metadata.namespace, o.metadata.name);
      this.registry.replaceCustom(removed.spec.group, removed.spec.names.plural, []);
    }
    if (this.gcScheduled) return;
    this.gcScheduled = true;
    // Background propagation: dependents go after the owner, on a later turn, as the garbage collector's do.
    setImmediate(() => {
      this.gcScheduled = false;
      this.collectGarbage();
    });
  }

  /** apiVersion and kind are not stored: one stored object serves every version of its resource. */
  private strip(o: KubeObject): KubeObject {
    const { apiVersion: _a, kind: _k, ...rest } = o;
    return rest as KubeObject;
  }

  private timestamp(): string {
    return this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
  }
}
