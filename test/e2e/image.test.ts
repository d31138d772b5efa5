/**
 * The container image, as far as it can be checked without a Docker engine. The runtime stage's file layout is
 * rebuilt in a temp dir from the Dockerfile itself: its `deps` stage from a copy of this checkout's install pruned
 * to the production dependencies (no reinstall, so better-sqlite3's binary is the one already built), its `build`
 * stage by `tsc -p tsconfig.build.json`, then the runtime stage's COPY lines, ENV, WORKDIR, ENTRYPOINT and CMD as
 * written. The image's entry points must start from there, on compiled JavaScript, with no dev dependency.
 */
import assert from 'node:assert/strict';
import ts from 'typescript';
import { execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import { defineApp } from '../../src/index.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

interface Copy {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly destination: string;
}

interface Stage {
  readonly name: string;
  workdir: string;
  readonly copies: Copy[];
  readonly env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
}

/** The stages of a Dockerfile, with the instructions this test follows (continuation lines joined). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  for (const line of lines) {
    const [instruction = '', ...words] = line.split(/\s+/);
    const rest = line.slice(instruction.length).trim();
    const stage = stages.at(-1);
    switch (instruction.toUpperCase()) {
      case 'FROM':
        stages.push({ name: words[2] ?? '', workdir: '/', copies: [], env: {}, entrypoint: [], cmd: [] });
        break;
      case 'WORKDIR':
        if (stage) stage.workdir = posix.resolve(stage.workdir, rest);
        break;
      case 'COPY': {
        const flags = words.filter((w) => w.startsWith('--'));
        const paths = words.filter((w) => !w.startsWith('--'));
        const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
        stage?.copies.push({ from, sources: paths.slice(0, -1), destination: paths.at(-1) ?? '' });
        break;
      }
      case 'ENV':
        for (const pair of rest.split(/\s+/)) {
          const [key = '', ...value] = pair.split('=');
          if (stage) stage.env[key] = value.join('=');
        }
        break;
      case 'ENTRYPOINT':
        if (stage) stage.entrypoint = JSON.parse(rest) as string[];
        break;
      case 'CMD':
        if (stage) stage.cmd = JSON.parse(rest) as string[];
        break;
    }
  }
  return stages;
}

/** Files under `dir` (relative paths), not descending into `skip`. */
function filesUnder(dir: string, skip: (path: string) => boolean = () => false): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .filter((path) => !skip(path));
}

/** The packages the compiled JavaScript imports by name (`node:` built-ins aside): what the runtime must resolve. */
function packagesImported(distDir: string): string[] {
  const names = new Set<string>();
  for (const file of filesUnder(distDir).filter((path) => path.endsWith('.js'))) {
    const code = readFileSync(join(distDir, file), 'utf8');
    // TypeScript's own scanner: real import and export statements and import() calls, not the words `from 'x'` in
    // a comment or in a string (the scaffold's templates, the lint rules' messages).
    for (const { fileName: specifier } of ts.preProcessFile(code, true, true).importedFiles) {
      if (specifier.startsWith('node:') || specifier.startsWith('.')) continue;
      const parts = specifier.split('/');
      names.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier));
    }
  }
  return [...names].sort();
}

describe('the container image (its runtime stage rebuilt from the Dockerfile, without Docker)', function () {
  this.timeout(120_000);
  const stages = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
  const runtime = stages.at(-1);
  let dir: string;
  let layout: string;
  /** The command line of the image: ENTRYPOINT, with `node` this node and `/app` the layout. */
  let entrypoint: string[];
  let imageEnv: Record<string, string>;

  /** The image's path `path` (absolute, or relative to the stage's WORKDIR) in `stageDir`. */
  const inStage = (stage: Stage, stageDir: string, path: string): string =>
    join(stageDir, posix.relative(stage.workdir, posix.resolve(stage.workdir, path)));

  before(async function () {
    assert.ok(runtime, 'the Dockerfile has stages');
    dir = mkdtempSync(join(tmpdir(), 'durable-image-'));
    const stageDirs = new Map<string, string>();
    for (const stage of stages.slice(0, -1)) {
      const stageDir = join(dir, stage.name);
      mkdirSync(stageDir);
      stageDirs.set(stage.name, stageDir);
    }
    // `deps`: the production install, as `npm ci --omit=dev` leaves it: this checkout's install, pruned. The copy is
    // of hard links (a second of work instead of copying 500 MB); pruning only unlinks files, except npm's hidden
    // lockfile, rewritten in place, so the copy's is removed first (npm then reads the tree itself). Scripts off:
    // better-sqlite3's binary is already built for this node, so nothing is downloaded or compiled.
    const deps = join(dir, 'deps');
    assert.ok(stageDirs.has('deps') && stageDirs.has('build'), 'the Dockerfile has a deps and a build stage');
    cpSync(join(repoRoot, 'package.json'), join(deps, 'package.json'));
    cpSync(join(repoRoot, 'package-lock.json'), join(deps, 'package-lock.json'));
    const install = async (): Promise<void> => {
      await run('cp', ['-al', realpathSync(join(repoRoot, 'node_modules')), join(deps, 'node_modules')]);
      rmSync(join(deps, 'node_modules', '.package-lock.json'), { force: true });
      await run('npm', ['prune', '--omit=dev', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], {
        cwd: deps,
      });
    };
    // `build`: Durable compiled by `npm run build`'s tsconfig, into the stage's dist/ (never the checkout's, where
    // bin/durable.mjs runs the sources anyway). Emit only: `npm run typecheck` checks the same files.
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const build = run(process.execPath, [
      tsc,
      '-p',
      join(repoRoot, 'tsconfig.build.json'),
      '--noCheck',
      '--outDir',
      join(dir, 'build', 'dist'),
    ]);
    // `npm run build` bundles the dashboard too (scripts/build-dashboard.mjs), into the same dist/.
    const dashboard = run(process.execPath, [
      join(repoRoot, 'scripts', 'build-dashboard.mjs'),
      '--out',
      join(dir, 'build', 'dist', 'dashboard'),
    ]);
    await Promise.all([install(), build, dashboard]);

    layout = join(dir, 'app');
    mkdirSync(layout);
    for (const copy of runtime.copies) {
      const source = copy.from ? stages.find((s) => s.name === copy.from) : undefined;
      const sourceDir = copy.from ? stageDirs.get(copy.from) : repoRoot;
      assert.ok(sourceDir && (!copy.from || source), `COPY --from=${copy.from}: no such stage`);
      for (const path of copy.sources) {
        const from = source ? inStage(source, sourceDir, path) : join(repoRoot, path);
        const to = inStage(
          runtime,
          layout,
          copy.destination.endsWith('/') ? posix.join(copy.destination, path) : copy.destination,
        );
        mkdirSync(dirname(to), { recursive: true });
        // A stage's output is this test's own: moved, not copied again. The checkout's files are copied.
        if (source) renameSync(from, to);
        else cpSync(from, to, { recursive: true, verbatimSymlinks: true });
      }
    }
    const [node, ...args] = runtime.entrypoint;
    assert.equal(node, 'node', 'the entry point runs node');
    entrypoint = [process.execPath, ...args.map((arg) => (arg.startsWith('/') ? inStage(runtime, layout, arg) : arg))];
    // The image's environment, with nothing of this process's but PATH: no NODE_OPTIONS, no tsx, no conditions.
    imageEnv = { PATH: process.env.PATH ?? '', ...runtime.env };
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the image with `args` (the container's command), in its WORKDIR. */
  const container = (args: string[], env: Record<string, string> = {}) =>
    run(entrypoint[0] ?? '', [...entrypoint.slice(1), ...args], {
      cwd: inStage(runtime!, layout, '.'),
      env: { ...imageEnv, ...env },
      timeout: 30_000,
    });

  it('copies compiled Durable and no TypeScript of its own: no src/, worker/ or operator/ sources', () => {
    assert.ok(existsSync(join(layout, 'dist', 'src', 'index.js')));
    assert.ok(existsSync(join(layout, 'dist', 'worker', 'main.js')));
    const sources = filesUnder(layout, (path) => path.startsWith('node_modules/') || path.startsWith('examples/'));
    assert.deepEqual(
      sources.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts')),
      [],
    );
    for (const name of ['src', 'worker', 'operator']) assert.ok(!existsSync(join(layout, name)), name);
  });

  it('has no dev dependency in its node_modules, and every package the compiled code imports', async () => {
    for (const name of ['typescript', 'mocha', 'eslint', 'prettier']) {
      assert.ok(!existsSync(join(layout, 'node_modules', name)), `${name} is in the image`);
    }
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages).filter(([path, entry]) => path && entry.dev);
    assert.ok(devOnly.length > 0);
    assert.deepEqual(
      devOnly.map(([path]) => path).filter((path) => existsSync(join(layout, path))),
      [],
    );
    // Drivers are imported lazily (rethinkdb, @kubernetes/client-node): only loading them shows they are there.
    const packages = packagesImported(join(layout, 'dist'));
    assert.ok(packages.includes('@kubernetes/client-node') && packages.includes('better-sqlite3'), String(packages));
    await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        'for (const p of JSON.parse(process.argv[1])) await import(p);',
        JSON.stringify(packages),
      ],
      { cwd: layout, env: imageEnv },
    );
  });

  it('keeps out of the build context nothing a COPY line needs (.dockerignore)', () => {
    const allowed = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1));
    const fromContext = stages.flatMap((stage) => stage.copies.filter((c) => !c.from).flatMap((c) => c.sources));
    assert.deepEqual(
      fromContext.filter((path) => !allowed.includes(path)),
      [],
    );
  });

  it('prints the worker’s usage: `worker --help` exits 0', async () => {
    const { stdout } = await container(['worker', '--help']);
    assert.match(stdout, /durable worker/);
  });

  it('prints the operator’s usage: `operator --help` exits 0', async () => {
    const { stdout } = await container(['operator', '--help']);
    assert.match(stdout, /durable operator/);
  });

  it('runs its default command, the example app’s worker, with no writable temp dir, serves the built dashboard on its API port, and drains on SIGTERM', async () => {
    const data = join(dir, 'data');
    mkdirSync(data);
    const sqlite = { DURABLE_SQLITE_PATH: join(data, 'durable.db') };
    const worker = spawn(entrypoint[0] ?? '', [...entrypoint.slice(1), ...runtime!.cmd], {
      cwd: inStage(runtime!, layout, '.'),
      // As on a read-only root filesystem: only the data volume is writable.
      env: {
        ...imageEnv,
        ...sqlite,
        DURABLE_OPS_HOST: '127.0.0.1',
        DURABLE_OPS_PORT: '0',
        DURABLE_API_HOST: '127.0.0.1',
        DURABLE_API_PORT: '0',
        TMPDIR: '/proc/no-tmp',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    worker.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => worker.on('close', (code) => resolve(code)));
    let client: Host | undefined;
    try {
      const addresses: Record<string, string> = {};
      const address = await new Promise<string>((resolve, reject) => {
        createInterface({ input: worker.stdout }).on('line', (line) => {
          output += `${line}\n`;
          const event = JSON.parse(line) as { event?: string; address?: string };
          if (event.event && event.address) addresses[event.event] = event.address;
          const ops = addresses['worker.ops_listening'];
          if (ops && addresses['worker.api_listening']) resolve(ops);
        });
        void exited.then((code) => reject(new Error(`the worker exited with ${code}:\n${output}`)));
        setTimeout(() => reject(new Error(`the worker did not listen within 30 s:\n${output}`)), 30_000).unref();
      });
      let ready = 0;
      for (let i = 0; i < 100 && ready !== 200; i++) {
        ready = (await fetch(`${address}/readyz`)).status;
        if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(ready, 200, output);
      // The compiled worker runs the TypeScript app: a client on the same SQLite file starts an orchestration.
      const names = defineApp({ orchestrations: { helloSequence: async () => null } });
      client = await startHost({ app: names, config: loadConfig(sqlite), runWorker: false });
      const id = await client.client.start('helloSequence', ['Tokyo']);
      const status = await client.client.waitForCompletion(id, { timeoutMs: 20_000 });
      assert.deepEqual(status.output, ['Hello Tokyo!'], JSON.stringify(status));
      // Its HTTP API serves the dashboard from the files the build bundled (no esbuild at run time).
      const api = addresses['worker.api_listening'];
      const shell = await fetch(`${api}/`);
      assert.equal(shell.status, 200);
      const html = await shell.text();
      const script = /src="(\/assets\/main-[^"]+\.js)"/.exec(html)?.[1];
      assert.ok(script, html);
      const asset = await fetch(`${api}${script}`);
      assert.equal(asset.status, 200);
      assert.match(String(asset.headers.get('cache-control')), /immutable/);
      assert.ok((await asset.text()).length > 1000);
    } finally {
      await client?.stop();
      worker.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
  });
});
