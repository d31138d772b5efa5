/**
 * The HTTP server's own limits, and the answers it gives before any route runs.
 *
 * What each Node/Fastify knob really does, checked over real sockets (test/http/slow-clients.test.ts):
 * - `requestTimeout` (Node's `server.requestTimeout`, which Fastify's option sets): the whole request, headers and
 *   body, must arrive within it, counted from the first byte; a trickled body or a `Content-Length` never fulfilled
 *   is cut with `ERR_HTTP_REQUEST_TIMEOUT` through `clientError`. Node checks it only every
 *   `connectionsCheckingInterval` (default 30 s!), so the API sets that interval to a fraction of the timeout.
 * - `headersTimeout` (Node): the same for the headers alone; it may not exceed `requestTimeout`.
 * - `connectionTimeout` (Fastify → `server.setTimeout`): socket inactivity, any direction: a byte a minute resets
 *   it, so it does not stop a trickle. Left off: long-polls and event streams are idle by design.
 * - `keepAliveTimeout`: idle time between requests on a kept-alive connection; not about slow requests.
 * - `server.maxConnections`: Node accepts then at once destroys every connection beyond the cap (no response).
 *
 * Errors Node raises on the socket (bad request line or header, 408, 431) and unmet `Expect` headers (417) never
 * reach Fastify's router; they are written here as problem details, with the security headers.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';
import type { HttpOnlyCode } from './errors.js';
import { statusFor } from './errors.js';

/** Default time for a whole request to arrive: 10 s. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
/** Default cap on open connections. */
export const DEFAULT_MAX_CONNECTIONS = 256;

/** Headers every response carries (only where the route did not set its own). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * Adds the security headers a reply lacks; HTML without a Content-Security-Policy gets `frame-ancestors 'none'`.
 * A route's own CSP (the dashboard's `default-src 'self'`) is never replaced.
 * @example
 * app.addHook('onSend', (_request, reply, payload, done) => { addSecurityHeaders(reply); done(null, payload); });
 */
export function addSecurityHeaders(reply: FastifyReply): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    if (!reply.hasHeader(name)) reply.header(name, value);
  }
  const type = String(reply.getHeader('content-type') ?? '');
  if (/^text\/html/i.test(type) && !reply.hasHeader('content-security-policy')) {
    reply.header('content-security-policy', "frame-ancestors 'none'");
  }
}

/** Node's socket error codes, by the problem they are for a caller. */
function problemOf(error: Error & { code?: string }): { code: HttpOnlyCode; message: string } {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'REQUEST_TIMEOUT', message: 'The request did not arrive in time; the connection is closed.' };
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'HEADERS_TOO_LARGE', message: 'The request headers are too large.' };
    case 'HPE_INVALID_METHOD':
      return { code: 'BAD_REQUEST', message: 'The request method is not valid.' };
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
      return { code: 'BAD_REQUEST', message: 'A request header is not valid HTTP.' };
    default:
      return { code: 'BAD_REQUEST', message: 'The request is not valid HTTP.' };
  }
}

function rawProblem(code: HttpOnlyCode, message: string): string {
  const status = statusFor(code);
  const body = JSON.stringify({ code, message });
  const headers = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}`,
    'Content-Type: application/problem+json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
  ];
  return `${headers.join('\r\n')}\r\n\r\n${body}`;
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
};

export const limitServer = {
  /** Fastify's `clientErrorHandler`: a problem-details answer (when the socket can still take one), then close. */
  onClientError(error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    // A response already under way cannot be followed by another one: close only.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const { code, message } = problemOf(error);
      socket.end(rawProblem(code, message));
      // A client that never reads cannot hold the socket open.
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.destroy();
  },

  /** The connection cap, and problem details for an `Expect` this server does not meet (Node answers a bare 417). */
  install(server: Server, options: { readonly maxConnections: number }): void {
    server.maxConnections = options.maxConnections;
    server.on('checkExpectation', (_request, response: ServerResponse) => {
      const body = JSON.stringify({ code: 'EXPECTATION_FAILED', message: 'Only "Expect: 100-continue" is supported.' });
      response.writeHead(417, {
        'content-type': 'application/problem+json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
        ...SECURITY_HEADERS,
      });
      response.end(body);
    });
  },
};
