/**
 * The command blocks of README.md and docs/*.md that a reader would paste: every ```sh block preceded by the line
 * `<!-- test: run -->` runs here, as written, with `bash -e`, and must exit 0. Blocks that need what this machine
 * cannot give a test (Kubernetes, Helm, Docker, `npm ci` in the shared checkout) carry no marker.
 *
 * Each block runs in an empty directory that looks like a project with Durable installed: `node_modules/durable`
 * is this checkout (so `npx durable` runs its sources) and `examples/` is the checkout's. `DURABLE_PORT` and
 * `DURABLE_URL` point `durable dev` and the CLI at a free port, so the blocks' default 8080 is never taken. Whatever
 * a block leaves running is stopped with its process group.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const MARKER = '<!-- test: run -->';

interface Block {
  readonly file: string;
  readonly line: number;
  readonly code: string;
}

/** The marked ```sh blocks of one Markdown file. */
function markedBlocks(file: string): Block[] {
  const text = readFileSync(join(repoRoot, file), 'utf8');
  const blocks: Block[] = [];
  for (const match of text.matchAll(new RegExp(`${MARKER}\\s*\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\``, 'g'))) {
    blocks.push({ file, line: text.slice(0, match.index).split('\n').length, code: match[1] ?? '' });
  }
  return blocks;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/** Runs `code` with bash -e in `cwd`; resolves with its exit code and output, its process group stopped. */
function runBlock(code: string, cwd: string, env: Record<string, string>): Promise<{ code: number; output: string }> {
  const child = spawn('bash', ['-e', '-c', code], { cwd, detached: true, env: { ...process.env, ...env } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => {
    child.on('exit', (exitCode) => {
      try {
        process.kill(-(child.pid ?? 0), 'SIGTERM');
      } catch {
        // the group is already gone
      }
      resolve({ code: exitCode ?? -1, output });
    });
  });
}

const files = ['README.md', ...readdirSync(join(repoRoot, 'docs')).map((name) => `docs/${name}`)].filter((f) =>
  f.endsWith('.md'),
);
const blocks = files.flatMap(markedBlocks);

describe('the runnable command blocks of the README and docs', function () {
  this.timeout(60_000);

  it('finds the marked blocks (at least the one in docs/http-api.md)', () => {
    assert.ok(blocks.some((block) => block.file === 'docs/http-api.md'));
  });

  for (const block of blocks) {
    it(`runs ${block.file}:${block.line} as written`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'durable-docs-'));
      try {
        writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'docs-block', type: 'module' }));
        mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
        symlinkSync(repoRoot, join(dir, 'node_modules', 'durable'));
        symlinkSync('../durable/bin/durable.mjs', join(dir, 'node_modules', '.bin', 'durable'));
        symlinkSync(join(repoRoot, 'examples'), join(dir, 'examples'));
        const port = await freePort();
        const result = await runBlock(block.code, dir, {
          DURABLE_PORT: String(port),
          DURABLE_URL: `http://127.0.0.1:${port}`,
        });
        assert.equal(
          result.code,
          0,
          `${block.file}:${block.line} failed:\n${block.code}\n--- output ---\n${result.output}`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
