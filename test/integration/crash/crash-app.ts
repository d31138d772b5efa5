/**
 * The app the crash-safety test runs: an orchestration of five activities, each applying an effect to an
 * external ledger file exactly once (keyed by the activity's idempotency key), however often it runs.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineApp } from '../../../src/index.js';

export const STEPS = 5;

const ledgerDir = process.env.CRASH_LEDGER_DIR ?? '.';
const ledgerFile = join(ledgerDir, 'ledger.log');
const runsFile = join(ledgerDir, 'runs.log');

/** Keys already applied: the ledger as read at process start, plus what this process applied. */
const applied = new Set(
  existsSync(ledgerFile)
    ? readFileSync(ledgerFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0])
    : [],
);

const activities = {
  /** Applies `amount` to the ledger under the call's idempotency key, once; every run is logged too. */
  async post(input: { amount: number; delayMs: number }, actx: { idempotencyKey: string }) {
    appendFileSync(runsFile, `${actx.idempotencyKey}\n`);
    await new Promise((resolve) => setTimeout(resolve, input.delayMs));
    if (!applied.has(actx.idempotencyKey)) {
      // Synchronous append: the effect is on disk before the result is reported.
      appendFileSync(ledgerFile, `${actx.idempotencyKey} ${input.amount}\n`);
      applied.add(actx.idempotencyKey);
    }
    return input.amount;
  },
};

export const crashApp = defineApp({
  activities,
  orchestrations: {
    async ledgerChain(ctx, input: { base: number; delayMs: number }) {
      let total = 0;
      for (let i = 0; i < STEPS; i++)
        total += await ctx.callActivity('post', { amount: input.base + i, delayMs: input.delayMs });
      return total;
    },
  },
});
