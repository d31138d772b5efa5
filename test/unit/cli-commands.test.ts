import assert from 'node:assert/strict';
import type { Api } from '../../src/cli/api-client.js';
import type { CommandContext, Flags } from '../../src/cli/commands.js';
import { commands, parseStatuses } from '../../src/cli/commands.js';
import { events } from '../../src/engine/history.js';
import { CliError } from '../../src/host/cli-error.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

interface Instance {
  instanceId: string;
  name: string;
  status: string;
  generation: number;
  createdAt: string;
  lastUpdatedAt: string;
  stuck?: { name: string; message: string };
  error?: { name: string; message: string };
  output?: unknown;
}

function instance(id: string, status: string, extra: Partial<Instance> = {}): Instance {
  const at = new Date(T0).toISOString();
  return { instanceId: id, name: 'approval', status, generation: 0, createdAt: at, lastUpdatedAt: at, ...extra };
}

/** An API that answers each path with `routes[path]` (a function of the request count, or a value). */
function fakeApi(routes: Record<string, unknown>): Api & { paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    request<T>(_method: string, path: string): Promise<T> {
      paths.push(path);
      const [base = '', query = ''] = path.split('?');
      const route = routes[path] ?? routes[base];
      if (route === undefined) return Promise.reject(new CliError(`No route ${path}`, 'NOT_FOUND'));
      const value =
        typeof route === 'function' ? (route as (q: URLSearchParams) => unknown)(new URLSearchParams(query)) : route;
      return Promise.resolve(value as T);
    },
  };
}

async function run(
  name: string,
  api: Api,
  args: string[] = [],
  flags: Flags = {},
): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const ctx: CommandContext = { api, json: false, out: (t) => lines.push(t), progress: () => {}, now: () => T0 + 5000 };
  const command = commands[name];
  assert.ok(command, name);
  const code = (await command(ctx, args, flags)) ?? 0;
  return { code, out: lines.join('\n') };
}

describe('CLI commands', () => {
  it("entity get shows the entity's last failed operation", async () => {
    const api = fakeApi({
      '/api/entities/account/carol': {
        state: 5,
        lastModified: new Date(T0).toISOString(),
        lastFailure: {
          operation: 'withdraw',
          error: { name: 'Error', message: 'insufficient funds: 5 < 10' },
          at: new Date(T0 + 1000).toISOString(),
          from: 'withdraw-1',
          signal: false,
        },
      },
    });
    const { out } = await run('entity', api, ['get', 'account@carol']);
    assert.match(out, /^account@carol {2}5 /);
    assert.match(out, /\n {2}last failure: withdraw \(call from withdraw-1, .+\): Error: insufficient funds: 5 < 10$/);
  });

  describe('list', () => {
    const stuck = {
      name: 'NonDeterminismError',
      message: 'Expected activity sayHello at 0, the code asked for a timer.',
    };

    it('shows a stuck instance as stuck, with why, instead of Running', async () => {
      const api = fakeApi({
        '/api/instances': { items: [instance('a', 'Running', { stuck }), instance('b', 'Running')] },
      });
      const { out } = await run('list', api);
      assert.match(out, /^a\s+approval\s+stuck\s+\S+\s+Expected activity sayHello/m);
      assert.match(out, /^b\s+approval\s+Running/m);
    });

    it('with --stuck, asks the server for stuck live instances in one request', async () => {
      const api = fakeApi({ '/api/instances': { items: [instance('c', 'Running', { stuck })], nextCursor: 'p2' } });
      const { out } = await run('list', api, [], { stuck: true });
      assert.match(out, /^c\s+approval\s+stuck/m);
      assert.match(out, /more: --cursor p2$/);
      assert.equal(api.paths.length, 1);
      assert.match(api.paths[0] ?? '', /status=Pending%2CRunning%2CSuspended/);
      assert.match(api.paths[0] ?? '', /stuck=true/);
    });

    it('says so when no instance is stuck', async () => {
      const api = fakeApi({ '/api/instances': { items: [instance('a', 'Running')] } });
      assert.equal((await run('list', api, [], { status: 'STUCK' })).out, 'no stuck instances');
    });

    it('accepts status names in any case and sends the canonical ones', async () => {
      const api = fakeApi({ '/api/instances': { items: [] } });
      await run('list', api, [], { status: 'running,FAILED,continuedasnew' });
      assert.match(api.paths[0] ?? '', /status=Running%2CFailed%2CContinuedAsNew/);
      assert.deepEqual(parseStatuses('pending'), { statuses: ['Pending'], stuck: false });
    });

    it('refuses an unknown status as a usage error that lists the statuses', () => {
      assert.throws(
        () => parseStatuses('runing'),
        (e: CliError) =>
          e.code === 'USAGE' && /must be one of Pending, Running, .*ContinuedAsNew or stuck.*'runing'/.test(e.message),
      );
    });
  });

  describe('restart', () => {
    it('restarts under the same id, or under a new one with --new-id, and says which', async () => {
      const bodies: unknown[] = [];
      const api: Api = {
        request<T>(_method: string, path: string, body?: unknown): Promise<T> {
          bodies.push([path, body]);
          const fresh = (body as { newInstanceId?: boolean }).newInstanceId === true;
          return Promise.resolve({ instanceId: fresh ? 'copy-1' : 'order-1' } as T);
        },
      };
      assert.equal((await run('restart', api, ['order-1'])).out, 'restarted order-1');
      assert.equal((await run('restart', api, ['order-1'], { 'new-id': true })).out, 'restarted order-1 as copy-1');
      assert.deepEqual(bodies, [
        ['/api/instances/order-1/restart', {}],
        ['/api/instances/order-1/restart', { newInstanceId: true }],
      ]);
    });
  });

  describe('status', () => {
    it("prints the server's waitingFor without reading the history", async () => {
      const api = fakeApi({
        '/api/instances/w-1': { ...instance('w-1', 'Running'), waitingFor: ['activity charge (for 3.0s)'] },
      });
      const { out } = await run('status', api, ['w-1']);
      assert.match(out, /activity charge \(for 3\.0s\)/);
      assert.deepEqual(api.paths, ['/api/instances/w-1']);
    });
  });

  it('lists entities sorted by id', async () => {
    const entity = (entityId: string): object => ({ entityId, state: 1, lastModified: new Date(T0).toISOString() });
    const api = fakeApi({
      '/api/entities': { items: [entity('counter@b'), entity('account@z'), entity('counter@a')] },
    });
    const { out } = await run('entity', api, ['list']);
    const ids = out
      .split('\n')
      .slice(2)
      .map((line) => line.split(/\s+/)[0]);
    assert.deepEqual(ids, ['account@z', 'counter@a', 'counter@b']);
  });

  describe('status', () => {
    it('says what a running instance is waiting for, from its history', async () => {
      const api = fakeApi({
        '/api/instances/a': instance('a', 'Running'),
        '/api/instances/a/history': {
          events: [
            events.executionStarted({ name: 'approval', input: {}, generation: 0 }, T0),
            events.taskScheduled(0, 'requestApproval', { id: 1 }, T0),
            events.taskCompleted(0, undefined, T0 + 30),
            events.timerCreated(1, T0 + 3_600_000, 'event-timeout', T0 + 30),
            events.entityCalled({ seq: 2, entityId: 'counter@home', operation: 'get' }, T0 + 30),
          ],
        },
      });
      const { out, code } = await run('status', api, ['a']);
      assert.equal(code, 0);
      assert.match(out, /^waiting for\s+an event, or its timeout at 2026-03-01T11:00:00\.000Z \(in 59m55s\)$/m);
      assert.match(out, /^\s+entity counter@home: get \(for 4\.9s\)$/m);
    });

    it('does not read the history of a finished instance', async () => {
      const api = fakeApi({ '/api/instances/a': instance('a', 'Completed', { output: 1 }) });
      const { out } = await run('status', api, ['a']);
      assert.doesNotMatch(out, /waiting for/);
      assert.deepEqual(api.paths, ['/api/instances/a']);
    });

    for (const [status, code] of [
      ['Completed', 0],
      ['Failed', 1],
      ['Terminated', 1],
    ] as const) {
      it(`with --wait, exits ${code} when the instance ends ${status}`, async () => {
        let polls = 0;
        const api = fakeApi({
          '/api/instances/a': () => (++polls < 2 ? instance('a', 'Running') : instance('a', status)),
        });
        const result = await run('status', api, ['a'], { wait: 'Infinity' });
        assert.equal(result.code, code);
        assert.match(result.out, new RegExp(`^status\\s+${status}$`, 'm'));
      });
    }
  });

  it('shows the history as a timeline with ISO timer dates', async () => {
    const api = fakeApi({
      '/api/instances/a/history': {
        events: [
          events.executionStarted({ name: 'remind', input: null, generation: 0 }, T0),
          events.timerCreated(0, T0 + 60_000, 'timer', T0),
          events.timerFired(0, T0 + 60_000, T0 + 60_050),
        ],
      },
    });
    const { out } = await run('history', api, ['a']);
    assert.match(out, /TimerCreated\s+0\s+fires at 2026-03-01T10:01:00\.000Z \(in 1m00s\)/);
    assert.match(
      out,
      /^2\s+\+1m00s\s+2026-03-01T10:01:00\.050Z\s+TimerFired\s+0\s+due 2026-03-01T10:01:00\.000Z\s+1m00s$/m,
    );
  });
});
