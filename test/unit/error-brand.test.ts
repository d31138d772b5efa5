/**
 * Two copies of Durable in one process (an app that loaded the package from elsewhere) still recognise each
 * other's errors: the classes check a brand, not object identity.
 */
import assert from 'node:assert/strict';
import * as errors from '../../src/engine/errors.js';

type Errors = typeof errors;

/** A second instance of the errors module: the same file under another URL is another module. */
async function secondCopy(): Promise<Errors> {
  const specifier = '../../src/engine/errors.js?second-copy';
  const copy = (await import(specifier)) as Errors;
  assert.notEqual(copy.TerminalError, errors.TerminalError, 'the test needs a second copy of the classes');
  return copy;
}

describe('Durable errors across two copies of the engine', () => {
  it('answers instanceof for errors made by the other copy, by class and by base class', async () => {
    const other = await secondCopy();
    const timeout = new other.EventTimeoutError('approve', 20);
    assert.ok(timeout instanceof errors.EventTimeoutError);
    assert.ok(timeout instanceof errors.DurableError);
    assert.ok(timeout instanceof Error);
    assert.ok(new errors.TerminalError('x') instanceof other.TerminalError);
    assert.ok(new other.SerializationError('x', { path: 'p' }) instanceof errors.ValidationError);
    assert.ok(new other.ActivityFailedError('a', { name: 'E', message: 'm' }) instanceof errors.ActivityFailedError);
  });

  it('does not confuse one class with another, nor a plain error with a Durable one', async () => {
    const other = await secondCopy();
    assert.equal(new other.TerminalError('x') instanceof errors.RetryableError, false);
    assert.equal(new other.ValidationError('x') instanceof errors.SerializationError, false);
    assert.equal(new Error('x') instanceof errors.DurableError, false);
    const lookalike = Object.assign(new Error('x'), { name: 'TerminalError', code: 'TERMINAL' });
    assert.equal(lookalike instanceof errors.TerminalError, false);
    assert.equal((null as unknown) instanceof errors.DurableError, false);
  });

  it('serialises a TerminalError or a RetryableError of the other copy with what it means for retries', async () => {
    const other = await secondCopy();
    assert.equal(errors.toFailureDetails(new other.TerminalError('card expired')).nonRetryable, true);
    const retry = errors.toFailureDetails(new other.RetryableError('busy', { retryAfterMs: 500 }));
    assert.equal(retry.retryAfterMs, 500);
    assert.ok(errors.isTerminalError(new other.TerminalError('x')));
    assert.equal(errors.isTerminalError(new other.RetryableError('x')), false);
  });

  it('recognises a subclass an app defines, in its own copy and across copies', async () => {
    const other = await secondCopy();
    class CardDeclined extends other.TerminalError {}
    const declined = new CardDeclined('declined');
    assert.ok(declined instanceof CardDeclined);
    assert.ok(declined instanceof errors.TerminalError);
    assert.equal(new other.TerminalError('x') instanceof CardDeclined, false);
    assert.equal(errors.toFailureDetails(declined).nonRetryable, true);
  });
});
