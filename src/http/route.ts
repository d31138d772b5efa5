/**
 * One API route as data: method, URL, the scope it needs, its request schemas, its documented responses and its
 * handler. The server registers these with Fastify and the OpenAPI document is built from the same list.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DurableClient } from '../client/client.js';
import type { AppDescription } from './app-description.js';
import type { Identity, RouteAccess } from './auth.js';
import type { ChangeStreams } from './change-stream.js';
import type { JsonSchema } from './schemas.js';

/** What handlers can use besides the request. */
export interface RouteContext {
  readonly client: DurableClient;
  /** Orchestration names the app registers, if known (unknown ones are refused with 422). */
  readonly orchestrations: ReadonlySet<string> | undefined;
  /** Entity names the app registers, if known. */
  readonly entities: ReadonlySet<string> | undefined;
  /** The whole app as the server knows it (names, events, entity operations), if it was given. */
  readonly app: AppDescription | undefined;
  /** Who made the request (its token's name and scopes), as authentication found it. */
  readonly identity?: (request: FastifyRequest) => Identity | undefined;
  /** The change streams of this API instance (`GET /api/stream`) and their shared watcher. */
  readonly streams?: ChangeStreams;
}

export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Fastify syntax: `/api/instances/:id`. */
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly access: RouteAccess;
  readonly schema: {
    readonly params?: JsonSchema;
    readonly querystring?: JsonSchema;
    readonly body?: JsonSchema;
  };
  /** A request without a body is taken as `{}` (routes whose body fields are all optional). */
  readonly emptyBodyIsObject?: boolean;
  /** Documented responses: status → description. Errors are problem details. */
  readonly responses: Readonly<Record<number, string>>;
  readonly handler: (request: FastifyRequest, reply: FastifyReply, context: RouteContext) => Promise<unknown>;
}
