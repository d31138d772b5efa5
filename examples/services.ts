/**
 * In-process fakes of the outside world the example activities talk to: a job tracker, a payment gateway and
 * a notifier. They behave like the real thing where it matters to a durable workflow (a gateway that fails
 * transiently, loses responses, declines cards and honours idempotency keys) and record what they saw, so
 * tests can assert on side effects. Each has a `reset()`; {@link resetServices} resets them all.
 */
import { RetryableError, TerminalError } from 'durable';

/** What a status check of a tracked job returns. */
export interface JobStatus {
  readonly jobId: string;
  readonly state: 'running' | 'done';
  /** Status checks made so far, this one included. */
  readonly checks: number;
}

/**
 * A batch-job tracker: a submitted job reports `running` until it has been checked `checksUntilDone` times,
 * then `done`. A job submitted with `Infinity` never finishes. A job nobody submitted is taken as submitted at its
 * first check and is done on its {@link JobTracker.DEFAULT_CHECKS}th, so that a monitor started from the CLI (in
 * another process, which cannot call `submit`) has a job to watch.
 * @example
 * jobs.submit('job-1', 3); jobs.check('job-1'); // { state: 'running', checks: 1 }
 */
export class JobTracker {
  /** Checks until done of a job nobody submitted. */
  static readonly DEFAULT_CHECKS = 3;

  private readonly jobs = new Map<string, { checksUntilDone: number; checks: number }>();

  /** Registers a job that becomes done on its `checksUntilDone`-th status check. */
  submit(jobId: string, checksUntilDone: number): void {
    this.jobs.set(jobId, { checksUntilDone, checks: 0 });
  }

  /** One status check. A job id that is not a non-empty string is a permanent error: retrying will not fix it. */
  check(jobId: string): JobStatus {
    if (typeof jobId !== 'string' || jobId === '') throw new TerminalError(`Not a job id: ${JSON.stringify(jobId)}.`);
    let job = this.jobs.get(jobId);
    if (!job) {
      job = { checksUntilDone: JobTracker.DEFAULT_CHECKS, checks: 0 };
      this.jobs.set(jobId, job);
    }
    job.checks++;
    return { jobId, state: job.checks >= job.checksUntilDone ? 'done' : 'running', checks: job.checks };
  }

  /** Status checks made so far for a job (0 if unknown). */
  checksOf(jobId: string): number {
    return this.jobs.get(jobId)?.checks ?? 0;
  }

  reset(): void {
    this.jobs.clear();
  }
}

/** A charge request as the gateway's API takes it. */
export interface ChargeRequest {
  /** The gateway charges once per key, however often the request is repeated. */
  readonly idempotencyKey: string;
  readonly orderId: string;
  readonly amount: number;
  readonly card: string;
}

/** Proof of a charge. Repeating a request with the same idempotency key returns the same receipt. */
export interface Receipt {
  readonly receiptId: string;
  readonly orderId: string;
  readonly amount: number;
  readonly card: string;
}

/** The card was declined: retrying the same charge would be declined again, so it is a {@link TerminalError}. */
export class CardDeclinedError extends TerminalError {}

/** Options for the gateway's injected transient failures. */
export interface TransientFailureOptions {
  /** Ask callers to wait this long before retrying (like an HTTP `Retry-After`); default: no hint. */
  readonly retryAfterMs?: number;
  /**
   * `'before'` (default): the request fails before anything is charged (a 503).
   * `'after'`: the card is charged but the response is lost (a timeout): only the idempotency key prevents
   * the retry from charging again.
   */
  readonly when?: 'before' | 'after';
}

/**
 * A payment gateway that honours idempotency keys, and can be told to fail transiently or decline a card.
 * @example
 * gateway.failNext(2); // the next two calls throw RetryableError
 * gateway.decline('4000-0000-0000-0002'); // charges on this card throw CardDeclinedError
 */
export class PaymentGateway {
  /** Every call to `charge`, in order, including failed ones. */
  readonly calls: ChargeRequest[] = [];
  private readonly receipts = new Map<string, Receipt>();
  private readonly declined = new Set<string>();
  private failures = 0;
  private failure: TransientFailureOptions = {};
  private nextReceipt = 1;

  /** The next `count` calls fail with a {@link RetryableError}. */
  failNext(count: number, options: TransientFailureOptions = {}): void {
    this.failures = count;
    this.failure = options;
  }

  /** Charges on this card are declined. */
  decline(card: string): void {
    this.declined.add(card);
  }

  /** Charges the card once per idempotency key; a repeated key returns the first receipt. */
  charge(request: ChargeRequest): Receipt {
    this.calls.push({ ...request });
    const transient = this.failures > 0;
    if (transient) this.failures--;
    const hint = this.failure.retryAfterMs !== undefined ? { retryAfterMs: this.failure.retryAfterMs } : {};
    if (transient && this.failure.when !== 'after') throw new RetryableError('Gateway unavailable (503).', hint);
    if (this.declined.has(request.card)) throw new CardDeclinedError(`Card ${request.card} was declined.`);
    let receipt = this.receipts.get(request.idempotencyKey);
    if (!receipt) {
      receipt = {
        receiptId: `rcpt-${this.nextReceipt++}`,
        orderId: request.orderId,
        amount: request.amount,
        card: request.card,
      };
      this.receipts.set(request.idempotencyKey, receipt);
    }
    if (transient) throw new RetryableError('Gateway timed out after charging; the response was lost.', hint);
    return { ...receipt };
  }

  /** The charges actually made (money moved), one per idempotency key. */
  get charges(): Receipt[] {
    return [...this.receipts.values()].map((r) => ({ ...r }));
  }

  reset(): void {
    this.calls.length = 0;
    this.receipts.clear();
    this.declined.clear();
    this.failures = 0;
    this.failure = {};
    this.nextReceipt = 1;
  }
}

/** A message the notifier sent. */
export interface Notification {
  readonly kind: 'approval-request' | 'escalation' | 'alert';
  /** What the message is about: a request id, a job id… */
  readonly subject: string;
  readonly text: string;
}

/**
 * Sends messages to people (e-mail, chat…); here it only records them.
 * @example
 * notifier.send({ kind: 'alert', subject: 'job-1', text: 'done' }); notifier.sent.length; // 1
 */
export class Notifier {
  readonly sent: Notification[] = [];

  send(notification: Notification): void {
    this.sent.push({ ...notification });
  }

  /** The messages of one kind, in the order they were sent. */
  ofKind(kind: Notification['kind']): Notification[] {
    return this.sent.filter((n) => n.kind === kind);
  }

  reset(): void {
    this.sent.length = 0;
  }
}

/** The job tracker the example activities use. */
export const jobs = new JobTracker();
/** The payment gateway the example activities use. */
export const gateway = new PaymentGateway();
/** The notifier the example activities use. */
export const notifier = new Notifier();

/** Puts every fake back in its initial state (call it between tests). */
export function resetServices(): void {
  jobs.reset();
  gateway.reset();
  notifier.reset();
}
