import assert from 'node:assert/strict';
import type { FailureDetails } from '../../src/engine/errors.js';
import { TerminalError, toFailureDetails } from '../../src/engine/errors.js';

function causes(details: FailureDetails): string[] {
  const names: string[] = [];
  for (let d: FailureDetails | undefined = details; d; d = d.cause) names.push(d.message);
  return names;
}

describe('Failure details', () => {
  it('keeps a cause chain whose errors cause each other up to the cycle, without overflowing the stack', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    assert.deepEqual(causes(toFailureDetails(a)), ['a', 'b']);
  });

  it('keeps at most eight causes of a long chain', () => {
    let error: Error = new Error('root');
    for (let i = 1; i <= 20; i++) error = new Error(`wrap ${i}`, { cause: error });
    const kept = causes(toFailureDetails(error));
    assert.equal(kept.length, 9, 'the error and eight causes');
    assert.deepEqual(kept.slice(0, 2), ['wrap 20', 'wrap 19']);
  });

  it('writes a name and a message that are not strings as strings, so the details stay JSON', () => {
    const error = Object.assign(new TerminalError('odd'), { name: 10n as unknown as string });
    const details = toFailureDetails(error);
    assert.equal(details.name, '10');
    assert.equal(details.nonRetryable, true);
    assert.doesNotThrow(() => JSON.stringify(details));
  });
});
