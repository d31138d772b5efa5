/**
 * Checks every request passes before authentication and before its body is read: the `Host` it names (DNS
 * rebinding), where it comes from (cross-site request forgery) and, for mutations, its media type.
 *
 * - **Host.** A page on `http://evil.example` whose name an attacker re-points at 127.0.0.1 talks to a loopback
 *   server as same-origin; only the `Host` header still says `evil.example`. So a request that reached the server
 *   on a loopback address (`request.socket.localAddress`, decided per request: it is what the connection really
 *   used, whatever the server was told to listen on, and a wildcard bind reached through loopback is checked too)
 *   must name `localhost`, `127.0.0.1`, `[::1]` or a configured host (`allowedHosts`), any port; otherwise 421.
 * - **Cross-site.** A browser sends a form POST or a body-less `fetch` to any origin without a preflight. A
 *   mutation is refused (403) when `Sec-Fetch-Site` says `cross-site` or `same-site`, or when `Origin` is present
 *   and is not this server's own (scheme-less `host:port` against the `Host` header; `Origin: null` is refused).
 * - **Media type.** Every mutation carries `Content-Type: application/json` (which a browser cannot send
 *   cross-origin without a preflight that this server never grants), or, without a body, `X-Durable-Request: 1`;
 *   otherwise 415. Clients that are not browsers (the CLI, curl) send neither `Origin` nor `Sec-Fetch-Site`.
 */
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a method changes nothing (GET, HEAD, OPTIONS). */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/** Whether a local address is loopback: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.toLowerCase();
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

/**
 * Normalizes configured host names (`DURABLE_ALLOWED_HOSTS=durable.internal,proxy.local`): lower case, no port.
 * @example
 * parseAllowedHosts('Durable.Internal, proxy.local:8080'); // ['durable.internal', 'proxy.local']
 */
export function parseAllowedHosts(value: string | readonly string[] | undefined): string[] {
  const list = typeof value === 'string' ? value.split(',') : [...(value ?? [])];
  return list.map((h) => hostName(h.trim())).filter((h) => h.length > 0);
}

/** The name part of a `Host` header (`[::1]:8080` → `[::1]`, `Example:80` → `example`). */
function hostName(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

export interface RequestGuardOptions {
  /** Host names accepted on a loopback connection besides the loopback names. */
  readonly allowedHosts: readonly string[];
}

/**
 * Throws `HOST_NOT_ALLOWED`, `CROSS_SITE_REQUEST` or `UNSUPPORTED_MEDIA_TYPE` unless the request passes.
 * @example
 * app.addHook('onRequest', (request, _reply, done) => { checkRequest(request, { allowedHosts: [] }); done(); });
 */
export function checkRequest(request: FastifyRequest, options: RequestGuardOptions): void {
  const host = request.headers.host ?? '';
  if (isLoopbackAddress(request.socket.localAddress)) {
    const name = hostName(host);
    if (!LOOPBACK_NAMES.has(name) && !options.allowedHosts.includes(name)) {
      throw new HttpError(
        'HOST_NOT_ALLOWED',
        `This server answers on loopback only to localhost, 127.0.0.1 and [::1]${options.allowedHosts.length > 0 ? ` and ${options.allowedHosts.join(', ')}` : ''}, not to Host '${name}' (add it to DURABLE_ALLOWED_HOSTS if it is yours).`,
        { host: name },
      );
    }
  }
  // A request no route takes changes nothing: it gets its 404, whatever it carries.
  if (isSafeMethod(request.method) || request.routeOptions.url === undefined) return;
  checkSameOrigin(request, host);
  checkMediaType(request);
}

function checkSameOrigin(request: FastifyRequest, host: string): void {
  const site = header(request, 'sec-fetch-site')?.toLowerCase();
  if (site === 'cross-site' || site === 'same-site') {
    throw new HttpError('CROSS_SITE_REQUEST', `A ${site} request cannot change anything here.`, {
      secFetchSite: site,
    });
  }
  const origin = header(request, 'origin');
  if (origin === undefined) return;
  const own = origin !== 'null' && originHost(origin) === canonicalHost(host);
  if (!own) {
    throw new HttpError('CROSS_SITE_REQUEST', `A request from origin '${origin}' cannot change anything here.`, {
      origin: origin,
    });
  }
}

function checkMediaType(request: FastifyRequest): void {
  const type = header(request, 'content-type');
  if (type !== undefined) {
    const media = type.split(';')[0]!.trim().toLowerCase();
    if (media === 'application/json') return;
    throw new HttpError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Requests that change something take Content-Type: application/json, not '${media}'.`,
      { contentType: media },
    );
  }
  const hasBody =
    request.headers['transfer-encoding'] !== undefined ||
    (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');
  if (!hasBody && header(request, 'x-durable-request') === '1') return;
  throw new HttpError(
    'UNSUPPORTED_MEDIA_TYPE',
    'Requests that change something take Content-Type: application/json (or, without a body, the header X-Durable-Request: 1).',
  );
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `host:port` of an origin, without its scheme's default port; undefined for anything that is not an origin. */
function originHost(origin: string): string | undefined {
  try {
    return withoutDefaultPort(new URL(origin).host);
  } catch {
    return undefined;
  }
}

/** A `Host` header written as an origin's host would be (default port 80 dropped, lower case). */
function canonicalHost(host: string): string | undefined {
  if (host === '') return undefined;
  try {
    return withoutDefaultPort(new URL(`http://${host}`).host);
  } catch {
    return undefined;
  }
}

function withoutDefaultPort(host: string): string {
  return host.toLowerCase().replace(/:(80|443)$/, '');
}
