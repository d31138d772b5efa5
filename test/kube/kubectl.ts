/**
 * Runs the real `kubectl` against a KubeApiServer through a generated kubeconfig, with a private discovery cache
 * (kubectl caches discovery per host:port under ~/.kube/cache; a shared cache would leak between servers).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeApiServer } from '../kube-api-server/server.js';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Kubectl {
  readonly dir = mkdtempSync(join(tmpdir(), 'kubectl-'));
  private readonly env: NodeJS.ProcessEnv;

  constructor(server: KubeApiServer) {
    writeFileSync(join(this.dir, 'kubeconfig'), server.kubeconfig());
    this.env = { ...process.env, KUBECONFIG: join(this.dir, 'kubeconfig'), HOME: this.dir };
  }

  /** Writes a manifest into the scratch directory and returns its path. */
  file(name: string, content: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, content);
    return path;
  }

  run(...args: string[]): Promise<KubectlResult> {
    return new Promise((resolve) => {
      execFile(
        'kubectl',
        ['--cache-dir', join(this.dir, 'cache'), ...args],
        { env: this.env },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** A long-running kubectl (e.g. `get -w`); the caller kills it. */
  spawn(...args: string[]): ChildProcess {
    return spawn('kubectl', ['--cache-dir', join(this.dir, 'cache'), ...args], { env: this.env });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
