/**
 * Routes for entities: signal an operation (now or later), read an entity's state, list entities.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EntityState } from '../client/entity-client.js';
import { ValidationError } from '../engine/errors.js';
import { HttpError } from './errors.js';
import { entityLinks, nextLink } from './links.js';
import type { ApiRoute, RouteContext } from './route.js';
import { schemas } from './schemas.js';

interface SignalBody {
  readonly input?: unknown;
  readonly at?: string;
  readonly signalId?: string;
}

const PROBLEM = 'Problem details.';

function requireKnown(context: RouteContext, name: string): void {
  if (context.entities && !context.entities.has(name)) {
    throw new ValidationError(`Unknown entity '${name}'.`, { entity: name }, 'UNKNOWN_ENTITY');
  }
}

function resource(state: EntityState): EntityState & { links: ReturnType<typeof entityLinks> } {
  return { ...state, links: entityLinks(state.name, state.key) };
}

async function signal(request: FastifyRequest, reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { name, key, operation } = request.params as { name: string; key: string; operation: string };
  const body = request.body as SignalBody;
  requireKnown(context, name);
  if (operation in Object.prototype) {
    // `constructor`, `toString`, `__proto__`…: never an operation, and a classic way into an object's prototype.
    throw new ValidationError(`'${operation}' cannot be an operation name.`, { operation });
  }
  // Nothing is queued for an operation the entity does not have: it would only fail later, inside the worker.
  const accepts = context.app?.entities.find((e) => e.name === name)?.operations;
  if (accepts && !accepts.includes(operation)) {
    throw new ValidationError(
      `Entity '${name}' has no operation '${operation}'; it accepts ${accepts.join(', ') || 'none'}.`,
      { entity: name, operation, accepts: [...accepts] },
      'UNKNOWN_OPERATION',
    );
  }
  const at = body.at === undefined ? undefined : new Date(body.at);
  if (at && Number.isNaN(at.getTime())) throw new ValidationError('at must be a valid date.', { at: body.at });
  const entityId = `${name}@${key}`;
  await context.client.signalEntity(entityId, operation, body.input, {
    ...(at ? { at } : {}),
    ...(body.signalId !== undefined ? { signalId: body.signalId } : {}),
  });
  return reply.code(202).send({
    entityId,
    operation,
    ...(at ? { at: at.toISOString() } : {}),
    ...(body.signalId !== undefined ? { signalId: body.signalId } : {}),
    links: entityLinks(name, key),
  });
}

async function read(request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { name, key } = request.params as { name: string; key: string };
  requireKnown(context, name);
  const state = await context.client.readEntityState(`${name}@${key}`, { includeDeleted: true });
  if (state?.hasState) return resource(state);
  // No state, but perhaps a trace: an entity whose operations all failed keeps only its last failure.
  const failure = state?.lastFailure;
  if (!failure) throw new HttpError('ENTITY_NOT_FOUND', `Entity ${name}@${key} has no state.`);
  throw new HttpError(
    'ENTITY_NOT_FOUND',
    `Entity ${name}@${key} has no state. Its last operation, ${failure.operation} (${failure.signal ? 'a signal' : 'a call'} from ${failure.from}, ${failure.at.toISOString()}), failed: ${failure.error.name}: ${failure.error.message}`,
    { lastFailure: { ...failure, at: failure.at.toISOString() } },
  );
}

async function list(request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const query = request.query as { name?: string; limit?: number; cursor?: string };
  const page = await context.client.listEntities({
    ...(query.name !== undefined ? { name: query.name } : {}),
    ...(query.limit !== undefined ? { limit: query.limit } : {}),
    ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
  });
  return {
    items: page.items.map(resource),
    ...(page.nextCursor !== undefined
      ? { nextCursor: page.nextCursor, links: { next: nextLink(request.url, page.nextCursor) } }
      : {}),
  };
}

/** The entity routes, in the order the OpenAPI document lists them. */
export const entityRoutes: readonly ApiRoute[] = [
  {
    method: 'POST',
    url: '/api/entities/:name/:key/:operation',
    operationId: 'signalEntity',
    summary: 'Signal an operation to an entity (one-way), now or at `at`.',
    access: 'write',
    schema: { params: schemas.signalParams, body: schemas.signalBody },
    emptyBodyIsObject: true,
    responses: { 202: 'Sent.', 422: PROBLEM },
    handler: signal,
  },
  {
    method: 'GET',
    url: '/api/entities/:name/:key',
    operationId: 'getEntity',
    summary:
      "An entity's state, when it last changed, and its last failed operation (`lastFailure`). An entity without state gets 404; if an operation failed, the problem says which, with `details.lastFailure`.",
    access: 'read',
    schema: { params: schemas.entityParams },
    responses: { 200: 'The state.', 404: PROBLEM, 422: PROBLEM },
    handler: read,
  },
  {
    method: 'GET',
    url: '/api/entities',
    operationId: 'listEntities',
    summary: 'List entities with state. A page may hold fewer than `limit` items and still have `nextCursor`.',
    access: 'read',
    schema: { querystring: schemas.listEntitiesQuery },
    responses: { 200: 'A page of entities and, if there may be more, `nextCursor`.' },
    handler: list,
  },
];
