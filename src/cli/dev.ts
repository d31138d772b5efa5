/**
 * `durable dev <app>`: the whole of Durable in one process on embedded SQLite, with the HTTP API on loopback.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { DurableConfig } from '../config/config.js';
import { drainTimeoutMs, loadConfig } from '../config/config.js';
import { CliError } from '../host/cli-error.js';
import { startHost } from '../host/host.js';
import { loadApp } from '../host/load-app.js';
import type { FastifyInstance } from 'fastify';
import type { AuthOptions } from '../http/auth.js';
import { authRequiredFor, MIN_TOKEN_LENGTH } from '../http/auth.js';
import { parseAllowedHosts } from '../http/request-guards.js';
import { authFromEnvironment } from '../http/token-file.js';
import { describeApp } from '../http/app-description.js';
import { createHttpApi } from '../http/http-api.js';
import type { Flags } from './commands.js';
import { devReporter, useColor } from './dev-reporter.js';

export async function dev(args: readonly string[], flags: Flags, out: (text: string) => void): Promise<void> {
  const appPath = args[0];
  if (!appPath)
    throw new CliError(
      'Usage: durable dev <app module> [--port 8080] [--host 127.0.0.1] [--data-dir .durable] [--tokens-file FILE] [--watch] [--quiet]',
      'USAGE',
    );
  if (flags.watch === true) return devWatch(appPath);

  // Everything that can be refused is checked before the database is opened: a refusal exits at once.
  const port = Number(typeof flags.port === 'string' ? flags.port : (process.env.DURABLE_PORT ?? 8080));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be 0-65535.`, 'USAGE');
  const host = typeof flags.host === 'string' ? flags.host : (process.env.DURABLE_HOST ?? '127.0.0.1');
  const dataDir =
    typeof flags['data-dir'] === 'string' ? flags['data-dir'] : (process.env.DURABLE_DATA_DIR ?? '.durable');
  const tokensFile =
    typeof flags['tokens-file'] === 'string' ? flags['tokens-file'] : process.env.DURABLE_TOKENS_FILE || undefined;
  // Any configured token is required on every route, loopback included; none at all is for loopback only.
  let auth: AuthOptions | undefined;
  try {
    auth = authFromEnvironment({ token: process.env.DURABLE_TOKEN, tokensFile });
  } catch (error) {
    throw new CliError((error as Error).message, 'USAGE');
  }
  if (authRequiredFor(host) && !auth) {
    throw new CliError(
      `Binding to ${host} (not loopback) needs a token: set DURABLE_TOKEN (at least ${MIN_TOKEN_LENGTH} characters) or DURABLE_TOKENS_FILE (durable token create).`,
      'USAGE',
    );
  }
  const allowedHosts = parseAllowedHosts(process.env.DURABLE_ALLOWED_HOSTS);

  const deadlineMs = drainTimeoutMs(process.env);

  const app = await loadApp(appPath);
  const config = loadConfig(process.env, {
    sqlitePath: process.env.DURABLE_SQLITE_PATH ?? join(dataDir, 'durable.db'),
  });
  const quiet = flags.quiet === true;
  const logger = quiet ? undefined : devReporter({ write: out, color: useColor(process.stdout, process.env) });
  // The determinism guard: a warning, once per orchestration, when its code reads the clock or Math.random.
  const durable = await startHost({
    app,
    config,
    worker: { warnNondeterminism: true },
    ...(logger ? { logger } : {}),
  });
  const orchestrations = Object.keys(app.orchestrations);
  const listed = orchestrations.map((name) => {
    const events = app.events[name];
    return events ? `${name} (events: ${events.join(', ')})` : name;
  });
  const entities = Object.keys(app.entities);
  let api: FastifyInstance | undefined;
  let address: string;
  try {
    api = createHttpApi(durable.client, {
      app: describeApp(app),
      orchestrations,
      entities,
      allowedHosts,
      ...(auth ? { auth } : {}),
    });
    address = await api.listen({ host, port });
  } catch (error) {
    // Nothing may keep the process alive with the database open: close what was opened, then say why.
    await api?.close().catch(() => undefined);
    await durable.stop().catch(() => undefined);
    throw new CliError(listenProblem(error, host, port));
  }
  out(
    [
      `Durable dev — ${address}`,
      `  data           ${dataLine(config)}`,
      `  orchestrations ${listed.join(', ') || '(none)'}`,
      `  activities     ${Object.keys(app.activities).join(', ') || '(none)'}`,
      `  entities       ${entities.join(', ') || '(none)'}`,
      `  API            ${address}/api/instances   OpenAPI ${address}/openapi.json`,
      `  dashboard      ${address}/`,
      `  auth           ${auth ? `${auth.tokens.length} token(s); every request needs one` : 'none (anyone who can reach this address may do everything)'}`,
      quiet
        ? '  Ctrl-C stops (running turns finish; nothing is lost). --quiet: no line per instance.'
        : '  Ctrl-C stops (running turns finish; nothing is lost). One line per start, end, retry and failure follows.',
    ].join('\n'),
  );

  const server = api;
  let signals = 0;
  const stop = (): void => {
    signals++;
    if (signals > 1) {
      // Asked twice: out now. Unacknowledged messages come back after their reservation; nothing is lost.
      out('stopped without waiting for running work (it runs again on the next start).');
      process.exit(1);
    }
    out('stopping… (Ctrl-C again to stop at once)');
    const deadline = setTimeout(() => {
      const running = durable.worker?.running ?? { batches: 0, activities: 0 };
      out(
        `still running after ${deadlineMs} ms (${running.batches} turn batch(es), ${running.activities} activity(ies)): stopping anyway; their messages return to the queue.`,
      );
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    // Requests in flight get 5 s to finish; a connection still open then (a client that keeps its socket) is cut,
    // so that one client cannot hold the stop (and the worker's drain) up.
    const cut = setTimeout(() => server.server.closeAllConnections(), 5000);
    cut.unref();
    void server
      .close()
      .then(() => clearTimeout(cut))
      .then(() => durable.stop())
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Why the API could not listen, said for a person. */
function listenProblem(error: unknown, host: string, port: number): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return `Port ${port} on ${host} is in use (another durable dev?). Stop it, or pick another port: --port ${port + 1} (or --port 0 for any free one).`;
  }
  if (code === 'EACCES') return `Not allowed to listen on ${host}:${port}; pick a port above 1023 (--port).`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return `Cannot listen on ${host}: no such local address (--host).`;
  return `Cannot serve the HTTP API on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * `--watch`: runs `durable dev` in a child process and restarts it when a file next to the app changes. A child
 * that exits on its own (the app failed to load) is started again on the next change.
 */
async function devWatch(appPath: string): Promise<void> {
  const argv = process.argv.slice(1).filter((a) => a !== '--watch');
  const run = (): ChildProcess => {
    const proc = spawn(process.execPath, argv, { stdio: 'inherit' });
    proc.once('exit', (code, signal) => {
      if (proc === child && !restarting && !stopping)
        process.stdout.write(`app exited (${signal ?? code}); waiting for a change…\n`);
    });
    return proc;
  };
  let child = run();
  let restarting = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  const restart = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      process.stdout.write('change detected: restarting…\n');
      restarting = true;
      const start = (): void => {
        restarting = false;
        child = run();
      };
      if (child.exitCode !== null || child.signalCode !== null) return start();
      child.once('exit', start);
      child.kill('SIGTERM');
    }, 150);
  };
  const watcher = watch(dirname(resolve(appPath)), { recursive: true }, (_event, file) => {
    if (file && /\.(ts|js|mts|mjs|json)$/.test(file) && !file.includes('node_modules')) restart();
  });
  await new Promise<void>((done) => {
    process.once('SIGINT', () => {
      stopping = true;
      watcher.close();
      clearTimeout(timer);
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGINT');
    });
  });
}

/** Where the instances live, as the banner says it (never with a password). */
function dataLine(config: DurableConfig): string {
  const local =
    config.backend === 'sqlite' ? `${config.sqlite.path} (durability ${config.sqlite.durability})` : 'in memory';
  const store = config.rethinkdb;
  return store ? `rethinkdb://${store.host}:${store.port}/${store.db} (store); queue and lock as configured` : local;
}
