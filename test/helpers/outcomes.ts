/**
 * Workloads for backend outage tests, seen from the client's side: start instances with known outputs, then read
 * statuses until every instance has ended (reads that fail while the store is away count as "not yet"), and each
 * must have completed with its expected output.
 */
import assert from 'node:assert/strict';
import type { DurableClient, InstanceStatus } from '../../src/index.js';
import { until } from './until.js';

export async function assertAllComplete(
  client: DurableClient,
  expected: ReadonlyMap<string, unknown>,
  ms = 120_000,
): Promise<void> {
  const ids = [...expected.keys()];
  let statuses: InstanceStatus[] = [];
  await until(
    async () => {
      try {
        statuses = await Promise.all(ids.map(async (id) => (await client.getStatus(id)) as InstanceStatus));
      } catch {
        return false; // the client's own connection is reconnecting
      }
      return statuses.every((s) => s.status === 'Completed' || s.status === 'Failed' || s.status === 'Terminated');
    },
    'every instance ended',
    ms,
  );
  for (const status of statuses) {
    assert.equal(status.status, 'Completed', `${status.instanceId}: ${JSON.stringify(status.error)}`);
    assert.deepEqual(status.output, expected.get(status.instanceId));
  }
}

/**
 * Starts `count` `helloSequence` chains of the example app at once (the client batches them, so an outage lands while
 * most are still running) and records the output each must have in `expected`.
 */
export async function startChains(client: DurableClient, count: number, expected: Map<string, unknown>): Promise<void> {
  const chains = Array.from({ length: count }, (_, i) => [`A${i}`, `B${i}`, `C${i}`]);
  const ids = await Promise.all(chains.map((cities) => client.start('helloSequence', cities)));
  ids.forEach((id, i) =>
    expected.set(
      id,
      (chains[i] as string[]).map((c) => `Hello ${c}!`),
    ),
  );
}
