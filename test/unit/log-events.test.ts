import assert from 'node:assert/strict';
import { LOG_EVENTS } from '../../src/observability/log-events.js';
import type { LogRecord, Logger } from '../../src/observability/logger.js';

describe('the log event catalogue', () => {
  it('types every log line’s event as a catalogued name, so a misspelt one does not compile', () => {
    const lines: LogRecord[] = [];
    const keep = (fields: LogRecord): void => void lines.push(fields);
    const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep };
    logger.info({ event: LOG_EVENTS.workerStarted, workerId: 'w1' });
    // @ts-expect-error 'worker.strated' is not in LOG_EVENTS (npm run typecheck fails if this line compiles)
    logger.info({ event: 'worker.strated' });
    // @ts-expect-error a line without an event does not compile either
    logger.warn({ workerId: 'w1' });
    assert.equal(lines.length, 3);
  });

  it('gives every event a distinct name', () => {
    const names = Object.values(LOG_EVENTS);
    assert.equal(new Set(names).size, names.length);
  });
});
