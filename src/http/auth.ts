/**
 * Bearer-token authentication for the HTTP API.
 *
 * Tokens carry scopes: `read` (every GET), `write` (start, raise an event, signal an entity) and `admin`
 * (terminate, suspend, resume, purge, redrive dead letters). Scopes are independent: list every scope a token needs. Presented tokens
 * are compared with every configured one through SHA-256 digests and `timingSafeEqual`, without stopping at the
 * first match, so the time taken says nothing about how much of a token was right or which token matched. Tokens
 * are kept only as digests and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../engine/errors.js';
import { HttpError } from './errors.js';

export type Scope = 'read' | 'write' | 'admin';

/** What a route needs: a scope, or nothing (`public`: the OpenAPI document). */
export type RouteAccess = Scope | 'public';

export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

export interface AuthOptions {
  /** Accepted tokens (at least 16 characters each) and the scopes each grants. */
  readonly tokens: ReadonlyArray<{ readonly token: string; readonly scopes: readonly Scope[] }>;
  /**
   * Whether a request without a token is refused. When false, anonymous requests may do everything (for a
   * development server on loopback), but a token that is presented must still be valid and is held to its scopes.
   */
  readonly required: boolean;
}

/** The smallest token length accepted in the configuration. */
export const MIN_TOKEN_LENGTH = 16;

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

/**
 * Whether a server bound to `host` must require tokens: true for anything but loopback.
 * @example
 * authRequiredFor('127.0.0.1'); // false
 * authRequiredFor('0.0.0.0'); // true
 */
export function authRequiredFor(host: string): boolean {
  return !LOOPBACK.has(host.trim().toLowerCase());
}

/**
 * Checks `Authorization` headers against the configured tokens.
 * @example
 * const auth = new TokenAuthenticator({ required: true, tokens: [{ token: process.env.TOKEN!, scopes: ['read'] }] });
 * auth.authorize('Bearer ' + process.env.TOKEN, 'read'); // passes; a wrong token throws UNAUTHORIZED
 */
export class TokenAuthenticator {
  private readonly digests: ReadonlyArray<{ readonly digest: Buffer; readonly scopes: ReadonlySet<Scope> }>;
  private readonly required: boolean;

  constructor(options: AuthOptions | undefined) {
    this.required = options?.required ?? false;
    const tokens = options?.tokens ?? [];
    if (this.required && tokens.length === 0) {
      throw new ValidationError('auth.required needs at least one token.');
    }
    this.digests = tokens.map(({ token, scopes }, index) => {
      if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH) {
        throw new ValidationError(`auth.tokens[${index}] must be at least ${MIN_TOKEN_LENGTH} characters.`);
      }
      for (const scope of scopes) {
        if (!SCOPES.includes(scope)) {
          throw new ValidationError(`auth.tokens[${index}] has an unknown scope; expected ${SCOPES.join(', ')}.`);
        }
      }
      return { digest: digest(token), scopes: new Set(scopes) };
    });
  }

  /** Throws `UNAUTHORIZED` (no or bad token) or `FORBIDDEN` (valid token without the scope) unless allowed. */
  authorize(header: string | undefined, access: RouteAccess): void {
    if (access === 'public') return;
    if (header === undefined || header === '') {
      if (this.required) throw unauthorized('A bearer token is required.');
      return;
    }
    const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
    if (!match?.[1]) throw unauthorized('The Authorization header must be "Bearer <token>".');
    const scopes = this.scopesOf(match[1]);
    if (!scopes) throw unauthorized('The bearer token is not valid.');
    if (!scopes.has(access)) {
      throw new HttpError('FORBIDDEN', `This token lacks the '${access}' scope.`, { scope: access });
    }
  }

  private scopesOf(token: string): ReadonlySet<Scope> | undefined {
    const presented = digest(token);
    let found: ReadonlySet<Scope> | undefined;
    // Every configured token is compared, match or not: equal work whichever one (if any) matches.
    for (const candidate of this.digests) {
      if (timingSafeEqual(presented, candidate.digest) && found === undefined) found = candidate.scopes;
    }
    return found;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function unauthorized(message: string): HttpError {
  return new HttpError('UNAUTHORIZED', message);
}
