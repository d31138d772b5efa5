/**
 * The HTTP management API: a Fastify instance over a {@link DurableClient}, covering everything the client does.
 *
 * Request handling, in order: the request guards (`request-guards.ts`: Host, cross-site, media type) and
 * authentication (`onRequest`, before the body is even read), body parsing (JSON only,
 * bounded in size and depth, no prototype-polluting keys), schema validation of params, query and body, then one
 * client call. Everything that can go wrong before the client call happens before anything is queued or stored,
 * and every error leaves as problem details (`errors.ts`). The instance is returned unstarted: the caller decides
 * where it listens (`authRequiredFor(host)` says whether that host needs tokens).
 *
 * The server itself is bounded (`server-limits.ts`): the whole request must arrive within `bodyTimeoutMs`, at most
 * `maxConnections` connections are open at once, and errors raised before the router (bad request lines and
 * headers, 408, 431, 417) leave as problem details like every other error. Every response carries
 * `X-Content-Type-Options`, `Referrer-Policy` and `X-Frame-Options` (and HTML a `frame-ancestors` policy), each only
 * where the route did not set its own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Fastify from 'fastify';
import AjvCompiler from '@fastify/ajv-compiler';
import type { DurableClient } from '../client/client.js';
import { ValidationError } from '../engine/errors.js';
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import type { AuthOptions, Identity, RouteAccess } from './auth.js';
import { TokenAuthenticator } from './auth.js';
import { checkRequest, parseAllowedHosts } from './request-guards.js';
import { DEFAULT_BODY_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, limitServer, addSecurityHeaders } from './server-limits.js';
import { whoamiRoute } from './whoami-route.js';
import { deadLetterRoutes } from './dead-letter-routes.js';
import { entityRoutes } from './entity-routes.js';
import { HttpError, toProblem } from './errors.js';
import { instanceRoutes } from './instance-routes.js';
import { appRoutes } from './app-routes.js';
import type { ChangeStreamOptions } from './change-stream.js';
import { ChangeStreams, streamRoutes } from './change-stream.js';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-body.js';
import type { AppDescription } from './app-description.js';
import { serveDashboard } from './dashboard.js';
import { buildOpenApi } from './openapi.js';
import type { SchemaError } from './validation-messages.js';
import { describeValidation } from './validation-messages.js';
import type { ApiRoute, RouteContext } from './route.js';
import { LOG_EVENTS } from '../observability/log-events.js';

/** The default body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface HttpApiOptions {
  /** Largest accepted request body, in bytes (default 1 MiB); larger ones get 413. */
  readonly bodyLimit?: number;
  /**
   * Bearer tokens and their scopes. With any token, every route but the public ones needs a valid one (on loopback
   * too); without any, every request is allowed (loopback development).
   */
  readonly auth?: AuthOptions;
  /**
   * Host names accepted on a loopback connection besides localhost, 127.0.0.1 and [::1] (DNS-rebinding defence;
   * `DURABLE_ALLOWED_HOSTS`). Other `Host` headers on a loopback connection get 421.
   */
  readonly allowedHosts?: readonly string[];
  /** The whole request (headers and body) must arrive within this time, else 408 and the socket closes (10 s). */
  readonly bodyTimeoutMs?: number;
  /** Connections open at once (default 256); the ones beyond are closed as they arrive. */
  readonly maxConnections?: number;
  /** Orchestration names the app registers; starts of other names get 422. Default: any name. */
  readonly orchestrations?: readonly string[];
  /** Entity names the app registers; other names get 422. Default: any name. */
  readonly entities?: readonly string[];
  /** Receives one line per request (method, path, status, duration) and internal errors. Never headers. */
  readonly logger?: Logger;
  /** Deepest JSON nesting accepted in a body (default 64). */
  readonly maxJsonDepth?: number;
  /**
   * The app this server serves (`describeApp(app)`): what the dashboard lists, and what the API checks names
   * against. `orchestrations` and `entities`, when given, take precedence for those checks.
   */
  readonly app?: AppDescription;
  /**
   * Serve the dashboard at `/` (default true): any process that serves the API serves the dashboard. Its shell and
   * assets are public (they hold no data); what it shows comes from `/api/*`, with the token the user signs in with.
   */
  readonly dashboard?: boolean;
  /** `GET /api/stream`: how often its watcher reads, how many streams may be open (defaults: 1 s, 32). */
  readonly stream?: ChangeStreamOptions;
}

/** Every route of the API (the OpenAPI document and the server are built from this one list). */
export const API_ROUTES: readonly ApiRoute[] = [
  ...instanceRoutes,
  ...entityRoutes,
  ...deadLetterRoutes,
  whoamiRoute,
  ...appRoutes,
  ...streamRoutes,
];

interface RouteConfig {
  readonly access?: RouteAccess;
  readonly emptyBodyIsObject?: boolean;
}

/**
 * Builds the API (not listening).
 * @example
 * const api = createHttpApi(client, {
 *   orchestrations: Object.keys(app.orchestrations),
 *   entities: Object.keys(app.entities),
 *   auth: authFromEnvironment({ token: process.env.DURABLE_TOKEN, tokensFile: process.env.DURABLE_TOKENS_FILE }),
 *   allowedHosts: parseAllowedHosts(process.env.DURABLE_ALLOWED_HOSTS),
 * });
 * await api.listen({ host, port: 8080 });
 */
export function createHttpApi(client: DurableClient, options: HttpApiOptions = {}): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1) {
    throw new ValidationError('bodyLimit must be a positive integer (bytes).', { bodyLimit });
  }
  const maxDepth = options.maxJsonDepth ?? MAX_JSON_DEPTH;
  const logger = options.logger ?? silentLogger;
  const auth = new TokenAuthenticator(options.auth);
  const allowedHosts = parseAllowedHosts(options.allowedHosts);
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  for (const [name, value] of Object.entries({ bodyTimeoutMs, maxConnections })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ValidationError(`${name} must be a positive integer.`, { [name]: value });
    }
  }
  const orchestrations = options.orchestrations ?? options.app?.orchestrations.map((o) => o.name);
  const entities = options.entities ?? options.app?.entities.map((e) => e.name);
  const context: RouteContext = {
    client,
    orchestrations: orchestrations ? new Set(orchestrations) : undefined,
    entities: entities ? new Set(entities) : undefined,
    app: options.app,
    identity: (request) => identities.get(request),
    streams: new ChangeStreams(client, options.stream),
  };
  const identities = new WeakMap<FastifyRequest, Identity>();

  const app = Fastify({
    bodyLimit,
    logger: false,
    // Ids are bounded by the schemas (which answer 400); the router's own limit would answer 404 instead.
    routerOptions: { maxParamLength: 8192 },
    frameworkErrors: (error, _request, reply) => void sendProblem(reply, error),
    // Schema errors in words (the problem's `details.errors` keep Ajv's paths for programs).
    schemaErrorFormatter: (errors, part) => new Error(describeValidation(errors as SchemaError[], part)),
    // Node's own limits: see server-limits.ts for what each one really does on a socket.
    requestTimeout: bodyTimeoutMs,
    http: {
      headersTimeout: bodyTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(bodyTimeoutMs / 4))),
    },
    clientErrorHandler: (error, socket) => limitServer.onClientError(error, socket),
  });
  limitServer.install(app.server, { maxConnections });

  installValidators(app);
  const methods = methodsByPath(app);
  // Open change streams never end on their own: end them first, or close() would wait for every browser.
  app.addHook('preClose', (done) => {
    context.streams?.closeAll();
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      // A body-less mutation with the JSON content type (what browsers' fetch sends) has no body, not a bad one.
      done(null, body === '' ? undefined : parseJsonBody(body as string, maxDepth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.addHook('onRequest', (request, _reply, done) => {
    const config = request.routeOptions.config as RouteConfig;
    try {
      checkRequest(request, { allowedHosts });
      identities.set(request, auth.authorize(request.headers.authorization, config.access ?? 'public'));
      done();
    } catch (error) {
      done(error as Error);
    }
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const config = request.routeOptions.config as RouteConfig;
    if (config.emptyBodyIsObject && request.body === undefined) request.body = {};
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    addSecurityHeaders(reply);
    done(null, payload);
  });
  app.addHook('onResponse', async (request, reply) => {
    logger.info({
      event: LOG_EVENTS.httpRequest,
      method: request.method,
      // The path only: query strings are the caller's and may hold anything.
      path: request.url.split('?')[0],
      route: request.routeOptions.url,
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime),
    });
  });

  app.setErrorHandler((error, request, reply) => {
    const { status } = toProblem(error);
    if (status >= 500) {
      const e = error as Partial<Error>;
      logger.error(
        {
          event: LOG_EVENTS.httpInternalError,
          method: request.method,
          name: e.name,
          message: e.message,
          stack: e.stack,
        },
        'HTTP request failed',
      );
    }
    return sendProblem(reply, error);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = methods(path);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(
        reply,
        new HttpError('METHOD_NOT_ALLOWED', `${path} takes ${allowed.join(', ')}, not ${request.method}.`, {
          allow: allowed,
        }),
      );
    }
    return sendProblem(reply, new HttpError('NOT_FOUND', `No route ${request.method} ${path}.`));
  });

  for (const route of API_ROUTES) {
    const config: RouteConfig = { access: route.access, emptyBodyIsObject: route.emptyBodyIsObject ?? false };
    app.route({
      method: route.method,
      url: route.url,
      schema: route.schema,
      config,
      handler: (request: FastifyRequest, reply: FastifyReply) => route.handler(request, reply, context),
    });
  }
  if (options.dashboard ?? true) serveDashboard(app, { access: 'public' } satisfies RouteConfig);
  const openApi = buildOpenApi(API_ROUTES, { title: 'Durable management API', version: '1' });
  app.get('/openapi.json', { config: { access: 'public' } satisfies RouteConfig }, (_request, reply) => {
    void reply.send(openApi);
  });
  return app;
}

/**
 * Collects every route as it is registered (Fastify's `onRoute`), and answers which methods a path takes: what a
 * 405's `Allow` header lists when a known path is asked with another method.
 */
function methodsByPath(app: FastifyInstance): (path: string) => string[] {
  const routes: { readonly pattern: RegExp; readonly methods: readonly string[] }[] = [];
  app.addHook('onRoute', (route) => {
    const escaped = route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+');
    routes.push({ pattern: new RegExp(`^${escaped}$`), methods: [route.method].flat() });
  });
  return (path) => {
    const found = new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods));
    return ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => found.has(m));
  };
}

/**
 * Query strings and path parameters arrive as strings and are coerced to the schema's types; JSON bodies are
 * not (a body whose `instanceId` is a number is malformed, not "123"). Unknown fields are refused, not dropped.
 */
function installValidators(app: FastifyInstance): void {
  const factory = AjvCompiler();
  // `verbose`: errors carry the refused value and its schema, which the messages quote (validation-messages.ts).
  const strict = factory({}, { customOptions: { coerceTypes: false, removeAdditional: false, verbose: true } });
  const coercing = factory({}, { customOptions: { coerceTypes: 'array', removeAdditional: false, verbose: true } });
  app.setValidatorCompiler((definition) => {
    if (definition.httpPart === 'body') return strict(definition);
    const validate = coercing(definition);
    const properties = ((definition.schema as { properties?: Record<string, { type?: unknown }> }).properties ??
      {}) as Record<string, { type?: unknown }>;
    const integers = Object.keys(properties).filter((key) => properties[key]?.type === 'integer');
    // Ajv's coercion takes anything `Number()` reads: "0x10", "1e3", and "1e400", which becomes Infinity and
    // passes its integer and maximum checks. Integers in a URL are written in plain decimal digits.
    const check = (data: unknown): boolean | { error: Error } => {
      const raw = data as Record<string, unknown>;
      for (const key of integers) {
        const value = raw[key];
        if (typeof value === 'string' && !/^-?[0-9]{1,15}$/.test(value)) {
          return {
            error: new ValidationError(
              `${definition.httpPart === 'querystring' ? 'Query parameter' : 'Path parameter'} ${key} must be a whole number in decimal digits (got ${JSON.stringify(value.slice(0, 40))}).`,
              { [key]: value.slice(0, 40) },
            ),
          };
        }
      }
      const ok = validate(data);
      check.errors = validate.errors;
      return ok === true;
    };
    check.errors = validate.errors;
    return check;
  });
}

function sendProblem(reply: FastifyReply, error: unknown): FastifyReply {
  const { status, problem } = toProblem(error);
  if (problem.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer realm="durable"');
  if (problem.code === 'FORBIDDEN')
    reply.header('www-authenticate', 'Bearer realm="durable", error="insufficient_scope"');
  // Framework errors (a bad URL) leave without the onSend hooks: the security headers are added here too.
  addSecurityHeaders(reply);
  return reply.code(status).type('application/problem+json; charset=utf-8').send(JSON.stringify(problem));
}
