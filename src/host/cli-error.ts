/**
 * The error a command-line entry point (`durable dev`, `durable worker`, the HTTP client commands) prints as is:
 * a message for a person and a stable `code` (`USAGE` exits with status 2). It sits in the host, below the CLI,
 * because loading an app (`load-app.ts`) throws it for both the CLI and the worker process.
 * @example
 * throw new CliError('Usage: durable dev <app module>', 'USAGE');
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'CLI_ERROR',
  ) {
    super(message);
    this.name = 'CliError';
  }
}
