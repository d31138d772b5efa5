/**
 * `GET /api/app`: what the served app registers (orchestrations with their declared events, activities, entities
 * with their operations), as `describeApp` gives it: names only, never code. The dashboard builds its start and
 * signal forms from it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';
import type { ApiRoute, RouteContext } from './route.js';

function app(_request: FastifyRequest, _reply: FastifyReply, context: RouteContext): Promise<unknown> {
  if (context.app === undefined) {
    return Promise.reject(
      new HttpError('APP_UNKNOWN', 'This server was not given the app it serves (HttpApiOptions.app).'),
    );
  }
  return Promise.resolve(context.app);
}

/** The app route. */
export const appRoutes: readonly ApiRoute[] = [
  {
    method: 'GET',
    url: '/api/app',
    operationId: 'getApp',
    summary: "The served app's orchestrations (with their events), activities and entities (with their operations).",
    access: 'read',
    schema: {},
    responses: {
      200: '`{ orchestrations: [{ name, events? }], activities: [name], entities: [{ name, operations }] }`.',
      404: 'Problem details: the server does not know its app (APP_UNKNOWN).',
    },
    handler: app,
  },
];
