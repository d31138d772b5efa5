/**
 * Validation messages for people. Ajv says `querystring/status/0 must match pattern "^(Pending|Running|…)$"`; a
 * caller needs `Query parameter status must be one of Pending, Running, … (got "running"; did you mean Running?)`.
 * This turns the first schema error of a request part into such a sentence. The machine-readable parts of the
 * problem (`code: VALIDATION`, `details.errors` with Ajv's paths) stay as they are.
 *
 * It needs Ajv's `verbose` errors: they carry the refused value (`data`) and the schema that refused it.
 */
import { PATTERN_RULES } from './schemas.js';

/** The fields of an Ajv error this reads (`verbose: true`). */
export interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message?: string;
  readonly data?: unknown;
  readonly parentSchema?: { readonly properties?: Readonly<Record<string, unknown>> } & Record<string, unknown>;
}

/** The request part an error is in, as Fastify names it. */
export type RequestPart = 'body' | 'querystring' | 'params' | 'headers';

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'a JSON object',
  array: 'an array',
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

/**
 * One sentence about what is wrong with a request part.
 * @example
 * describeValidation([{ keyword: 'enum', instancePath: '/reuse', params: { allowedValues: ['reject'] }, data: 'x' }], 'body');
 * // 'Body field reuse must be one of reject (got "x").'
 */
export function describeValidation(errors: readonly SchemaError[], part: RequestPart): string {
  const error = errors[0];
  if (!error) return `The ${partName(part)} is invalid.`;
  const field = fieldOf(error.instancePath, part);
  const subject = field ? `${FIELD_LABEL[part]} ${field}` : `The ${partName(part)}`;
  const got = gotText(error.data);
  switch (error.keyword) {
    case 'pattern': {
      const rule = PATTERN_RULES.get(String(error.params.pattern));
      if (!rule) return `${subject} has the wrong form${got}.`;
      return `${subject} ${rule.text}${withSuggestion(got, error.data, rule.choices)}.`;
    }
    case 'enum': {
      const allowed = (error.params.allowedValues as unknown[] | undefined)?.map(String) ?? [];
      return `${subject} must be one of ${allowed.join(', ')}${withSuggestion(got, error.data, allowed)}.`;
    }
    case 'additionalProperties': {
      const extra = String(error.params.additionalProperty);
      const accepted = Object.keys(error.parentSchema?.properties ?? {});
      const takes = accepted.length > 0 ? ` it takes ${accepted.join(', ')}` : ' it takes none';
      if (part === 'body' && !field) {
        return `The body has an unknown field ${JSON.stringify(extra)}:${takes}.${inputHint(error, accepted)}`;
      }
      return `${subject} has an unknown ${part === 'querystring' ? 'parameter' : 'field'} ${JSON.stringify(extra)}:${takes}.`;
    }
    case 'type': {
      const wanted = String(error.params.type)
        .split(',')
        .map((t) => TYPE_NAMES[t] ?? t)
        .join(' or ');
      const hint = part === 'body' && !field ? inputHint(error, Object.keys(error.parentSchema?.properties ?? {})) : '';
      return `${subject} must be ${wanted} (got ${kindOf(error.data)}).${hint}`;
    }
    case 'format':
      return error.params.format === 'date-time'
        ? `${subject} must be an ISO 8601 date-time with a time zone, such as 2026-01-01T00:00:00Z${got}.`
        : `${subject} must be in ${String(error.params.format)} format${got}.`;
    case 'minimum':
      return `${subject} must be at least ${String(error.params.limit)}${got}.`;
    case 'maximum':
      return `${subject} must be at most ${String(error.params.limit)}${got}.`;
    case 'minItems':
      return `${subject} must list at least ${String(error.params.limit)}.`;
    case 'maxItems':
      return `${subject} must list at most ${String(error.params.limit)}.`;
    case 'minLength':
      return `${subject} must be at least ${String(error.params.limit)} characters long.`;
    case 'maxLength':
      return `${subject} must be at most ${String(error.params.limit)} characters long.`;
    case 'required': {
      const missing = String(error.params.missingProperty);
      return `${field ? `${subject} needs` : `The ${partName(part)} needs`} ${missing}.`;
    }
    default:
      return `${subject} ${error.message ?? 'is invalid'}.`;
  }
}

const FIELD_LABEL: Readonly<Record<RequestPart, string>> = {
  body: 'Body field',
  querystring: 'Query parameter',
  params: 'Path parameter',
  headers: 'Header',
};

function partName(part: RequestPart): string {
  return part === 'querystring' ? 'query string' : part === 'params' ? 'path' : part;
}

/**
 * `/reuse` → `reuse`, `/messageIds/3` → `messageIds[3]`, `` → ``. In a query string an index is one of the values
 * of a repeated parameter (or the only one), so `/status/0` is just `status`.
 */
function fieldOf(path: string, part: RequestPart): string {
  let field = '';
  for (const segment of path.split('/').slice(1)) {
    if (/^\d+$/.test(segment)) field += part === 'querystring' ? '' : `[${segment}]`;
    else field += field ? `.${segment}` : segment;
  }
  return field;
}

function gotText(data: unknown): string {
  if (data === undefined || (typeof data === 'object' && data !== null)) return '';
  const text = JSON.stringify(data);
  return ` (got ${text.length > 42 ? `${text.slice(0, 40)}…"` : text})`;
}

function kindOf(data: unknown): string {
  if (data === null) return 'null';
  if (Array.isArray(data)) return 'an array';
  if (typeof data === 'object') return 'an object';
  return gotText(data).replace(/^ \(got (.*)\)$/, '$1');
}

/** `(got "running"; did you mean Running?)` when each refused name is a known one in another case. */
function withSuggestion(got: string, data: unknown, choices: readonly string[] | undefined): string {
  if (!choices || typeof data !== 'string' || !got) return got;
  const fixed = data.split(',').map((part) => choices.find((c) => c.toLowerCase() === part.trim().toLowerCase()));
  if (fixed.some((c) => c === undefined)) return got;
  return `${got.slice(0, -1)}; did you mean ${fixed.join(',')}?)`;
}

/**
 * A start or signal body whose fields are the input itself (`{"cities": […]}` instead of `{"input": {"cities": […]}}`),
 * or that is not an object at all: show the wrapped form.
 */
function inputHint(error: SchemaError, accepted: readonly string[]): string {
  if (!accepted.includes('input')) return '';
  let input: unknown = error.data;
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    if ('input' in input) return '';
    // The fields the body may have (and defaults Ajv filled in) stay outside; the others are the input.
    input = Object.fromEntries(Object.entries(input).filter(([key]) => !accepted.includes(key)));
  }
  let text = JSON.stringify(input) ?? 'null';
  if (text.length > 60) text = '…';
  return ` The input goes under "input": {"input": ${text}}.`;
}
