/**
 * The dashboard's timeline model, without a browser: its table of which events open and close a step agrees with the
 * engine's, steps pair by seq into bars with durations, and open steps run to now.
 */
import assert from 'node:assert/strict';
import { STEP_CLOSING_EVENTS, STEP_OPENING_EVENTS } from '../../src/engine/history.js';
import { buildTimeline, EVENT_ROLES, formatDuration } from '../../src/dashboard/timeline.js';
import type { ApiEvent } from '../../src/dashboard/types.js';

describe('the dashboard timeline', () => {
  it('opens and closes steps on exactly the engine’s events', () => {
    const opening = Object.entries(EVENT_ROLES)
      .filter(([, role]) => role === 'open')
      .map(([type]) => type);
    const closing = Object.entries(EVENT_ROLES)
      .filter(([, role]) => role === 'close')
      .map(([type]) => type);
    assert.deepEqual(opening.sort(), [...STEP_OPENING_EVENTS].sort());
    assert.deepEqual(closing.sort(), [...STEP_CLOSING_EVENTS].sort());
  });

  it('pairs steps by seq into bars from scheduled to completed, and runs open ones to now', () => {
    const events: ApiEvent[] = [
      { type: 'ExecutionStarted', at: 1000, name: 'hello', input: null, generation: 0 },
      { type: 'TaskScheduled', at: 1000, seq: 0, name: 'sayHello', input: 'Tokyo' },
      { type: 'TimerCreated', at: 1000, seq: 1, fireAt: 9000, purpose: 'timer' },
      { type: 'TaskFailed', at: 1400, seq: 0, failure: { name: 'Error', message: 'no' } },
      { type: 'EventRaised', at: 1500, name: 'approval', input: true },
      { type: 'SubOrchestrationCreated', at: 1600, seq: 2, name: 'child', instanceId: 'kid-1', input: null },
      { type: 'SubOrchestrationCompleted', at: 2600, seq: 2, result: 1 },
    ];
    const t = buildTimeline(events, 5000);
    assert.equal(t.running, true);
    assert.deepEqual(
      t.spans.map((s) => [s.label, s.start, s.end, s.outcome]),
      [
        ['activity sayHello', 1000, 1400, 'failed'],
        ['timer', 1000, undefined, 'open'],
        ['event approval', 1500, 1500, 'point'],
        ['sub-orchestration child', 1600, 2600, 'ok'],
      ],
    );
    assert.equal(t.spans[3]?.instanceId, 'kid-1');
    assert.equal(t.end, 5000, 'an open timer runs to now');
  });

  it('says durations as people read them', () => {
    assert.equal(formatDuration(840), '840 ms');
    assert.equal(formatDuration(1234), '1.2 s');
    assert.equal(formatDuration(184_000), '3 min 4 s');
  });
});
