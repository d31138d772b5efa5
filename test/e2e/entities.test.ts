/**
 * The entity patterns of the example app end to end, on the time-skipping test environment: aggregation with
 * a `counter` entity, and bank transfers between `account` entities in critical sections.
 */
import assert from 'node:assert/strict';
import { TestEnvironment } from '../../src/index.js';
import type { Account, Counter, TransferInput, TransferResult, WithdrawResult } from '../../examples/app.js';
import app from '../../examples/app.js';
import { resetServices } from '../../examples/services.js';

let env: TestEnvironment;

beforeEach(() => {
  resetServices();
  env = TestEnvironment.start(app);
});

afterEach(async () => {
  await env.close();
});

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An entity's state as the client reads it (`undefined`: no state). */
async function stateOf<S>(id: string): Promise<S | undefined> {
  return (await env.client.readEntityState<S>(id))?.state;
}

/** Lets the worker run for a few event-loop turns (no clock movement, no real sleep). */
async function yieldTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Runs an orchestration to its end and returns its output; fails the test unless it completed. */
async function run<T>(name: string, input: unknown, instanceId?: string): Promise<T> {
  const id = await env.client.start(name, input, instanceId ? { instanceId } : {});
  const done = await env.waitForCompletion(id);
  assert.equal(done.status, 'Completed', `${name} ${id}: ${done.error?.message}`);
  return done.output as T;
}

/** Opens accounts with the given balances (client deposits) and waits until they are applied. */
async function open(balances: Record<string, number>): Promise<void> {
  await Promise.all(
    Object.entries(balances).map(([key, amount]) => env.client.entity<Account>('account', key).deposit(amount)),
  );
  await env.settle();
  for (const [key, amount] of Object.entries(balances)) assert.equal(await stateOf(`account@${key}`), amount);
}

describe('Aggregation (counter entity)', () => {
  it('sums 100 client signals and the signals of concurrent orchestrations to an exact total', async () => {
    const home = env.client.entity<Counter>('counter', 'home');
    const sends: Promise<void>[] = [];
    for (let i = 1; i <= 100; i++) {
      // Half through the typed proxy, half by id; every one adds i.
      sends.push(i % 2 === 0 ? home.add(i) : env.client.signalEntity('counter@home', 'add', i));
    }
    await Promise.all(sends);
    const ids = await Promise.all([5, 7, 9].map((views) => env.client.start('recordViews', { page: 'home', views })));
    for (const id of ids) assert.equal((await env.waitForCompletion(id)).status, 'Completed');
    assert.equal(await stateOf('counter@home'), 5050 + 5 + 7 + 9);
    const state = await env.client.readEntityState<number>('counter@home');
    assert.equal(state?.name, 'counter');
    assert.equal(state?.key, 'home');
    assert.equal(state?.queued, 0);
    assert.equal(state?.lockedBy, undefined);
  });

  it('returns to an orchestration a total that includes every signal it sent before reading', async () => {
    await env.client.entity<Counter>('counter', 'pricing').add(); // the default input: 1
    await env.settle();
    assert.equal(await run<number>('recordViews', { page: 'pricing', views: 10 }), 11);
    assert.equal(await stateOf('counter@pricing'), 11);
  });

  it('reads several counters from an orchestration through the typed proxy', async () => {
    await env.client.entity<Counter>('counter', 'home').add(3);
    await env.client.entity<Counter>('counter', 'docs').add(4);
    await env.settle();
    const report = await run('viewReport', ['home', 'docs', 'never-visited']);
    assert.deepEqual(report, { total: 7, perPage: { home: 3, docs: 4, 'never-visited': 0 } });
  });

  it('refuses a malformed signal without changing the total, and keeps counting after it', async () => {
    await env.client.signalEntity('counter@home', 'add', 2);
    await env.client.signalEntity('counter@home', 'add', 'lots');
    await env.client.signalEntity('counter@home', 'add', 3);
    await env.settle();
    assert.equal(await stateOf('counter@home'), 5);
    await env.client.entity<Counter>('counter', 'home').reset();
    await env.settle();
    assert.equal(await stateOf('counter@home'), 0);
  });
});

describe('Bank transfers (account entities, critical sections)', () => {
  const ACCOUNTS = Array.from({ length: 10 }, (_, i) => `acct-${i}`);

  it('keeps the total over 200 concurrent random transfers among 10 accounts, applying each exactly once', async () => {
    const random = prng(20260101);
    const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
    const initial = Object.fromEntries(ACCOUNTS.map((key) => [key, int(50, 250)]));
    const initialTotal = Object.values(initial).reduce((a, b) => a + b, 0);
    await open(initial);

    const transfers: TransferInput[] = Array.from({ length: 200 }, () => {
      const from = int(0, 9);
      const to = (from + int(1, 9)) % 10;
      return { from: ACCOUNTS[from] as string, to: ACCOUNTS[to] as string, amount: int(1, 200) };
    });
    const ids = transfers.map((_, i) => `transfer-${i}`);

    // Samples the balances one by one: not a consistent snapshot (a transfer may be half done between two
    // reads), but no account may ever be overdrawn.
    let samples = 0;
    let samplesWhileLocked = 0;
    const sample = async (): Promise<void> => {
      const states = await Promise.all(ACCOUNTS.map((key) => env.client.readEntityState<number>(`account@${key}`)));
      for (const s of states) assert.ok(s !== undefined && s.state >= 0, `overdrawn: ${JSON.stringify(s)}`);
      samples++;
      if (states.some((s) => s?.lockedBy !== undefined)) samplesWhileLocked++;
    };
    // The worker runs the transfers while the test is still starting the others. Audits lock all ten accounts:
    // each reads a consistent snapshot, taken among the transfers.
    const audits: string[] = [];
    for (const [i, transfer] of transfers.entries()) {
      await env.client.start('transfer', transfer, { instanceId: ids[i] as string });
      if (i % 20 === 10) await sample();
      if (i % 60 !== 30) continue;
      audits.push(`audit-${i}`);
      await env.client.start('auditTotal', ACCOUNTS, { instanceId: `audit-${i}` });
    }
    // Then keep sampling until every instance has ended (bounded: a stuck one fails in waitForCompletion below).
    for (let round = 0; round < 1000; round++) {
      await yieldTurns(10);
      await sample();
      const ended = await env.client.list({ status: ['Completed', 'Failed', 'Terminated'], limit: 1000 });
      if (ended.items.length === ids.length + audits.length) break;
    }
    assert.ok(samplesWhileLocked >= 1, `sampled ${samples} times, never while a transfer held a lock`);

    const expected = { ...initial };
    let ok = 0;
    for (const [i, id] of ids.entries()) {
      const done = await env.waitForCompletion(id);
      assert.equal(done.status, 'Completed', `${id}: ${done.error?.message}`);
      const result = done.output as TransferResult;
      assert.ok(result === 'ok' || result === 'insufficient-funds', `${id}: ${String(result)}`);
      if (result !== 'ok') continue;
      ok++;
      const t = transfers[i] as TransferInput;
      expected[t.from] = (expected[t.from] ?? 0) - t.amount;
      expected[t.to] = (expected[t.to] ?? 0) + t.amount;
    }
    assert.ok(ok > 20 && ok < 180, `both outcomes must occur (${ok} ok of 200)`);
    const final = Object.fromEntries(
      await Promise.all(ACCOUNTS.map(async (key) => [key, await stateOf<number>(`account@${key}`)] as const)),
    );
    assert.deepEqual(final, expected, 'each ok transfer applied exactly once, no other change');
    assert.equal(
      Object.values(final).reduce((a, b) => (a ?? 0) + (b ?? 0), 0),
      initialTotal,
    );
    for (const audit of audits) {
      const during = (await env.waitForCompletion(audit)).output as { total: number; balances: object };
      assert.equal(during.total, initialTotal, `${audit} saw a torn total`);
      assert.notDeepEqual(during.balances, initial, `${audit} ran after some transfers…`);
      assert.notDeepEqual(during.balances, final, `…and before others`);
    }
    assert.equal((await run<{ total: number }>('auditTotal', ACCOUNTS)).total, initialTotal);
    for (const key of ACCOUNTS) {
      const state = await env.client.readEntityState(`account@${key}`);
      assert.equal(state?.lockedBy, undefined, `account@${key} is still locked`);
      assert.equal(state?.queued, 0);
    }
  });

  it('finishes two transfers locking the same two accounts in opposite orders, round after round', async () => {
    await open({ a: 10, b: 10 });
    for (let round = 0; round < 25; round++) {
      const there = await env.client.start('transfer', { from: 'a', to: 'b', amount: 1 });
      const back = await env.client.start('transfer', { from: 'b', to: 'a', amount: 1 });
      for (const id of [there, back]) {
        const done = await env.waitForCompletion(id);
        assert.equal(done.status, 'Completed', `round ${round}: ${done.error?.message}`);
        assert.equal(done.output, 'ok');
      }
    }
    assert.equal(await stateOf('account@a'), 10);
    assert.equal(await stateOf('account@b'), 10);
  });

  it('reports insufficient funds and moves nothing when the source cannot cover the amount', async () => {
    await open({ alice: 30, bob: 5 });
    assert.equal(await run<TransferResult>('transfer', { from: 'bob', to: 'alice', amount: 6 }), 'insufficient-funds');
    assert.equal(await run<TransferResult>('transfer', { from: 'alice', to: 'bob', amount: 30 }), 'ok');
    assert.equal(await stateOf('account@alice'), 0);
    assert.equal(await stateOf('account@bob'), 35);
  });

  it('rejects a refused withdrawal in the orchestration with EntityOperationFailedError and leaves the balance', async () => {
    await open({ carol: 50 });
    const refused = await run<WithdrawResult>('withdrawCash', { account: 'carol', amount: 80 });
    // withdrawCash answers 'insufficient-funds' only for an EntityOperationFailedError carrying that error.
    assert.deepEqual(refused, {
      status: 'insufficient-funds',
      reason: 'Account carol holds 50, cannot withdraw 80.',
    });
    assert.equal(await stateOf('account@carol'), 50);
    assert.deepEqual(await run<WithdrawResult>('withdrawCash', { account: 'carol', amount: 20 }), {
      status: 'ok',
      balance: 30,
    });
  });

  it('fails the orchestration with the entity error when an operation throws something it does not handle', async () => {
    await open({ dave: 50 });
    const id = await env.client.start('withdrawCash', { account: 'dave', amount: -5 });
    const done = await env.waitForCompletion(id);
    assert.equal(done.status, 'Failed');
    assert.equal(done.error?.name, 'EntityOperationFailedError');
    assert.equal(done.error?.code, 'ENTITY_OPERATION_FAILED');
    assert.match(done.error?.message ?? '', /withdraw on entity account@dave failed: TypeError: An amount must be/);
    assert.equal(await stateOf('account@dave'), 50);
  });
});
