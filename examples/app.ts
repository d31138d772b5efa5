/**
 * The example app: the classic durable-workflow patterns (as in Azure Durable Functions). Five are small
 * orchestrations over activities that talk to the fakes in `./services.ts`; two use entities, durable actors
 * holding state: a `counter` that aggregates signals, and `account`s moved between by a critical section.
 *
 * Orchestrations must be deterministic: they read the time with `ctx.now()`, never `Date.now()`, and do all
 * I/O through activities. Activities are ordinary async code, run at least once. Entity operations run one at
 * a time per entity, exactly once, and change nothing but the entity's state (and the messages it sends).
 */
import type { ActivityContext, EntityContext, RetryPolicy } from 'durable';
import {
  ActivityFailedError,
  defineApp,
  Entity,
  entityId,
  EntityOperationFailedError,
  EventTimeoutError,
} from 'durable';
import type { JobStatus, Notification, Receipt } from './services.js';
import { gateway, jobs, notifier } from './services.js';

/** Input of {@link app}'s `monitorJob`: the state carried from one generation to the next. */
export interface MonitorInput {
  readonly jobId: string;
  /** Time between status checks, in ms. */
  readonly intervalMs: number;
  /** Stop watching at this time: epoch ms, or an ISO date such as `"2030-01-01T00:00:00Z"`. */
  readonly expiresAt: number | string;
  /** Status checks made by earlier generations (default 0). */
  readonly checks?: number;
}

/** How `monitorJob` ends. */
export type MonitorResult =
  | { readonly status: 'done'; readonly jobId: string; readonly checks: number }
  | { readonly status: 'expired'; readonly jobId: string; readonly checks: number };

/** Input of `approval`. */
export interface ApprovalInput {
  readonly requestId: string;
  readonly amount: number;
  /** How long the approver has before the request is escalated, in ms. */
  readonly timeoutMs: number;
}

/** The event an approver raises: `client.raiseEvent(id, 'approval', { approved: true, by: 'alice' })`. */
export interface ApprovalDecision {
  readonly approved: boolean;
  readonly by: string;
}

/** How `approval` ends. */
export type ApprovalResult =
  | { readonly status: 'approved' | 'rejected'; readonly requestId: string; readonly by: string }
  | { readonly status: 'escalated'; readonly requestId: string };

/** Input of `chargeOrder`. */
export interface OrderInput {
  readonly orderId: string;
  readonly amount: number;
  readonly card: string;
}

/** How `chargeOrder` ends (a failure that is neither transient nor a decline fails the instance). */
export type ChargeResult =
  | { readonly status: 'charged'; readonly orderId: string; readonly receipt: Receipt }
  | { readonly status: 'declined'; readonly orderId: string; readonly reason: string };

/**
 * How `chargeOrder` retries the gateway: 5 attempts, waiting 1 s, 2 s, 4 s, 8 s between them (or what the
 * gateway's Retry-After hint says). A declined card is never retried.
 */
export const CHARGE_RETRY: RetryPolicy = {
  maxAttempts: 5,
  firstRetryIntervalMs: 1000,
  backoffCoefficient: 2,
  nonRetryableErrors: ['CardDeclinedError'],
};

/**
 * Aggregation (an object-style entity): a running total, keyed by what it counts (`counter@home` counts the
 * views of the home page). Anyone may feed it with one-way signals (clients, orchestrations, other entities),
 * as often and as concurrently as they like: operations on one entity run one at a time, so no `add` is lost
 * to a race, and each signal is applied exactly once.
 * @example
 * await client.entity<Counter>('counter', 'home').add(1); // from a client: a one-way signal
 * const total = await ctx.entity<Counter>('counter', 'home').get(); // from an orchestration: a call
 */
export const counter = {
  initial: (): number => 0,
  /** Adds `n` (default 1) and returns the new total. A non-integer is refused and changes nothing. */
  add(ctx: EntityContext<number>, n: number = 1): number {
    if (!Number.isSafeInteger(n)) throw new TypeError(`counter ${ctx.key}: cannot add ${JSON.stringify(n)}.`);
    ctx.setState(ctx.state + n);
    return ctx.state;
  },
  /** The current total. */
  get(ctx: EntityContext<number>): number {
    return ctx.state;
  },
  /** Starts again from 0. */
  reset(ctx: EntityContext<number>): void {
    ctx.setState(0);
  },
};

/** The type to give the typed proxies: `ctx.entity<Counter>('counter', key)`. */
export type Counter = typeof counter;

/** Thrown by {@link Account.withdraw} when the balance is too low. The withdrawal is rolled back. */
export class InsufficientFundsError extends Error {
  override readonly name = 'InsufficientFundsError';
}

/** Amounts are whole cents: positive safe integers. */
function requireAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new TypeError(`An amount must be a positive whole number of cents (got ${JSON.stringify(amount)}).`);
  }
}

/**
 * A bank account (a class-style entity): the state is the balance in cents, the public methods are the
 * operations. An operation that throws leaves the balance as it was and reports the error to its caller.
 * @example
 * await client.entity<Account>('account', 'alice').deposit(100);
 */
export class Account extends Entity<number> {
  override initial(): number {
    return 0;
  }

  /** Adds `amount` cents; returns the new balance. */
  deposit(amount: number): number {
    requireAmount(amount);
    this.state += amount;
    return this.state;
  }

  /** Takes `amount` cents out; throws {@link InsufficientFundsError} (changing nothing) if the balance is lower. */
  withdraw(amount: number): number {
    requireAmount(amount);
    if (amount > this.state) {
      throw new InsufficientFundsError(`Account ${this.ctx.key} holds ${this.state}, cannot withdraw ${amount}.`);
    }
    this.state -= amount;
    return this.state;
  }

  /** The balance, in cents. */
  balance(): number {
    return this.state;
  }
}

/** Input of `transfer`: account keys (`'alice'`, not `'account@alice'`) and an amount in cents. */
export interface TransferInput {
  readonly from: string;
  readonly to: string;
  readonly amount: number;
}

/** How `transfer` ends: the money moved, or the source account could not cover it (nothing moved). */
export type TransferResult = 'ok' | 'insufficient-funds';

/** How `withdrawCash` ends. */
export type WithdrawResult =
  | { readonly status: 'ok'; readonly balance: number }
  | { readonly status: 'insufficient-funds'; readonly reason: string };

/** The activities: the only code here with side effects. */
export const activities = {
  /** Greets a city. */
  sayHello(city: string): string {
    return `Hello ${city}!`;
  },
  /** Counts the words of one document. */
  countWords(document: string): number {
    return document.split(/\s+/).filter((w) => w.length > 0).length;
  },
  /** One status check of a batch job. */
  checkJob(jobId: string): JobStatus {
    return jobs.check(jobId);
  },
  /** Sends a message to people (alerts, escalations…). */
  notify(notification: Notification): void {
    notifier.send(notification);
  },
  /** Asks an approver to approve a request. */
  requestApproval(input: { requestId: string; amount: number }): void {
    notifier.send({
      kind: 'approval-request',
      subject: input.requestId,
      text: `Please approve request ${input.requestId} for $${input.amount}.`,
    });
  },
  /** Tells a manager that nobody answered an approval request in time. */
  escalate(input: { requestId: string; amount: number; waitedMs: number }): void {
    notifier.send({
      kind: 'escalation',
      subject: input.requestId,
      text: `Request ${input.requestId} for $${input.amount} got no answer within ${input.waitedMs} ms.`,
    });
  },
  /**
   * Charges a card. The idempotency key is the same for every retry and redelivery of this call, so the
   * gateway charges at most once even if an attempt charged and then lost its response.
   */
  chargeCard(input: OrderInput, actx: ActivityContext): Receipt {
    return gateway.charge({ ...input, idempotencyKey: actx.idempotencyKey });
  },
};

/** The example app: one orchestration per pattern, and the entities two of them use. */
export default defineApp({
  activities,
  entities: { counter, account: Account },
  orchestrations: {
    /**
     * Function chaining: activities run one after another, each output feeding the result. If the worker
     * crashes between two steps, the replay skips the completed ones and carries on from the next.
     */
    async helloSequence(ctx, cities: string[]): Promise<string[]> {
      const greetings: string[] = [];
      for (const city of cities) greetings.push(await ctx.callActivity('sayHello', city));
      return greetings;
    },

    /**
     * Fan-out/fan-in: one `countWords` activity per document, all scheduled in the same turn (so they run in
     * parallel on any number of workers), then `Promise.all` waits for every result and the counts are summed.
     */
    async wordCount(ctx, documents: string[]): Promise<{ total: number; perDocument: number[] }> {
      const perDocument = await Promise.all(documents.map((doc) => ctx.callActivity('countWords', doc)));
      return { total: perDocument.reduce((a, b) => a + b, 0), perDocument };
    },

    /**
     * Monitoring (an eternal orchestration): check a job, and if it is not done, sleep on a durable timer and
     * start over with `continueAsNew`, carrying the state in the input. Each check is a new generation with a
     * fresh history, so a monitor that runs for months keeps a history of a handful of events. It gives up
     * once the next check would fall after `expiresAt`; the time comes from `ctx.now()`, which replays.
     */
    async monitorJob(ctx, input: MonitorInput): Promise<MonitorResult> {
      const expiresAt = new Date(input.expiresAt).getTime();
      if (Number.isNaN(expiresAt)) throw new TypeError(`expiresAt is not a date: ${JSON.stringify(input.expiresAt)}.`);
      const job = await ctx.callActivity('checkJob', input.jobId);
      const checks = (input.checks ?? 0) + 1;
      if (job.state === 'done') {
        await ctx.callActivity('notify', {
          kind: 'alert',
          subject: input.jobId,
          text: `Job ${input.jobId} is done (after ${checks} checks).`,
        });
        return { status: 'done', jobId: input.jobId, checks };
      }
      const nextCheckAt = ctx.now().getTime() + input.intervalMs;
      if (nextCheckAt > expiresAt) return { status: 'expired', jobId: input.jobId, checks };
      ctx.setCustomStatus({
        jobId: input.jobId,
        state: job.state,
        checks,
        nextCheckAt: new Date(nextCheckAt).toISOString(),
      });
      await ctx.createTimer(new Date(nextCheckAt));
      return ctx.continueAsNew({ ...input, checks });
    },

    /**
     * Human interaction: ask for an approval, then wait for the `approval` event, durably (the instance is
     * unloaded while it waits, for seconds or weeks). If nobody answers within `timeoutMs`, the wait throws
     * `EventTimeoutError` and the request is escalated. An answer raised before the wait starts is kept for it.
     */
    async approval(ctx, input: ApprovalInput): Promise<ApprovalResult> {
      const { requestId, amount, timeoutMs } = input;
      await ctx.callActivity('requestApproval', { requestId, amount });
      try {
        const decision = await ctx.waitForEvent<ApprovalDecision>('approval', { timeout: timeoutMs });
        return { status: decision.approved ? 'approved' : 'rejected', requestId, by: decision.by };
      } catch (error) {
        if (!(error instanceof EventTimeoutError)) throw error;
        await ctx.callActivity('escalate', { requestId, amount, waitedMs: timeoutMs });
        return { status: 'escalated', requestId };
      }
    },

    /**
     * Idempotent side effects: the charge is retried with exponential backoff (each wait a durable timer in
     * the history), and every attempt carries the same idempotency key, so the card is charged once however
     * many attempts, redeliveries or crashes it takes. A declined card is a `TerminalError`: it is not
     * retried, and the orchestration turns it into a 'declined' result.
     */
    async chargeOrder(ctx, order: OrderInput): Promise<ChargeResult> {
      try {
        const receipt = await ctx.callActivity('chargeCard', order, { retry: CHARGE_RETRY });
        return { status: 'charged', orderId: order.orderId, receipt };
      } catch (error) {
        if (error instanceof ActivityFailedError && error.failure.name === 'CardDeclinedError') {
          return { status: 'declined', orderId: order.orderId, reason: error.failure.message };
        }
        throw error;
      }
    },

    /**
     * Aggregation, from an orchestration: `views` one-way signals to the page's counter, then a read through the
     * typed proxy. Messages from one orchestration reach an entity in the order they were sent, so the read
     * comes after every `add` above (and after whatever else reached the counter first): it returns a total
     * that includes this orchestration's views.
     */
    async recordViews(ctx, input: { page: string; views: number }): Promise<number> {
      const id = entityId('counter', input.page);
      for (let i = 0; i < input.views; i++) ctx.signalEntity(id, 'add', 1);
      return await ctx.entity<Counter>('counter', input.page).get();
    },

    /** Aggregation, read side: the totals of several counters, read in parallel (one call per counter). */
    async viewReport(ctx, pages: string[]): Promise<{ total: number; perPage: Record<string, number> }> {
      const counts = await Promise.all(pages.map((page) => ctx.entity<Counter>('counter', page).get()));
      const perPage = Object.fromEntries(pages.map((page, i) => [page, counts[i] ?? 0]));
      return { total: counts.reduce((a, b) => a + b, 0), perPage };
    },

    /**
     * A critical section (bank transfer): lock both accounts, read the source balance, move the money, unlock.
     * While the section is held, no one else's operation runs on either account, so the balance read cannot go
     * stale before the withdrawal, and no observer in another section sees the money in both or neither
     * account. Locks are taken in one global order whatever the argument order, so a transfer from alice to bob
     * and one from bob to alice cannot deadlock. `release()` in `finally` ends the section early; it would
     * also end if the orchestration failed or were terminated.
     */
    async transfer(ctx, input: TransferInput): Promise<TransferResult> {
      const { from, to, amount } = input;
      requireAmount(amount);
      if (from === to) throw new TypeError(`A transfer needs two different accounts (got ${from} twice).`);
      const section = await ctx.lock(entityId('account', from), entityId('account', to));
      try {
        const source = ctx.entity<Account>('account', from);
        const target = ctx.entity<Account>('account', to);
        if ((await source.balance()) < amount) return 'insufficient-funds';
        await Promise.all([source.withdraw(amount), target.deposit(amount)]);
        return 'ok';
      } finally {
        section.release();
      }
    },

    /**
     * A consistent read across entities (an audit): lock every account, then read the balances. Reading them
     * one by one without the lock could see a transfer half done (withdrawn from one account, not yet
     * deposited in the other); inside the section no transfer over these accounts is in flight, so the total
     * is exact.
     */
    async auditTotal(ctx, accounts: string[]): Promise<{ total: number; balances: Record<string, number> }> {
      const section = await ctx.lock(...accounts.map((key) => entityId('account', key)));
      try {
        const read = await Promise.all(accounts.map((key) => ctx.entity<Account>('account', key).balance()));
        const balances = Object.fromEntries(accounts.map((key, i) => [key, read[i] ?? 0]));
        return { total: read.reduce((a, b) => a + b, 0), balances };
      } finally {
        section.release();
      }
    },

    /**
     * A single-entity change needs no lock: the operation itself is atomic. A withdrawal the account refuses
     * rejects here with `EntityOperationFailedError` carrying the entity's error (name and message); the
     * account's balance is untouched.
     */
    async withdrawCash(ctx, input: { account: string; amount: number }): Promise<WithdrawResult> {
      try {
        const balance = await ctx.entity<Account>('account', input.account).withdraw(input.amount);
        return { status: 'ok', balance };
      } catch (error) {
        if (error instanceof EntityOperationFailedError && error.failure.name === 'InsufficientFundsError') {
          return { status: 'insufficient-funds', reason: error.failure.message };
        }
        throw error;
      }
    },
  },
  // The events an orchestration accepts: raising any other on an approval is refused (HTTP 422, UNKNOWN_EVENT).
  events: { approval: ['approval'] },
});
