/**
 * Scoped tokens from a file, for `durable dev` (`--tokens-file`) and the worker's API (`DURABLE_TOKENS_FILE`): a JSON
 * array of `{ "name": "ci", "scopes": ["read", "write"], "sha256": "<hex of the token>" }`. Only hashes are on disk:
 * a stolen file opens nothing. `DURABLE_TOKEN` stays the one admin token, next to the file's.
 *
 * A bad file refuses to start, with a message naming the entry and the field: a server that silently dropped a
 * malformed entry would refuse its holder, or worse, run without the protection its operator meant to set.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ValidationError } from '../engine/errors.js';
import type { AuthOptions, Scope, TokenSpec } from './auth.js';
import { MIN_TOKEN_LENGTH, SCOPES } from './auth.js';

/** One entry of a token file. */
export interface TokenFileEntry {
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly sha256: string;
}

/**
 * Reads and checks a token file.
 * @example
 * const tokens = readTokenFile('/etc/durable/tokens.json'); // [{ name: 'ci', scopes: ['read'], sha256: '…' }]
 */
export function readTokenFile(path: string): TokenFileEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ValidationError(`Cannot read the tokens file ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`The tokens file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseTokenFile(value, path);
}

/**
 * Checks the parsed content of a token file (`where` names it in messages).
 * @example
 * parseTokenFile([{ name: 'ci', scopes: ['read'], sha256: 'ab…' }], 'tokens.json');
 */
export function parseTokenFile(value: unknown, where: string): TokenFileEntry[] {
  if (!Array.isArray(value)) {
    throw new ValidationError(`The tokens file ${where} must hold a JSON array of { name, scopes, sha256 } entries.`);
  }
  const names = new Set<string>();
  const hashes = new Set<string>();
  return value.map((entry: unknown, index) => {
    const at = (field: string): string => `The tokens file ${where}: entry ${index}${nameOf(entry)}, field "${field}"`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new ValidationError(`The tokens file ${where}: entry ${index} must be an object { name, scopes, sha256 }.`);
    }
    const { name, scopes, sha256, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) {
      throw new ValidationError(`${at(unknown)} is not a known field (name, scopes, sha256; never the token itself).`);
    }
    if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
      throw new ValidationError(`${at('name')} must be 1-64 letters, digits, '.', '_' or '-'.`);
    }
    if (names.has(name)) throw new ValidationError(`${at('name')} repeats the name of an earlier entry.`);
    names.add(name);
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => SCOPES.includes(s as Scope))) {
      throw new ValidationError(
        `${at('scopes')} must be a non-empty array of ${SCOPES.map((s) => `"${s}"`).join(', ')}.`,
      );
    }
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(sha256)) {
      throw new ValidationError(`${at('sha256')} must be the SHA-256 of the token in 64 hexadecimal digits.`);
    }
    const hash = sha256.toLowerCase();
    if (hashes.has(hash)) throw new ValidationError(`${at('sha256')} repeats the hash of an earlier entry.`);
    hashes.add(hash);
    return { name, scopes: scopes as Scope[], sha256: hash };
  });
}

function nameOf(entry: unknown): string {
  const name = (entry as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? ` ("${name.slice(0, 64)}")` : '';
}

/**
 * The tokens a server accepts: `DURABLE_TOKEN` (every scope) and the entries of a token file. Undefined when there
 * are none (anonymous requests may then do everything: loopback development only).
 * @example
 * const auth = authFromEnvironment({ token: process.env.DURABLE_TOKEN, tokensFile: process.env.DURABLE_TOKENS_FILE });
 */
export function authFromEnvironment(sources: {
  readonly token?: string | undefined;
  readonly tokensFile?: string | undefined;
}): AuthOptions | undefined {
  const tokens: TokenSpec[] = [];
  const token = sources.token || undefined;
  if (token !== undefined) {
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new ValidationError(
        `DURABLE_TOKEN is ${token.length} characters long; it must have at least ${MIN_TOKEN_LENGTH} (for example: durable token create --name admin).`,
      );
    }
    tokens.push({ token, scopes: SCOPES });
  }
  if (sources.tokensFile) {
    for (const entry of readTokenFile(sources.tokensFile)) tokens.push(entry);
  }
  return tokens.length > 0 ? { tokens } : undefined;
}

/**
 * A new random token (32 bytes, base64url) and the token-file entry that accepts it.
 * @example
 * const { token, entry } = createToken('ci', ['read', 'write']); // print token once; add entry to the file
 */
export function createToken(name: string, scopes: readonly Scope[]): { token: string; entry: TokenFileEntry } {
  const token = `dur_${randomBytes(32).toString('base64url')}`;
  const [entry] = parseTokenFile([{ name, scopes: [...scopes], sha256: sha256Hex(token) }], '(new entry)');
  return { token, entry: entry! };
}

/** The hex SHA-256 of a token, as a token file stores it. */
export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
