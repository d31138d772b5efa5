/**
 * JSON schemas of every request part. Fastify validates requests against them before a handler runs, and the
 * OpenAPI document is generated from the same objects, so the two cannot disagree. The patterns repeat the
 * client's rules (instance ids, entity names and keys), with bounds on every length and number.
 */
import { RUNTIME_STATUSES } from '../engine/status.js';
import { REUSE_POLICIES } from '../client/client.js';
import { QUEUE_NAMES } from '../engine/messages.js';

/** A JSON schema, as far as this API uses them. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** The longest long-poll `?wait=` accepted, in ms. */
export const MAX_WAIT_MS = 60_000;

/**
 * The client's instance-id rule. `.` and `..` are refused on top of it: they are valid ids for the client, but a
 * URL path cannot address them (every URL library folds them into the parent path).
 */
export const instanceId: JsonSchema = {
  type: 'string',
  pattern: '^(?!\\.{1,2}$)[A-Za-z0-9_.:#~-]{1,200}$',
  description: '1-200 characters: letters, digits and _ . : # ~ - (not "." or "..").',
};

/** An instance id as the client accepts it, for paths that only read or change existing instances. */
const existingInstanceId: JsonSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9_.:#~-]{1,200}$',
  description: 'An instance id.',
};

/**
 * Names chosen by the app (orchestrations, events, operations): identifier-like, 1-200 letters (any script),
 * digits and `_ . : # ~ $ @ + -`. No spaces, slashes, quotes or control characters: a name travels in URL paths,
 * logs and terminals.
 */
const name: JsonSchema = {
  type: 'string',
  pattern: '^[\\p{L}\\p{N}_.:#~$@+-]{1,200}$',
  description: '1-200 letters, digits and _ . : # ~ $ @ + -.',
};

const entityName: JsonSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9_.:#~-]{1,100}$',
  description: '1-100 characters: letters, digits and _ . : # ~ -.',
};

const entityKey: JsonSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9_.:#~@-]{1,200}$',
  description: '1-200 characters: letters, digits and _ . : # ~ @ -.',
};

/** A free-text reason: up to 1000 characters; tabs and line breaks are the only control characters allowed. */
const reason: JsonSchema = {
  type: 'string',
  pattern: '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]{1,1000}$',
};

/** ISO 8601 with a time zone, e.g. `2026-01-01T00:00:00Z`. */
const dateTime: JsonSchema = { type: 'string', format: 'date-time', maxLength: 40 };

const cursor: JsonSchema = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,2000}$', description: 'From `nextCursor`.' };

/** An id prefix to search by: the id characters (and `@`, for entity ids), up to 200; empty means no filter. */
const idPrefix: JsonSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9_.:#~@-]{0,200}$',
  description: 'Only instances whose id starts with this (case-sensitive; up to 200 characters, empty: all).',
};

const stuck: JsonSchema = {
  type: 'boolean',
  description: '`true`: only instances that are stuck (see `stuck` in their status); `false`: only the others.',
};

const limit: JsonSchema = { type: 'integer', minimum: 1, maximum: 1000, default: 50 };

const statusList = `(${RUNTIME_STATUSES.join('|')})`;
const statusPattern = `^${statusList}(,${statusList}){0,19}$`;

const queueName: JsonSchema = { type: 'string', enum: [...QUEUE_NAMES], description: 'A queue. Default: both.' };

/** The most message ids one redrive request may name. */
export const MAX_REDRIVE_IDS = 1000;

/** A message id as the queues report it: 1-1000 characters, no control characters. */
const messageId: JsonSchema = { type: 'string', pattern: '^[^\\u0000-\\u001f\\u007f]{1,1000}$' };

/**
 * What each pattern above means, for people: a refused value is described with these words, not the regex
 * (`validation-messages.ts`). `choices` lists the values a pattern accepts when it is a list of names.
 */
export const PATTERN_RULES: ReadonlyMap<string, { readonly text: string; readonly choices?: readonly string[] }> =
  new Map([
    [instanceId.pattern as string, { text: 'must be 1-200 letters, digits and _ . : # ~ - (not "." or "..")' }],
    [existingInstanceId.pattern as string, { text: 'must be an instance id: 1-200 letters, digits and _ . : # ~ -' }],
    [name.pattern as string, { text: 'must be 1-200 letters, digits and _ . : # ~ $ @ + - (no spaces or slashes)' }],
    [entityName.pattern as string, { text: 'must be 1-100 letters, digits and _ . : # ~ -' }],
    [entityKey.pattern as string, { text: 'must be 1-200 letters, digits and _ . : # ~ @ -' }],
    [
      reason.pattern as string,
      { text: 'must be 1-1000 characters, with no control characters but tabs and line breaks' },
    ],
    [cursor.pattern as string, { text: 'must be a cursor as a previous page returned it (nextCursor)' }],
    [idPrefix.pattern as string, { text: 'must be up to 200 letters, digits and _ . : # ~ @ - (the start of an id)' }],
    [messageId.pattern as string, { text: 'must be a message id as the dead-letter list shows it' }],
    [
      statusPattern,
      {
        text: `must be one of ${RUNTIME_STATUSES.join(', ')}, comma-separated or repeated`,
        choices: RUNTIME_STATUSES,
      },
    ],
  ]);

/** Any JSON value (bounded in size by the body limit and in depth by the body parser). */
const anyJson: JsonSchema = { description: 'Any JSON value.' };

function object(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  return { type: 'object', properties, required, additionalProperties: false };
}

export const schemas = {
  startParams: object({ name }, ['name']),
  startBody: object({
    input: anyJson,
    instanceId,
    reuse: { type: 'string', enum: [...REUSE_POLICIES], default: 'allow-terminal' },
  }),
  instanceParams: object({ id: existingInstanceId }, ['id']),
  statusQuery: object({
    wait: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_WAIT_MS,
      description: `Long-poll: wait up to this many ms (at most ${MAX_WAIT_MS}) for the instance to finish.`,
    },
  }),
  listQuery: object({
    status: {
      type: 'array',
      maxItems: 20,
      items: { type: 'string', pattern: statusPattern },
      description: 'Runtime statuses: repeat the parameter or separate them with commas.',
    },
    name: { ...name, description: 'Orchestration name.' },
    createdFrom: dateTime,
    createdTo: dateTime,
    limit,
    cursor,
    q: idPrefix,
    stuck,
  }),
  countsQuery: object({
    name: { ...name, description: 'Orchestration name.' },
    createdFrom: dateTime,
    createdTo: dateTime,
    q: idPrefix,
  }),
  restartBody: object({
    newInstanceId: {
      type: 'boolean',
      description: 'Start under a new random id (allowed at any time) instead of the same one (only once finished).',
    },
  }),
  eventParams: object({ id: existingInstanceId, name }, ['id', 'name']),
  eventQuery: object({
    eventId: { ...existingInstanceId, description: 'Deduplication key: raising the same eventId twice delivers once.' },
  }),
  controlBody: object({ reason }),
  entityParams: object({ name: entityName, key: entityKey }, ['name', 'key']),
  signalParams: object({ name: entityName, key: entityKey, operation: name }, ['name', 'key', 'operation']),
  signalBody: object({
    input: anyJson,
    at: { ...dateTime, description: 'Deliver at this time instead of now.' },
    signalId: { ...existingInstanceId, description: 'Deduplication key (kept for a day).' },
  }),
  listEntitiesQuery: object({ name: entityName, limit, cursor }),
  deadLettersQuery: object({ queue: queueName }),
  redriveBody: object({
    queue: queueName,
    messageIds: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_REDRIVE_IDS,
      items: messageId,
      description: `Only these message ids (1-${MAX_REDRIVE_IDS}; ids that are not dead letters are ignored). Default: every dead letter.`,
    },
  }),
  deleteDeadLettersBody: object({
    queue: queueName,
    messageIds: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_REDRIVE_IDS,
      items: messageId,
      description: `Only these message ids (1-${MAX_REDRIVE_IDS}; ids that are not dead letters are ignored).`,
    },
    all: {
      type: 'boolean',
      description: 'Every dead letter of `queue` (default both); required without `messageIds`.',
    },
  }),
  anyJson,
} as const;

/** Problem details, the body of every error response. */
export const problemSchema: JsonSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    details: { type: 'object' },
  },
};
