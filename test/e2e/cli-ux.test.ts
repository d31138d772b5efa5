/**
 * The `durable` command as a person meets it before anything runs: help, version, usage errors and their exit
 * status, and what it says when --url points at something that is not Durable.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin', 'durable.mjs');

function durable(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: repoRoot, env: { ...process.env, DURABLE_URL: '', DURABLE_TOKEN: '', ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function serve(handler: (response: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((_request, response) => handler(response));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('the durable command: help, version and usage errors', function () {
  this.timeout(30_000);

  it('prints the usage of one command with `<command> --help`, with its options and environment, and exits 0', async () => {
    const start = await durable(['start', '--help']);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /^Usage: durable start <name> \[input-json\]/);
    assert.match(start.stdout, /--reuse <policy>/);
    assert.match(start.stdout, /--timeout <ms>/);
    assert.match(start.stdout, /DURABLE_URL/);
    assert.match(start.stdout, /DURABLE_TOKEN/);
    assert.doesNotMatch(start.stdout, /--port/, 'options of other commands are not listed');

    const dev = await durable(['dev', '--help']);
    assert.equal(dev.code, 0, dev.stderr);
    assert.match(dev.stdout, /^Usage: durable dev <app>/);
    assert.match(dev.stdout, /DURABLE_PORT/);
    assert.doesNotMatch(dev.stdout, /DURABLE_URL/, 'dev serves the API; it does not talk to one');
  });

  it('lists every command with --help, and exits 2 when no command is given', async () => {
    const help = await durable(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['dev', 'start', 'status', 'list', 'history', 'kick', 'entity']) {
      assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), command);
    }
    const none = await durable([]);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /^Usage: durable <command>/);
  });

  it("prints the package's version with --version", async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const result = await durable(['--version']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.trim(), version);
  });

  it('exits 2 with one line for an unknown flag, a flag of another command, and an unknown command', async () => {
    const unknown = await durable(['list', '--frobnicate']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr.trim().split('\n').length, 1);
    assert.match(unknown.stderr, /^durable: Unknown option '--frobnicate'/);

    const other = await durable(['start', 'helloSequence', '--port', '3000']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /^durable: durable start does not take --port \(dev does\)/);

    const command = await durable(['frobnicate']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /Unknown command 'frobnicate'/);

    const status = await durable(['list', '--status', 'sleeping']);
    assert.equal(status.code, 2);
    assert.match(status.stderr, /--status must be one of Pending, Running, Suspended, Completed, Failed, Terminated/);
  });
});

describe('the durable command against a server that is not Durable', function () {
  this.timeout(30_000);
  const servers: Server[] = [];

  after(() => {
    for (const server of servers) server.close();
    for (const server of servers) server.closeAllConnections();
  });

  it('says in one line that a server answering with HTML is not a Durable API', async () => {
    const { server, url } = await serve((response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Welcome</body></html>');
    });
    servers.push(server);
    const result = await durable(['status', 'x', '--url', url]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(result.stderr, /is not a Durable API: it answered GET \/api\/instances\/x with 200 and an HTML page/);
  });

  it('says the same of a 404 that is not problem details, and names DURABLE_URL when that is where the URL came from', async () => {
    const { server, url } = await serve((response) => {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not Found"}');
    });
    servers.push(server);
    const result = await durable(['list'], { DURABLE_URL: url });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is not a Durable API: it answered GET \/api\/instances with 404/);
    assert.match(result.stderr, /DURABLE_URL/);
  });

  it('gives up on a server that never answers after --timeout, saying so', async () => {
    const { server, url } = await serve(() => {
      // never answers
    });
    servers.push(server);
    const result = await durable(['status', 'x', '--url', url, '--timeout', '300']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /did not answer GET \/api\/instances\/x within 300 ms \(--timeout <ms> waits longer\)/);
  });
});
