/**
 * Problem details for the HTTP API. This is the only place where error codes meet HTTP statuses: handlers throw
 * {@link DurableError}s (from the client) or {@link HttpError}s (conditions only the HTTP edge knows about), and
 * Fastify raises its own errors for bodies, media types and URLs; {@link toProblem} turns every one of them into
 * a status and a `{ code, message, details? }` body.
 */
import type { ErrorCode } from '../engine/errors.js';
import { DurableError, ValidationError } from '../engine/errors.js';

/** Codes the HTTP edge adds to the engine's. */
export type HttpOnlyCode =
  | 'ENTITY_NOT_FOUND'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'APP_UNKNOWN'
  | 'TOO_MANY_STREAMS'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'BAD_REQUEST'
  | 'CROSS_SITE_REQUEST'
  | 'HOST_NOT_ALLOWED'
  | 'REQUEST_TIMEOUT'
  | 'HEADERS_TOO_LARGE'
  | 'EXPECTATION_FAILED'
  | 'INTERNAL';

/** Every code an API response can carry. */
export type ApiErrorCode = ErrorCode | HttpOnlyCode;

/** The body of every error response. */
export interface Problem {
  readonly code: ApiErrorCode;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

/**
 * Status per code. Typed as a complete record, so a new engine code cannot be forgotten here. Codes that the
 * client never throws (they belong to running code, not to callers) are internal errors if they ever surface.
 */
const STATUS_BY_CODE: { readonly [K in ApiErrorCode]: number } = {
  VALIDATION: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CROSS_SITE_REQUEST: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  INSTANCE_NOT_FOUND: 404,
  ENTITY_NOT_FOUND: 404,
  INSTANCE_EXISTS: 409,
  INVALID_STATE: 409,
  REQUEST_TIMEOUT: 408,
  EXPECTATION_FAILED: 417,
  HOST_NOT_ALLOWED: 421,
  HEADERS_TOO_LARGE: 431,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNKNOWN_ORCHESTRATION: 422,
  UNKNOWN_EVENT: 422,
  UNKNOWN_ENTITY: 422,
  UNKNOWN_ACTIVITY: 422,
  UNKNOWN_OPERATION: 422,
  APP_UNKNOWN: 404,
  TOO_MANY_STREAMS: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
  DURABLE_ERROR: 500,
  TERMINAL: 500,
  RETRYABLE: 500,
  NON_DETERMINISM: 500,
  ACTIVITY_FAILED: 500,
  SUB_ORCHESTRATION_FAILED: 500,
  EVENT_TIMEOUT: 500,
  TASK_CANCELLED: 500,
  ENTITY_OPERATION_FAILED: 500,
  LOCKING_RULES_VIOLATED: 500,
  NOT_ALLOWED: 500,
};

/** Fastify's own error codes, by what they mean to a caller. */
const FASTIFY_CODES: Readonly<Record<string, HttpOnlyCode | 'VALIDATION'>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_BAD_URL: 'VALIDATION',
};

/**
 * An error only the HTTP edge can detect (authentication, routing, entities without state…).
 * @example
 * throw new HttpError('ENTITY_NOT_FOUND', 'No entity counter@home.');
 */
export class HttpError extends Error {
  constructor(
    readonly code: HttpOnlyCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * The HTTP status for an error code.
 * @example
 * statusFor('INSTANCE_EXISTS'); // 409
 */
export function statusFor(code: ApiErrorCode): number {
  return STATUS_BY_CODE[code];
}

/**
 * Turns anything a request can throw into a status and a problem body. Internal errors keep their message to
 * themselves: the caller sees only that something went wrong.
 * @example
 * const { status, problem } = toProblem(new DurableError('INVALID_STATE', 'Instance x is Completed.'));
 * // status === 409, problem.code === 'INVALID_STATE'
 */
export function toProblem(error: unknown): { status: number; problem: Problem } {
  const problem = classify(error);
  const status = statusFor(problem.code);
  if (status >= 500) return { status, problem: { code: 'INTERNAL', message: 'Internal error.' } };
  return { status, problem: bounded(problem) };
}

/** The longest run of echoed input (a path, a name, an id) a problem repeats; longer ones are cut, with `…`. */
export const MAX_ECHO = 200;

/** The longest message a problem carries; a longer one (echoed input with spaces in it) is cut, with `…`. */
const MAX_MESSAGE = 5 * MAX_ECHO;

/**
 * Cuts echoed input, for every problem in one place (the code that raises one quotes what it was given as it is):
 * any run of more than {@link MAX_ECHO} characters without a space in the message, the message itself past
 * {@link MAX_MESSAGE}, and any string in the details. A 16 KB path comes back as its first 200 characters, not whole.
 */
function bounded(problem: Problem): Problem {
  const runsCut = problem.message.replace(new RegExp(`[^\\s]{${MAX_ECHO + 1},}`, 'g'), (run) => cut(run));
  const message = runsCut.length > MAX_MESSAGE ? `${runsCut.slice(0, MAX_MESSAGE)}…` : runsCut;
  const details =
    problem.details === undefined ? undefined : (boundValue(problem.details, 0) as Record<string, unknown>);
  return withDetails(problem.code, message, details);
}

function boundValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return cut(value);
  if (typeof value !== 'object' || value === null || depth > 8) return value;
  if (Array.isArray(value)) return value.slice(0, 100).map((v: unknown) => boundValue(v, depth + 1));
  // An entity's last failure is the app's own record (its error and stack), not echoed input.
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [cut(k), k === 'lastFailure' ? v : boundValue(v, depth + 1)]),
  );
}

function cut(text: string): string {
  return text.length > MAX_ECHO ? `${text.slice(0, MAX_ECHO)}…` : text;
}

function classify(error: unknown): Problem {
  if (error instanceof HttpError) return withDetails(error.code, error.message, error.details);
  if (error instanceof ValidationError) return withDetails(error.code, error.message, error.details);
  if (error instanceof DurableError) return { code: error.code, message: error.message };
  if (typeof error !== 'object' || error === null) return { code: 'INTERNAL', message: String(error) };
  const e = error as { code?: unknown; message?: unknown; statusCode?: unknown; validation?: unknown };
  const message = typeof e.message === 'string' ? e.message : 'Bad request.';
  if (Array.isArray(e.validation)) {
    const context = (error as { validationContext?: unknown }).validationContext;
    const errors = (e.validation as Array<{ instancePath?: string; message?: string }>).map((v) => ({
      path: v.instancePath ?? '',
      message: v.message ?? 'is invalid',
    }));
    return { code: 'VALIDATION', message, details: { in: context, errors } };
  }
  const mapped = typeof e.code === 'string' ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return { code: mapped, message };
  // Any other client error Fastify raises (its 4xx) stays a client error; anything else is ours.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { code: e.statusCode === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message };
  }
  return { code: 'INTERNAL', message };
}

function withDetails(code: ApiErrorCode, message: string, details: Record<string, unknown> | undefined): Problem {
  return details === undefined ? { code, message } : { code, message, details };
}
