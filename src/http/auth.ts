/**
 * Bearer-token authentication for the HTTP API.
 *
 * As soon as one token is configured, every route but the public ones needs a valid token, on loopback too; without
 * any token (loopback development only: `authRequiredFor`), anonymous requests may do everything.
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

/**
 * What a route needs: a scope; any valid token (`authenticated`: `GET /api/whoami`); or nothing (`public`: the
 * OpenAPI document and the dashboard's shell, which hold no data).
 */
export type RouteAccess = Scope | 'authenticated' | 'public';

export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

/** One accepted token: the token itself (at least 16 characters) or the hex SHA-256 of it (a token file). */
export type TokenSpec = (
  { readonly token: string; readonly sha256?: undefined } | { readonly sha256: string; readonly token?: undefined }
) & {
  readonly scopes: readonly Scope[];
  /** Who holds it (`ci`), as `GET /api/whoami` says; never the token. */
  readonly name?: string;
};

export interface AuthOptions {
  /** Accepted tokens and the scopes each grants. As soon as there is one, every request needs a valid token. */
  readonly tokens: readonly TokenSpec[];
  /**
   * Deprecated and redundant: configured tokens are always required, on loopback too (a token that anyone on the
   * machine can skip protects nothing). `true` without any token is a configuration error.
   */
  readonly required?: boolean;
}

/** Who made a request, as `GET /api/whoami` answers it. */
export interface Identity {
  readonly scopes: readonly Scope[];
  /** The token's name, when it has one; undefined for anonymous requests and unnamed tokens. */
  readonly name: string | undefined;
  /** Whether this server refuses requests without a token. */
  readonly authRequired: boolean;
}

/** The smallest token length accepted in the configuration. */
export const MIN_TOKEN_LENGTH = 16;

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

/**
 * Whether a server bound to `host` must have tokens configured: true for anything but loopback.
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
  private readonly digests: ReadonlyArray<{ readonly digest: Buffer; readonly identity: Identity }>;
  /** True as soon as one token is configured. */
  readonly required: boolean;

  constructor(options: AuthOptions | undefined) {
    const tokens = options?.tokens ?? [];
    if (options?.required === true && tokens.length === 0) {
      throw new ValidationError('auth.required needs at least one token.');
    }
    this.required = tokens.length > 0;
    this.digests = tokens.map((spec, index) => {
      for (const scope of spec.scopes) {
        if (!SCOPES.includes(scope)) {
          throw new ValidationError(`auth.tokens[${index}] has an unknown scope; expected ${SCOPES.join(', ')}.`);
        }
      }
      const identity: Identity = {
        scopes: SCOPES.filter((s) => spec.scopes.includes(s)),
        name: spec.name,
        authRequired: true,
      };
      if (spec.sha256 !== undefined) {
        if (!/^[0-9a-f]{64}$/i.test(spec.sha256)) {
          throw new ValidationError(`auth.tokens[${index}].sha256 must be 64 hexadecimal digits.`);
        }
        return { digest: Buffer.from(spec.sha256, 'hex'), identity };
      }
      if (typeof spec.token !== 'string' || spec.token.length < MIN_TOKEN_LENGTH) {
        throw new ValidationError(`auth.tokens[${index}] must be at least ${MIN_TOKEN_LENGTH} characters.`);
      }
      return { digest: digest(spec.token), identity };
    });
  }

  /**
   * Who is asking, if allowed: throws `UNAUTHORIZED` (no or bad token) or `FORBIDDEN` (valid token without the
   * scope). Anonymous requests are allowed everything only while no token is configured; a token that is presented
   * must be valid either way and is held to its scopes.
   */
  authorize(header: string | undefined, access: RouteAccess): Identity {
    if (header === undefined || header === '') {
      if (this.required && access !== 'public') throw unauthorized('A bearer token is required.');
      return { scopes: SCOPES, name: undefined, authRequired: this.required };
    }
    if (access === 'public') return { scopes: [], name: undefined, authRequired: this.required };
    const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
    if (!match?.[1]) throw unauthorized('The Authorization header must be "Bearer <token>".');
    const identity = this.identify(match[1]);
    if (!identity) throw unauthorized('The bearer token is not valid.');
    if (access !== 'authenticated' && !identity.scopes.includes(access)) {
      throw new HttpError('FORBIDDEN', `This token lacks the '${access}' scope.`, { scope: access });
    }
    return identity;
  }

  private identify(token: string): Identity | undefined {
    const presented = digest(token);
    let found: Identity | undefined;
    // Every configured token is compared, match or not: equal work whichever one (if any) matches.
    for (const candidate of this.digests) {
      if (timingSafeEqual(presented, candidate.digest) && found === undefined) found = candidate.identity;
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
