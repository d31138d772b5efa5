/**
 * Runs the real `kubectl` against a KubeApiServer through a generated kubeconfig, with a private discovery cache
 * (kubectl caches discovery per host:port under ~/.kube/cache; a shared cache would leak between servers).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApiServer } from '../kube-api-server/server.js';

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

  /** Runs kubectl, fails (with its stderr) unless it exits 0, and returns its stdout. */
  async ok(...args: string[]): Promise<string> {
    const result = await this.run(...args);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  }

  /** Applies the CRDs at `path` (a file or a folder) and waits until each named one is established. */
  async installCrds(path: string, ...names: string[]): Promise<void> {
    await this.ok('apply', '-f', path);
    await this.ok('wait', '--for', 'condition=established', ...names.map((n) => `crd/${n}`), '--timeout=10s');
  }

  /** A long-running kubectl (e.g. `get -w`); the caller kills it. */
  spawn(...args: string[]): ChildProcess {
    return spawn('kubectl', ['--cache-dir', join(this.dir, 'cache'), ...args], { env: this.env });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Registers mocha hooks that start a test server and a kubectl pointed at it, for each test (`'each'`) or once for
 * the suite (`'all'`), and stop them afterwards. `ready` runs after the start (e.g. to apply CRDs).
 * @example
 * const k8s = withKubectl('each');
 * it('…', async () => { await k8s.kubectl.run('get', 'pods'); });
 */
export function withKubectl(
  per: 'each' | 'all',
  ready?: (kubectl: Kubectl, server: KubeApiServer) => Promise<void>,
): { readonly server: KubeApiServer; readonly kubectl: Kubectl } {
  let server: KubeApiServer | undefined;
  let kubectl: Kubectl | undefined;
  const [setUp, tearDown] = per === 'each' ? [beforeEach, afterEach] : [before, after];
  setUp(async () => {
    server = new KubeApiServer();
    await server.start();
    kubectl = new Kubectl(server);
    await ready?.(kubectl, server);
  });
  tearDown(async () => {
    kubectl?.cleanup();
    await server?.stop();
  });
  return {
    get server() {
      return server as KubeApiServer;
    },
    get kubectl() {
      return kubectl as Kubectl;
    },
  };
}
