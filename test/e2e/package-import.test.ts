/**
 * An app that imports `'durable'` (the package name) runs under `durable dev` and `durable worker` on the same
 * module instance as the runtime, from source, with no build step: its `instanceof` checks on Durable's errors
 * hold, and a TerminalError thrown by its activity is not retried.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import { defineApp } from '../../src/index.js';
import type { WorkerChild } from '../fixtures/worker-child.js';
import { startWorkerChild } from '../fixtures/worker-child.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const APP = 'test/fixtures/package-app.ts';
const EXPECTED: Record<string, string> = {
  charge: 'declined on attempt 1',
  approval: 'timed out',
  sameModule: 'same module',
};

describe('an app importing the durable package', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'durable-package-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('shares the runtime’s module under durable dev: instanceof holds and a TerminalError runs once', async () => {
    const server: ChildProcess = spawn(
      process.execPath,
      ['bin/durable.mjs', 'dev', APP, '--port', '0', '--data-dir', dir],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    server.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /Durable dev — (http:\/\/[^\s]+)/.exec(output);
          if (match?.[1]) resolve(match[1]);
        });
        server.on('exit', (code) => reject(new Error(`durable dev exited with ${code}:\n${output}`)));
      });
      for (const [name, expected] of Object.entries(EXPECTED)) {
        const started = await fetch(`${url}/api/orchestrations/${name}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ input: null }),
        });
        assert.equal(started.status, 201, await started.clone().text());
        const { instanceId } = (await started.json()) as { instanceId: string };
        const status = (await (await fetch(`${url}/api/instances/${instanceId}?wait=20000`)).json()) as {
          status: string;
          output: unknown;
        };
        assert.equal(status.status, 'Completed', `${name}: ${JSON.stringify(status)}`);
        assert.equal(status.output, expected, name);
      }
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('shares the runtime’s module under durable worker: instanceof holds and a TerminalError runs once', async () => {
    const path = join(dir, 'durable.db');
    const worker: WorkerChild = startWorkerChild({ DURABLE_SQLITE_PATH: path, DURABLE_LOCK: 'sqlite' }, APP);
    let client: Host | undefined;
    try {
      await worker.waitFor('worker.ops_listening');
      // The client needs only the orchestrations' names (this process does not load the app by package name).
      const names = defineApp({
        orchestrations: Object.fromEntries(Object.keys(EXPECTED).map((name) => [name, async () => null])),
      });
      const config = loadConfig({ DURABLE_SQLITE_PATH: path, DURABLE_LOCK: 'sqlite', DURABLE_DURABILITY: 'normal' });
      client = await startHost({ app: names, config, runWorker: false });
      for (const [name, expected] of Object.entries(EXPECTED)) {
        const id = await client.client.start(name, null);
        const status = await client.client.waitForCompletion(id, { timeoutMs: 20_000 });
        assert.equal(status.status, 'Completed', `${name}: ${JSON.stringify(status)}`);
        assert.equal(status.output, expected, name);
      }
    } finally {
      await client?.stop();
      await worker.stop();
    }
  });
});
