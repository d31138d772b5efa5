/**
 * Durable as a user gets it: `npm pack`, the tarball installed into an empty project, `durable init`, and the
 * README's Quick start. Nothing of the checkout is visible to the installed package: no src/, no dev dependency
 * but those the scaffold itself declares.
 *
 * No reinstall from the registry and no native build: each project's node_modules starts as a hard-linked copy of
 * this checkout's install (better-sqlite3's binary already built for this node), then `npm install --offline
 * --ignore-scripts` adds the tarball and prunes what the project does not depend on. The tarball's dist/ is compiled
 * emit-only (`--noCheck`; `npm run typecheck` checks the same files), with the dashboard bundled beside it as
 * `npm run build` does, into a staging copy of the package files, and
 * packed there with `npm pack --ignore-scripts`, so the checkout's own dist/ is never written.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const NPM_OFFLINE = ['--offline', '--ignore-scripts', '--no-audit', '--no-fund'];

/** A hard-linked copy of the checkout's node_modules (without npm's hidden lockfile, which npm rewrites in place). */
async function linkedNodeModules(dir: string): Promise<void> {
  await run('cp', ['-al', realpathSync(join(repoRoot, 'node_modules')), join(dir, 'node_modules')]);
  rmSync(join(dir, 'node_modules', '.package-lock.json'), { force: true });
}

/** The first fenced block after `marker` in a Markdown file. */
function blockAfter(markdown: string, marker: string): string {
  const at = markdown.indexOf(marker);
  assert.ok(at >= 0, `no ${marker} in the file`);
  const match = /```\w*\n([\s\S]*?)```/.exec(markdown.slice(at));
  assert.ok(match?.[1], `no code block after ${marker}`);
  return match[1];
}

/** Runs `npm start`-like `command` in its own process group; resolves with its URL once the banner is printed. */
function serve(command: string, args: string[], cwd: string): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(command, args, {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DURABLE_PORT: '0' },
  });
  let output = '';
  const url = new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /Durable dev — (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.on('exit', (code) => reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`)));
  });
  return { child, url };
}

/** SIGTERM to the process group (npm, its shell and node); resolves once the leader has exited. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

describe('the npm package, installed from its tarball', function () {
  this.timeout(180_000);
  let dir: string;
  let project: string;
  let tarball: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'durable-install-'));
    const stage = join(dir, 'stage');
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      private?: boolean;
      files: string[];
      scripts: Record<string, string>;
    };
    assert.equal(pkg.private, undefined, 'package.json is not private');
    assert.match(pkg.scripts.prepack ?? '', /npm run build/, 'npm pack builds dist/ first');
    assert.match(pkg.scripts.build ?? '', /tsc -p tsconfig\.build\.json && node scripts\/build-dashboard\.mjs/);
    mkdirSync(stage);
    for (const path of ['package.json', 'README.md', 'bin'])
      cpSync(join(repoRoot, path), join(stage, path), { recursive: true });
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [
      tsc,
      '-p',
      join(repoRoot, 'tsconfig.build.json'),
      '--noCheck',
      '--outDir',
      join(stage, 'dist'),
    ]);
    // `npm run build`'s second half: the dashboard's bundle.
    await run(process.execPath, [
      join(repoRoot, 'scripts', 'build-dashboard.mjs'),
      '--out',
      join(stage, 'dist', 'dashboard'),
    ]);
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: stage });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info);
    tarball = join(dir, info.filename);
    const files = info.files.map((file) => file.path);
    assert.ok(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts'), 'JavaScript and types');
    assert.ok(files.includes('bin/durable.mjs'), 'the durable command');
    assert.ok(files.includes('dist/dashboard/manifest.json'), 'the dashboard, built');
    assert.deepEqual(
      files.filter((path) => !/^(dist\/|bin\/|package\.json$|README\.md$)/.test(path)),
      [],
      'nothing but dist/, bin/, README and package.json',
    );
    assert.deepEqual(
      files.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts')),
      [],
      'no TypeScript source',
    );

    // An empty directory: no package.json (npm writes one with the dependency, and no "type").
    project = join(dir, 'project');
    mkdirSync(project);
    await linkedNodeModules(project);
    const installed = await run('npm', ['install', tarball, ...NPM_OFFLINE], { cwd: project });
    // fastify's test helper used to bring cookie@2, which wants Node 22: Durable pins light-my-request 6.6.0.
    assert.doesNotMatch(installed.stderr, /EBADENGINE/, 'installing on Node 20 warns about no engine');
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the README Quick start as written, as hello.mts without "type": "module" and as hello.ts with it', async () => {
    const code = blockAfter(readFileSync(join(repoRoot, 'README.md'), 'utf8'), '<!-- test: quick start -->');
    writeFileSync(join(project, 'hello.mts'), code);
    const plain = await run('npx', ['tsx', 'hello.mts'], { cwd: project });
    assert.match(plain.stdout, /Completed \[ 'Hello Tokyo', 'Hello Seattle', 'Hello London' \]/);

    const esm = join(project, 'esm');
    mkdirSync(esm);
    writeFileSync(join(esm, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(esm, 'hello.ts'), code);
    const typed = await run('npx', ['tsx', 'hello.ts'], { cwd: esm });
    assert.match(typed.stdout, /Completed \[ 'Hello Tokyo', 'Hello Seattle', 'Hello London' \]/);
  });

  it('runs an app with durable dev where no package.json says "type": "module", and serves the built dashboard', async () => {
    writeFileSync(join(project, 'greeting.ts'), 'export const greet = (name: string): string => `hi ${name}`;\n');
    writeFileSync(
      join(project, 'app.ts'),
      [
        "import { defineApp, TerminalError } from 'durable';",
        "import { greet } from './greeting';",
        'export default defineApp({',
        '  orchestrations: { async hi(_ctx, name: string) { return `${greet(name)} ${new TerminalError("x") instanceof Error}`; } },',
        '});',
      ].join('\n'),
    );
    const server = serve('npx', ['durable', 'dev', 'app.ts', '--data-dir', join(dir, 'plain-data')], project);
    try {
      const url = await server.url;
      const started = await fetch(`${url}/api/orchestrations/hi`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: 'Ada' }),
      });
      assert.equal(started.status, 201, await started.clone().text());
      const { instanceId } = (await started.json()) as { instanceId: string };
      const status = (await (await fetch(`${url}/api/instances/${instanceId}?wait=20000`)).json()) as {
        status: string;
        output: unknown;
      };
      assert.deepEqual([status.status, status.output], ['Completed', 'hi Ada true']);
      // The dashboard comes built inside the package (dist/dashboard): the shell and its hashed script.
      const html = await (await fetch(`${url}/`)).text();
      const script = /src="(\/assets\/main-[^"]+\.js)"/.exec(html)?.[1];
      assert.ok(script, html);
      const asset = await fetch(`${url}${script}`);
      assert.equal(asset.status, 200);
      assert.match(String(asset.headers.get('content-type')), /^text\/javascript/);
    } finally {
      await stop(server.child);
    }
  });

  it('scaffolds with durable init a project whose npm test, typecheck and npm start work after npm install', async () => {
    const created = await run('npx', ['durable', 'init', 'my-app'], { cwd: project });
    assert.match(created.stdout, /Created my-app/);
    const again = await run('npx', ['durable', 'init', 'my-app'], { cwd: project }).then(
      () => assert.fail('init into a non-empty directory succeeded'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(again.code, 2);
    assert.match(again.stderr, /my-app is not empty/);

    const app = join(project, 'my-app');
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.equal(manifest.dependencies.durable, 'file:../../durable-0.1.0.tgz', 'the same tarball, relative');
    await linkedNodeModules(app);
    await run('npm', ['install', ...NPM_OFFLINE], { cwd: app });
    const tested = await run('npm', ['test'], { cwd: app });
    assert.match(tested.stdout, /# pass 1\b/);
    assert.match(tested.stdout, /# fail 0\b/);
    await run('npm', ['run', 'typecheck'], { cwd: app });
    await run('npm', ['run', 'lint'], { cwd: app });
    // The lint rules are on: a clock read in the orchestration fails the lint with the ctx replacement.
    const appTs = join(app, 'app.ts');
    const source = readFileSync(appTs, 'utf8');
    assert.ok(source.includes('async welcome(ctx, name: string) {'), 'the scaffold has the welcome orchestration');
    writeFileSync(appTs, source.replace('async welcome(ctx, name: string) {', '$&\n      Date.now();'));
    const linted = await run('npm', ['run', 'lint'], { cwd: app }).catch((error: { stdout: string }) => error);
    assert.match(String(linted.stdout), /durable\/no-nondeterministic-calls/, String(linted.stdout));

    const server = serve('npm', ['start'], app);
    try {
      const url = await server.url;
      await run('npx', ['durable', 'start', 'welcome', '"Ada"', '--id', 'w1', '--url', url], { cwd: app });
      const status = await run('npx', ['durable', 'status', 'w1', '--wait', '--json', '--url', url], { cwd: app });
      const done = JSON.parse(status.stdout) as { status: string; output: unknown };
      assert.deepEqual([done.status, done.output], ['Completed', 'Hello, Ada! Visit number 1.']);
    } finally {
      await stop(server.child);
    }
  });
});
