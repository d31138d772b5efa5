import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import type { Harness } from './helpers.js';
import { assertProblem, startHarness } from './helpers.js';

interface Problem {
  code: string;
  message: string;
  details: { in: string; errors: Array<{ path: string; message: string }> };
}

describe('HTTP API: validation messages a person can act on', () => {
  let h: Harness;
  before(() => {
    h = startHarness();
  });
  after(() => h.close());

  async function refused(request: InjectOptions): Promise<Problem> {
    const response = await h.api.inject(request);
    assertProblem(response, 400, 'VALIDATION');
    return response.json<Problem>();
  }

  it('lists the statuses instead of a pattern, and suggests the right case', async () => {
    const problem = await refused({ method: 'GET', url: '/api/instances?status=running' });
    assert.equal(
      problem.message,
      'Query parameter status must be one of Pending, Running, Suspended, Completed, Failed, Terminated, ' +
        'ContinuedAsNew, comma-separated or repeated (got "running"; did you mean Running?).',
    );
    assert.doesNotMatch(problem.message, /\^|\{0,19\}/);
    // Programs keep the machine-readable part.
    assert.deepEqual(problem.details.in, 'querystring');
    assert.equal(problem.details.errors[0]?.path, '/status/0');
  });

  it('hints at the `input` wrapper when a start body is the input itself', async () => {
    const fields = await refused({
      method: 'POST',
      url: '/api/orchestrations/helloSequence',
      payload: { cities: ['Tokyo'] },
    });
    assert.equal(
      fields.message,
      'The body has an unknown field "cities": it takes input, instanceId, reuse. ' +
        'The input goes under "input": {"input": {"cities":["Tokyo"]}}.',
    );
    const array = await refused({ method: 'POST', url: '/api/orchestrations/helloSequence', payload: ['Tokyo'] });
    assert.match(array.message, /^The body must be a JSON object \(got an array\)\. .*\{"input": \["Tokyo"\]\}/);
  });

  it('says which values an enum takes, what an id may hold and what a date looks like, quoting the value', async () => {
    const reuse = await refused({
      method: 'POST',
      url: '/api/orchestrations/helloSequence',
      payload: { input: [], reuse: 'never' },
    });
    assert.equal(reuse.message, 'Body field reuse must be one of allow-terminal, allow-failed, reject (got "never").');
    const id = await refused({ method: 'GET', url: '/api/instances/has%20space' });
    assert.equal(
      id.message,
      'Path parameter id must be an instance id: 1-200 letters, digits and _ . : # ~ - (got "has space").',
    );
    const at = await refused({
      method: 'POST',
      url: '/api/entities/counter/home/add',
      payload: { input: 1, at: 'tomorrow' },
    });
    assert.match(
      at.message,
      /^Body field at must be an ISO 8601 date-time with a time zone, such as .* \(got "tomorrow"\)\.$/,
    );
    const limit = await refused({ method: 'GET', url: '/api/instances?limit=5000' });
    assert.equal(limit.message, 'Query parameter limit must be at most 1000 (got 5000).');
    const unknown = await refused({ method: 'GET', url: '/api/instances?state=Running' });
    assert.match(unknown.message, /^The query string has an unknown parameter "state": it takes status, name,/);
  });
});
