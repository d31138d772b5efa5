/**
 * Routes for orchestration instances: start, status (with long-polling), list, counts, history, raise an event,
 * terminate, restart, suspend, resume and purge. Every handler is a thin translation to one `DurableClient` call; the
 * client validates again and owns the semantics.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CountOptions, InstanceStatus, ListOptions, StartOptions } from '../client/client.js';
import { DurableError, ValidationError } from '../engine/errors.js';
import type { RuntimeStatus } from '../engine/status.js';
import { isTerminal } from '../engine/status.js';
import type { InstanceLinks } from './links.js';
import { instanceLinks, nextLink } from './links.js';
import type { ApiRoute, RouteContext } from './route.js';
import { schemas } from './schemas.js';

/** An instance status as the API returns it: the client's status plus links to manage it. */
export type InstanceResource = InstanceStatus & { readonly links: InstanceLinks };

interface StartBody {
  readonly input?: unknown;
  readonly instanceId?: string;
  readonly reuse?: StartOptions['reuse'];
}

interface ListQuery {
  readonly status?: string[];
  readonly name?: string;
  readonly createdFrom?: string;
  readonly createdTo?: string;
  readonly limit?: number;
  readonly cursor?: string;
  readonly q?: string;
  readonly stuck?: boolean;
}

const PROBLEM = 'Problem details.';

function resource(status: InstanceStatus): InstanceResource {
  return { ...status, links: instanceLinks(status.instanceId) };
}

async function requireStatus(context: RouteContext, instanceId: string): Promise<InstanceStatus> {
  const status = await context.client.getStatus(instanceId);
  if (!status) throw new DurableError('INSTANCE_NOT_FOUND', `No instance ${instanceId}.`);
  return status;
}

async function start(request: FastifyRequest, reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { name } = request.params as { name: string };
  const body = request.body as StartBody;
  if (context.orchestrations && !context.orchestrations.has(name)) {
    throw new ValidationError(`Unknown orchestration '${name}'.`, { name }, 'UNKNOWN_ORCHESTRATION');
  }
  const options: StartOptions = {
    ...(body.instanceId !== undefined ? { instanceId: body.instanceId } : {}),
    ...(body.reuse !== undefined ? { reuse: body.reuse } : {}),
  };
  let instanceId: string;
  try {
    instanceId = await context.client.start(name, body.input, options);
  } catch (error) {
    // The same start repeated (a retried request) while that instance lives: answer as the first time did.
    const existing = await sameLiveStart(error, context, name, body);
    if (!existing) throw error;
    return reply.code(200).send(resource(existing));
  }
  const status = await requireStatus(context, instanceId);
  return reply.code(201).header('location', instanceLinks(instanceId).self).send(resource(status));
}

async function sameLiveStart(
  error: unknown,
  context: RouteContext,
  name: string,
  body: StartBody,
): Promise<InstanceStatus | undefined> {
  if (!(error instanceof DurableError) || error.code !== 'INSTANCE_EXISTS' || body.instanceId === undefined) {
    return undefined;
  }
  const status = await context.client.getStatus(body.instanceId);
  const same =
    status !== undefined &&
    !isTerminal(status.status) &&
    status.name === name &&
    JSON.stringify(status.input) === JSON.stringify(body.input);
  return same ? status : undefined;
}

/** One instance's status with its details: the parent's name, and what it waits for when Running or Suspended. */
async function requireDetails(context: RouteContext, instanceId: string): Promise<InstanceStatus> {
  const status = await context.client.getStatus(instanceId, { details: true });
  if (!status) throw new DurableError('INSTANCE_NOT_FOUND', `No instance ${instanceId}.`);
  return status;
}

async function getStatus(request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { id } = request.params as { id: string };
  const { wait } = request.query as { wait?: number };
  if (!wait) return resource(await requireDetails(context, id));
  try {
    const done = await context.client.waitForCompletion(id, { timeoutMs: wait });
    // A finished instance waits for nothing: only its parent's name is left to add.
    return resource(done.parent ? await requireDetails(context, id) : done);
  } catch (error) {
    // A long-poll that runs out of time is not an error: the caller gets the status as it is now.
    if (error instanceof DurableError && error.code === 'TIMEOUT') return resource(await requireDetails(context, id));
    throw error;
  }
}

function parseDate(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new ValidationError(`${field} must be a valid date.`, { [field]: value });
  return date;
}

/** The filters `list` and `counts` share: name, creation time, id prefix (`q`; empty is none) and stuck. */
function filterOptions(query: ListQuery): CountOptions {
  const createdFrom = parseDate(query.createdFrom, 'createdFrom');
  const createdTo = parseDate(query.createdTo, 'createdTo');
  return {
    ...(query.name !== undefined ? { name: query.name } : {}),
    ...(createdFrom ? { createdFrom } : {}),
    ...(createdTo ? { createdTo } : {}),
    ...(query.q !== undefined && query.q !== '' ? { idPrefix: query.q } : {}),
    ...(query.stuck !== undefined ? { stuck: query.stuck } : {}),
  };
}

async function counts(request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { byStatus, stuck, total } = await context.client.countByStatus(filterOptions(request.query as ListQuery));
  return { counts: byStatus, stuck, total };
}

async function restart(request: FastifyRequest, reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { id } = request.params as { id: string };
  const { newInstanceId } = request.body as { newInstanceId?: boolean };
  const instanceId = await context.client.restart(id, { newInstanceId: newInstanceId === true });
  return reply
    .code(202)
    .header('location', instanceLinks(instanceId).self)
    .send({ instanceId, links: instanceLinks(instanceId) });
}

async function list(request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const query = request.query as ListQuery;
  const statuses = query.status ? [...new Set(query.status.flatMap((s) => s.split(',')))] : undefined;
  const options: ListOptions = {
    ...(statuses ? { status: statuses as RuntimeStatus[] } : {}),
    ...filterOptions(query),
    ...(query.limit !== undefined ? { limit: query.limit } : {}),
    ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
  };
  const page = await context.client.list(options);
  const next = page.nextCursor === undefined ? undefined : nextLink(request.url, page.nextCursor);
  return {
    items: page.items.map(resource),
    ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor, links: { next } } : {}),
  };
}

async function history(request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { id } = request.params as { id: string };
  const events = await context.client.getHistory(id);
  return { instanceId: id, events, links: instanceLinks(id) };
}

async function raiseEvent(request: FastifyRequest, reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { id, name } = request.params as { id: string; name: string };
  const { eventId } = request.query as { eventId?: string };
  await context.client.raiseEvent(id, name, request.body, eventId !== undefined ? { eventId } : {});
  return reply
    .code(202)
    .send({ instanceId: id, eventName: name, ...(eventId !== undefined ? { eventId } : {}), links: instanceLinks(id) });
}

type ControlAction = 'terminate' | 'suspend' | 'resume';

function control(action: ControlAction): ApiRoute['handler'] {
  return async (request, reply, context) => {
    const { id } = request.params as { id: string };
    const { reason } = request.body as { reason?: string };
    await context.client[action](id, reason);
    return reply.code(202).send({ instanceId: id, requested: action, links: instanceLinks(id) });
  };
}

async function purge(request: FastifyRequest, reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { id } = request.params as { id: string };
  await context.client.purge(id);
  return reply.code(204).send();
}

function controlRoute(action: ControlAction, summary: string): ApiRoute {
  return {
    method: 'POST',
    url: `/api/instances/:id/${action}`,
    operationId: `${action}Instance`,
    summary,
    access: 'admin',
    schema: { params: schemas.instanceParams, body: schemas.controlBody },
    emptyBodyIsObject: true,
    responses: { 202: 'Requested; the instance applies it in its next turn.', 404: PROBLEM, 409: PROBLEM },
    handler: control(action),
  };
}

/** The instance routes, in the order the OpenAPI document lists them. */
export const instanceRoutes: readonly ApiRoute[] = [
  {
    method: 'POST',
    url: '/api/orchestrations/:name',
    operationId: 'startOrchestration',
    summary: 'Start an orchestration (repeating a start of a live instance with the same input returns it, 200).',
    access: 'write',
    schema: { params: schemas.startParams, body: schemas.startBody },
    emptyBodyIsObject: true,
    responses: {
      201: 'Started; the status of the new instance.',
      200: 'The same start again: the existing instance.',
      409: PROBLEM,
      422: PROBLEM,
    },
    handler: start,
  },
  {
    method: 'GET',
    url: '/api/instances',
    operationId: 'listInstances',
    summary: 'List instances, newest first; filter by status, name, creation time, id prefix (`q`) and `stuck`.',
    access: 'read',
    schema: { querystring: schemas.listQuery },
    responses: { 200: 'A page of instances and, if there are more, `nextCursor`.' },
    handler: list,
  },
  {
    method: 'GET',
    url: '/api/instances/counts',
    operationId: 'countInstances',
    summary: 'How many instances there are per status (every status listed), how many are stuck, and the total.',
    access: 'read',
    schema: { querystring: schemas.countsQuery },
    responses: { 200: '`{ counts: { Pending, Running, … }, stuck, total }` under the filters.' },
    handler: counts,
  },
  {
    method: 'GET',
    url: '/api/instances/:id',
    operationId: 'getInstance',
    summary:
      'The status of an instance (with `parent` for a sub-orchestration, and `waitingFor` while Running or ' +
      'Suspended); with `wait`, once it finishes or the wait runs out.',
    access: 'read',
    schema: { params: schemas.instanceParams, querystring: schemas.statusQuery },
    responses: { 200: 'The status, with links.', 404: PROBLEM },
    handler: getStatus,
  },
  {
    method: 'GET',
    url: '/api/instances/:id/history',
    operationId: 'getInstanceHistory',
    summary: "The current generation's history, oldest first.",
    access: 'read',
    schema: { params: schemas.instanceParams },
    responses: { 200: 'The history events.', 404: PROBLEM },
    handler: history,
  },
  {
    method: 'POST',
    url: '/api/instances/:id/events/:name',
    operationId: 'raiseEvent',
    summary: 'Raise an event; the body is the event data.',
    access: 'write',
    schema: { params: schemas.eventParams, querystring: schemas.eventQuery, body: schemas.anyJson },
    responses: { 202: 'Sent.', 404: PROBLEM, 409: PROBLEM, 422: PROBLEM },
    handler: raiseEvent,
  },
  controlRoute('terminate', 'Terminate a live instance.'),
  {
    method: 'POST',
    url: '/api/instances/:id/restart',
    operationId: 'restartInstance',
    summary:
      'Start the orchestration again with the same input: under the same id once it has finished, or under a new ' +
      'random id (`newInstanceId: true`) at any time.',
    access: 'admin',
    schema: { params: schemas.instanceParams, body: schemas.restartBody },
    emptyBodyIsObject: true,
    responses: {
      202: 'Started: `{ instanceId, links }`, and a Location.',
      404: PROBLEM,
      409: 'Problem details: the instance is still live (INVALID_STATE).',
      422: PROBLEM,
    },
    handler: restart,
  },
  controlRoute('suspend', 'Suspend a running instance.'),
  controlRoute('resume', 'Resume a suspended instance.'),
  {
    method: 'DELETE',
    url: '/api/instances/:id',
    operationId: 'purgeInstance',
    summary: 'Purge a finished instance and its history.',
    access: 'admin',
    schema: { params: schemas.instanceParams },
    responses: { 204: 'Purged.', 404: PROBLEM, 409: PROBLEM },
    handler: purge,
  },
];
