/**
 * `durable migrate` prepares the configured store from the same DURABLE_* variables as a worker: RethinkDB's
 * database, tables and indexes on a real server, or a SQLite file at the current schema version. Twice is the same
 * as once; a store it cannot reach is a clear error and a non-zero exit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { RethinkdbPool } from '../../src/backends/rethinkdb/rethinkdb-connection.js';
import { SCHEMA_VERSION } from '../../src/backends/sqlite/sqlite-database.js';
import { RethinkdbServer, requireRethinkdb } from '../fixtures/rethinkdb-server.js';

const repoRoot = resolve(import.meta.dirname, '../..');

function migrate(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['bin/durable.mjs', 'migrate', ...args],
      // Only the variables given: nothing from the caller's environment may pick another store.
      { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env } },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('durable migrate', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'durable-migrate-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a SQLite file at the current schema version, and a second run changes nothing', async () => {
    const path = join(dir, 'data', 'durable.db');
    const first = await migrate({ DURABLE_SQLITE_PATH: path });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Ready: store SQLite file .*durable\.db/);
    const again = await migrate({ DURABLE_SQLITE_PATH: path });
    assert.equal(again.code, 0, again.stderr);
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    db.close();
  });

  it('refuses a store URL it cannot read, and a store it cannot reach, with a message and a non-zero exit', async () => {
    const bad = await migrate({ DURABLE_STORE_URL: 'http://example.com/db' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /DURABLE_STORE_URL must look like rethinkdb:\/\//);
    const unreachable = await migrate({
      DURABLE_STORE_URL: 'rethinkdb://127.0.0.1:1/durable',
      DURABLE_RETHINKDB_TIMEOUT_MS: '500',
    });
    assert.notEqual(unreachable.code, 0);
    assert.match(unreachable.stderr, /durable: migrate: .*127\.0\.0\.1:1/);
    const extra = await migrate({ DURABLE_SQLITE_PATH: join(dir, 'x.db') }, ['now']);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /migrate takes no arguments/);
  });

  describe('on RethinkDB', () => {
    requireRethinkdb();
    let server: RethinkdbServer | undefined;
    before(async () => (server = await RethinkdbServer.start()));
    after(async () => server?.stop());

    it('creates the database, the tables (lock included) and their indexes; a second run finds them all', async () => {
      const address = (server as RethinkdbServer).address;
      const db = `migrate_${randomUUID().slice(0, 8)}`;
      const env = {
        DURABLE_STORE_URL: `rethinkdb://${address.host}:${address.port}/${db}`,
        DURABLE_LOCK: 'rethinkdb',
        DURABLE_SQLITE_PATH: join(dir, 'unused.db'),
      };
      const first = await migrate(env, ['--json']);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(JSON.parse(first.stdout), {
        store: `RethinkDB database '${db}' at ${address.host}:${address.port} (1 shard(s), 1 replica(s))`,
        lock: 'RethinkDB',
        summary: `Ready: store RethinkDB database '${db}' at ${address.host}:${address.port} (1 shard(s), 1 replica(s)), lock RethinkDB.`,
      });
      const pool = await RethinkdbPool.open({ ...address, db });
      try {
        const tables = async (): Promise<Record<string, string[]>> => {
          const names = await pool.run<string[]>((_, d) => d.tableList());
          const out: Record<string, string[]> = {};
          for (const name of names.sort())
            out[name] = [...(await pool.run<string[]>((_, d) => d.table(name).indexList()))].sort();
          return out;
        };
        const expected = {
          claims: [],
          history_chunks: ['chunk'],
          locks: [],
          records: ['list_kind', 'list_name', 'list_status'],
        };
        assert.deepEqual(await tables(), expected);
        const again = await migrate(env);
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(await tables(), expected);
      } finally {
        await pool.close();
      }
    });
  });
});
