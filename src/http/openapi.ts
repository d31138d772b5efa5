/**
 * The OpenAPI 3.1 document, built from the route list: the same schemas Fastify validates with, so the document
 * describes exactly what the server accepts.
 */
import type { ApiRoute } from './route.js';
import type { JsonSchema } from './schemas.js';
import { problemSchema } from './schemas.js';

type OpenApiDocument = Record<string, unknown>;

/**
 * @example
 * const doc = buildOpenApi([...instanceRoutes, ...entityRoutes], { title: 'Durable', version: '0.1.0' });
 * Object.keys(doc.paths); // ['/api/orchestrations/{name}', …]
 */
export function buildOpenApi(
  routes: readonly ApiRoute[],
  info: { readonly title: string; readonly version: string },
): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      ...info,
      description:
        'Manage durable orchestrations, entities and dead letters. Errors are problem details ' +
        '`{ code, message, details }`. Scopes: `read` for every GET, `write` to start, raise events and signal, ' +
        '`admin` to terminate, suspend, resume, purge and redrive dead letters.',
    },
    paths,
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
  };
}

function operation(route: ApiRoute): Record<string, unknown> {
  const parameters = [...parametersOf(route.schema.params, 'path'), ...parametersOf(route.schema.querystring, 'query')];
  const responses: Record<string, unknown> = {};
  for (const [status, description] of Object.entries(route.responses)) {
    responses[status] =
      Number(status) >= 400
        ? { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }
        : { description };
  }
  responses['400'] ??= problemResponse('Malformed request.');
  if (route.access !== 'public') {
    responses['401'] = problemResponse('Missing or invalid bearer token.');
    responses['403'] = problemResponse(`The token lacks the '${route.access}' scope.`);
  }
  if (route.schema.body) {
    responses['413'] = problemResponse('The body is over the limit.');
    responses['415'] = problemResponse('The body is not application/json.');
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.access !== 'public' ? { security: [{ bearer: [] }], 'x-scope': route.access } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.schema.body
      ? {
          requestBody: {
            required: !route.emptyBodyIsObject,
            content: { 'application/json': { schema: route.schema.body } },
          },
        }
      : {}),
    responses,
  };
}

function parametersOf(schema: JsonSchema | undefined, where: 'path' | 'query'): unknown[] {
  if (!schema) return [];
  const properties = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = (schema['required'] ?? []) as string[];
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.includes(name),
    schema: property,
    ...(property['type'] === 'array' ? { style: 'form', explode: true } : {}),
    ...(typeof property['description'] === 'string' ? { description: property['description'] } : {}),
  }));
}

function problemResponse(description: string): Record<string, unknown> {
  return { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
}
