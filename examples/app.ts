/**
 * The example app: the five classic durable-workflow patterns (as in Azure Durable Functions), each a small
 * orchestration over activities that talk to the fakes in `./services.ts`.
 *
 * Orchestrations must be deterministic: they read the time with `ctx.now()`, never `Date.now()`, and do all
 * I/O through activities. Activities are ordinary async code, run at least once.
 */
import type { ActivityContext, RetryPolicy } from '../src/index.js';
import { ActivityFailedError, defineApp, EventTimeoutError } from '../src/index.js';
import type { JobStatus, Notification, Receipt } from './services.js';
import { gateway, jobs, notifier } from './services.js';

/** Input of {@link app}'s `monitorJob`: the state carried from one generation to the next. */
export interface MonitorInput {
  readonly jobId: string;
  /** Time between status checks, in ms. */
  readonly intervalMs: number;
  /** Stop watching at this time (epoch ms). */
  readonly expiresAt: number;
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

/** The example app: five orchestrations, one per pattern. */
export default defineApp({
  activities,
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
      if (nextCheckAt > input.expiresAt) return { status: 'expired', jobId: input.jobId, checks };
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
  },
});
