/**
 * Structural-schema enforcement for custom resources, the subset of apiextensions' behaviour a CRD author relies
 * on. Order, as the real server's: defaults are applied, unknown fields are pruned (or rejected with
 * fieldValidation=Strict), then the result is validated.
 *
 * Validated: `type` (object, array, string, integer, number, boolean), `required`, `enum`, `nullable`,
 * `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`, `pattern`, `properties`, `items`,
 * `additionalProperties` (schema form), `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`.
 * Not validated: `format`, `oneOf`/`anyOf`/`allOf`/`not`, CEL `x-kubernetes-validations`, list-type uniqueness.
 * `metadata` is never pruned or validated beyond what every object gets.
 */
import type { StatusCause } from './status.js';

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

type Json = any;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Fills in `default`s of absent properties, recursively through present objects and list items. */
export function applyDefaults(value: Json, schema: JsonSchema): Json {
  if (isObject(value) && schema.properties) {
    for (const [key, sub] of Object.entries(schema.properties)) {
      if (value[key] === undefined && sub.default !== undefined) value[key] = structuredClone(sub.default);
      if (value[key] !== undefined) value[key] = applyDefaults(value[key], sub);
    }
  }
  if (isObject(value) && isObject(schema.additionalProperties)) {
    for (const key of Object.keys(value)) value[key] = applyDefaults(value[key], schema.additionalProperties);
  }
  if (Array.isArray(value) && schema.items) return value.map((item) => applyDefaults(item, schema.items!));
  return value;
}

/** Removes fields the schema does not declare; returns the paths removed (for Strict and Warn). */
export function prune(value: Json, schema: JsonSchema, path: string, root = true): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties) return [];
  const removed: string[] = [];
  if (isObject(value)) {
    const declared = schema.properties ?? {};
    for (const key of Object.keys(value)) {
      if (root && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
      const sub = declared[key] ?? (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (sub) removed.push(...prune(value[key], sub, `${path}.${key}`, false));
      else if (schema.additionalProperties !== true && !schema['x-kubernetes-preserve-unknown-fields']) {
        delete value[key];
        removed.push(`${path}.${key}`);
      }
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => removed.push(...prune(item, schema.items!, `${path}[${i}]`, false)));
  }
  return removed;
}

function typeName(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Returns one cause per violation, with `field` in the dotted form the real server reports (`spec.replicas`). */
export function validate(value: Json, schema: JsonSchema, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const field = path.replace(/^\./, '');
  if (value === null) {
    if (!schema.nullable && schema.type)
      causes.push({
        reason: 'FieldValueTypeInvalid',
        field,
        message: `Invalid value: "null": ${field} in body must be of type ${schema.type}: "null"`,
      });
    return causes;
  }
  const actual = typeName(value);
  if (schema['x-kubernetes-int-or-string']) {
    if (actual !== 'integer' && actual !== 'string')
      causes.push({
        reason: 'FieldValueTypeInvalid',
        field,
        message: `Invalid value: "${actual}": ${field} in body must be of type integer or string: "${actual}"`,
      });
  } else if (schema.type && !(schema.type === actual || (schema.type === 'number' && actual === 'integer'))) {
    causes.push({
      reason: 'FieldValueTypeInvalid',
      field,
      message: `Invalid value: "${actual}": ${field} in body must be of type ${schema.type}: "${actual}"`,
    });
    return causes;
  }
  const shown = JSON.stringify(value);
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === shown))
    causes.push({
      reason: 'FieldValueNotSupported',
      field,
      message: `Unsupported value: ${shown}: supported values: ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`,
    });
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      causes.push({
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${value}: ${field} in body should be greater than or equal to ${schema.minimum}`,
      });
    if (schema.maximum !== undefined && value > schema.maximum)
      causes.push({
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${value}: ${field} in body should be less than or equal to ${schema.maximum}`,
      });
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      causes.push({
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${shown}: ${field} in body should be at least ${schema.minLength} chars long`,
      });
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      causes.push({
        reason: 'FieldValueTooLong',
        field,
        message: `Too long: may not be longer than ${schema.maxLength}`,
      });
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value))
      causes.push({
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${shown}: ${field} in body should match '${schema.pattern}'`,
      });
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      causes.push({
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${value.length}: ${field} in body should have at least ${schema.minItems} items`,
      });
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      causes.push({
        reason: 'FieldValueTooMany',
        field,
        message: `Too many: ${value.length}: must have at most ${schema.maxItems} items`,
      });
    if (schema.items) value.forEach((item, i) => causes.push(...validate(item, schema.items!, `${path}[${i}]`)));
  }
  if (isObject(value)) {
    for (const key of schema.required ?? [])
      if (value[key] === undefined)
        causes.push({
          reason: 'FieldValueRequired',
          field: `${field ? `${field}.` : ''}${key}`,
          message: 'Required value',
        });
    for (const [key, sub] of Object.entries(schema.properties ?? {}))
      if (value[key] !== undefined && !(path === '' && key === 'metadata'))
        causes.push(...validate(value[key], sub, `${path}.${key}`));
    if (isObject(schema.additionalProperties))
      for (const key of Object.keys(value))
        causes.push(...validate(value[key], schema.additionalProperties, `${path}.${key}`));
  }
  return causes;
}
