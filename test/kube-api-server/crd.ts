/**
 * What a CustomResourceDefinition turns into: one served ResourceType per served version, with that version's
 * schema, printer columns and subresources (status, and scale at the CRD's replica and selector paths); and the status the real server writes on a CRD it accepts
 * (NamesAccepted and Established true), which `kubectl wait --for condition=established` waits for.
 * Not supported: conversion webhooks (every version stores the same object), `selectableFields`.
 */
import type { ResourceType } from './resources.js';
import type { JsonSchema } from './schema.js';
import { invalid } from './status.js';
import type { KubeObject } from './store.js';

export function typesOfCrd(crd: KubeObject): ResourceType[] {
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  return ((spec.versions as any[]) ?? [])
    .filter((v) => v.served !== false)
    .map((v) => {
      const schema = v.schema?.openAPIV3Schema as JsonSchema | undefined;
      const type: ResourceType = {
        group: spec.group,
        version: v.name,
        plural: names.plural,
        singular: names.singular ?? String(names.kind).toLowerCase(),
        kind: names.kind,
        namespaced: spec.scope !== 'Cluster',
        generation: true,
        status: Boolean(v.subresources?.status),
        custom: {
          ...(schema ? { schema } : {}),
          printerColumns: v.additionalPrinterColumns ?? [],
          preserveUnknown: Boolean(schema?.['x-kubernetes-preserve-unknown-fields']),
        },
      };
      const scale = v.subresources?.scale;
      if (scale?.specReplicasPath && scale.statusReplicasPath) {
        type.scale = {
          specReplicasPath: scale.specReplicasPath,
          statusReplicasPath: scale.statusReplicasPath,
          ...(scale.labelSelectorPath ? { labelSelectorPath: scale.labelSelectorPath } : {}),
        };
      }
      if (names.shortNames) type.shortNames = names.shortNames;
      if (names.categories) type.categories = names.categories;
      return type;
    });
}

export function validateCrd(crd: KubeObject): void {
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  const causes = [];
  if (!spec.group) causes.push({ reason: 'FieldValueRequired', field: 'spec.group', message: 'Required value' });
  if (!names.plural)
    causes.push({ reason: 'FieldValueRequired', field: 'spec.names.plural', message: 'Required value' });
  if (!names.kind) causes.push({ reason: 'FieldValueRequired', field: 'spec.names.kind', message: 'Required value' });
  if (!['Namespaced', 'Cluster'].includes(spec.scope))
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.scope',
      message: `Unsupported value: "${spec.scope}": supported values: "Cluster", "Namespaced"`,
    });
  if (!Array.isArray(spec.versions) || spec.versions.length === 0)
    causes.push({
      reason: 'FieldValueRequired',
      field: 'spec.versions',
      message: 'Required value: must have exactly one version marked as storage version',
    });
  else if (spec.versions.filter((v: any) => v.storage).length !== 1)
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'spec.versions',
      message: 'Invalid value: must have exactly one version marked as storage version',
    });
  if (names.plural && spec.group && crd.metadata.name !== `${names.plural}.${spec.group}`)
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: "${crd.metadata.name}": must be spec.names.plural+"."+spec.group`,
    });
  if (causes.length > 0) throw invalid('CustomResourceDefinition', 'apiextensions.k8s.io', crd.metadata.name, causes);
}

export function acceptedStatus(crd: KubeObject, now: string): object {
  const names = crd.spec.names;
  const condition = (type: string, reason: string, message: string): object => ({
    type,
    status: 'True',
    lastTransitionTime: now,
    reason,
    message,
  });
  return {
    acceptedNames: {
      ...names,
      singular: names.singular ?? String(names.kind).toLowerCase(),
      listKind: names.listKind ?? `${names.kind}List`,
    },
    conditions: [
      condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    storedVersions: (crd.spec.versions as any[]).filter((v) => v.storage).map((v) => v.name),
  };
}
