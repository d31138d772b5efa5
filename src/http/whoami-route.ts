/**
 * `GET /api/whoami`: the caller's scopes and token name, and whether this server requires a token. The dashboard
 * reads it to decide which action buttons to show; any valid token may ask (anonymous when no token is configured).
 */
import type { ApiRoute } from './route.js';

export const whoamiRoute: ApiRoute = {
  method: 'GET',
  url: '/api/whoami',
  operationId: 'whoami',
  summary:
    'The caller: `{ scopes, name, authRequired }`. Any valid token (or anyone, when the server has no token configured); 401 when a token is required and missing or bad.',
  access: 'authenticated',
  schema: {},
  responses: { 200: 'The scopes of the token (every scope when anonymous on a server without tokens) and its name.' },
  handler: async (request, _reply, context) => {
    const identity = context.identity?.(request);
    return {
      scopes: identity?.scopes ?? [],
      ...(identity?.name !== undefined ? { name: identity.name } : {}),
      authRequired: identity?.authRequired ?? false,
    };
  },
};
