/**
 * Routes for dead letters: list the messages parked in the dead-letter queues (and the unreadable bytes parked
 * with them), redrive them (make them deliverable again as fresh messages), and delete them for good. Listing
 * needs `read`; redriving and deleting change what the system does next, so they need `admin`, like terminate and
 * purge.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DeleteDeadLettersOptions, RedriveOptions } from '../client/client.js';
import type { QueueName } from '../engine/messages.js';
import type { ApiRoute, RouteContext } from './route.js';
import { schemas } from './schemas.js';

interface RedriveBody {
  readonly queue?: QueueName;
  readonly messageIds?: string[];
}

async function list(request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const { queue } = request.query as { queue?: QueueName };
  return { items: await context.client.listDeadLetters(queue) };
}

async function redrive(request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const body = request.body as RedriveBody;
  const options: RedriveOptions = {
    ...(body.queue !== undefined ? { queue: body.queue } : {}),
    ...(body.messageIds !== undefined ? { messageIds: body.messageIds } : {}),
  };
  return context.client.redriveDeadLetters(options);
}

async function remove(request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  const body = request.body as RedriveBody & { readonly all?: boolean };
  const options: DeleteDeadLettersOptions = {
    ...(body.queue !== undefined ? { queue: body.queue } : {}),
    ...(body.messageIds !== undefined ? { messageIds: body.messageIds } : {}),
    ...(body.all !== undefined ? { all: body.all } : {}),
  };
  return context.client.deleteDeadLetters(options);
}

/** The dead-letter routes, in the order the OpenAPI document lists them. */
export const deadLetterRoutes: readonly ApiRoute[] = [
  {
    method: 'GET',
    url: '/api/dead-letters',
    operationId: 'listDeadLetters',
    summary: 'Messages parked in the dead-letter queues, and why: orchestrations first, each in the order parked.',
    access: 'read',
    schema: { querystring: schemas.deadLettersQuery },
    responses: {
      200:
        '`{ items: [{ queue, messageId, instanceId, reason, message }] }`; bytes that are not a message are listed as ' +
        '`{ queue, messageId: "job-<id>", reason, unreadable: { location, base64 } }`.',
    },
    handler: list,
  },
  {
    method: 'POST',
    url: '/api/dead-letters/redrive',
    operationId: 'redriveDeadLetters',
    summary:
      'Make dead letters deliverable again, now, as fresh messages: of one queue or both, all or only `messageIds`.',
    access: 'admin',
    schema: { body: schemas.redriveBody },
    emptyBodyIsObject: true,
    responses: { 200: '`{ redriven: [{ queue, messageIds }] }`, one entry per queue looked at.' },
    handler: redrive,
  },
  {
    method: 'POST',
    url: '/api/dead-letters/delete',
    operationId: 'deleteDeadLetters',
    summary:
      'Delete dead letters for good: of one queue or both, only `messageIds` or, with `all: true`, every one (one of the two is required).',
    access: 'admin',
    schema: { body: schemas.deleteDeadLettersBody },
    responses: { 200: '`{ deleted: [{ queue, messageIds }] }`, one entry per queue looked at.' },
    handler: remove,
  },
];
