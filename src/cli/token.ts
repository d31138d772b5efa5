/**
 * `durable token create --name ci --scopes read,write`: a new random token, printed once, and the entry that accepts
 * it in a tokens file (which holds only its SHA-256). Nothing is written anywhere: the operator places both.
 */
import { CliError } from '../host/cli-error.js';
import type { Scope } from '../http/auth.js';
import { SCOPES } from '../http/auth.js';
import { createToken } from '../http/token-file.js';
import type { Flags } from './commands.js';

export function token(args: readonly string[], flags: Flags, out: (text: string) => void): void {
  if (args[0] !== 'create' || args.length > 1) {
    throw new CliError('Usage: durable token create --name <name> [--scopes read,write,admin]', 'USAGE');
  }
  const name = flags.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
    throw new CliError("durable token create needs --name: 1-64 letters, digits, '.', '_' or '-' (e.g. ci).", 'USAGE');
  }
  const list = typeof flags.scopes === 'string' ? flags.scopes.split(',').map((s) => s.trim()) : ['read'];
  for (const scope of list) {
    if (!SCOPES.includes(scope as Scope)) {
      throw new CliError(`--scopes takes ${SCOPES.join(', ')} (comma-separated), not '${scope}'.`, 'USAGE');
    }
  }
  const created = createToken(name, [...new Set(list as Scope[])]);
  out(
    [
      `token  ${created.token}`,
      '       (shown once: keep it in your secret store; the server keeps only its hash)',
      '',
      'Add this entry to the tokens file (DURABLE_TOKENS_FILE, or durable dev --tokens-file):',
      JSON.stringify(created.entry),
    ].join('\n'),
  );
}
