/**
 * The patch formats and the server-side apply model in isolation (pure functions, no server): the cases kubectl
 * and controllers depend on that the end-to-end tests do not reach.
 */
import assert from 'node:assert/strict';
import { recordUpdate, serverSideApply } from '../kube-api-server/apply.js';
import { jsonPatch, mergePatch, strategicMergePatch } from '../kube-api-server/patch.js';
import { ApiError } from '../kube-api-server/status.js';
import type { KubeObject } from '../kube-api-server/store.js';

const NOW = '2026-01-01T00:00:00Z';

const pod = (containers: object[]): any => ({ spec: { containers } });

describe('patches', () => {
  it('deletes a key with null in a merge patch and replaces lists whole', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { a: null, b: { c: null }, l: [3] }), {
      b: { d: 3 },
      l: [3],
    });
  });

  it('applies JSON patch operations in order and fails the whole patch on a failed test', () => {
    const doc = { spec: { list: ['a'] } };
    assert.deepEqual(
      jsonPatch(doc, [
        { op: 'add', path: '/spec/list/-', value: 'b' },
        { op: 'copy', from: '/spec/list/0', path: '/spec/first' },
        { op: 'move', from: '/spec/list', path: '/list' },
      ]),
      { spec: { first: 'a' }, list: ['a', 'b'] },
    );
    assert.throws(() => jsonPatch(doc, [{ op: 'test', path: '/spec/list/0', value: 'z' }]), ApiError);
    assert.deepEqual(doc, { spec: { list: ['a'] } }, 'the original is untouched');
  });

  it('merges containers by name, deletes one with $patch: delete and reorders by $setElementOrder', () => {
    const live = pod([
      { name: 'a', image: 'a:1' },
      { name: 'b', image: 'b:1' },
    ]);
    const patched = strategicMergePatch(live, {
      spec: {
        '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }],
        containers: [
          { name: 'a', image: 'a:2' },
          { name: 'b', $patch: 'delete' },
          { name: 'c', image: 'c:1' },
        ],
      },
    });
    assert.deepEqual(patched.spec.containers, [
      { name: 'c', image: 'c:1' },
      { name: 'a', image: 'a:2' },
    ]);
  });

  it('merges finalizers as a set and removes listed ones with $deleteFromPrimitiveList', () => {
    const live = { metadata: { finalizers: ['x', 'y'] } };
    assert.deepEqual(strategicMergePatch(live, { metadata: { finalizers: ['y', 'z'] } }).metadata.finalizers, [
      'x',
      'y',
      'z',
    ]);
    assert.deepEqual(
      strategicMergePatch(live, { metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] } }).metadata.finalizers,
      ['y'],
    );
  });
});

describe('server-side apply', () => {
  const lease = (holder: string, extra: object = {}): KubeObject => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'l' },
    spec: { holderIdentity: holder, ...extra },
  });

  it('removes a field its manager stops applying, unless another manager also owns it', () => {
    const first = serverSideApply(
      undefined,
      lease('a', { leaseDurationSeconds: 15, leaseTransitions: 1 }),
      'op',
      false,
      NOW,
    );
    const shared = serverSideApply(first, lease('a', { leaseTransitions: 1 }), 'other', false, NOW);
    const second = serverSideApply(shared, lease('a'), 'op', false, NOW);
    assert.equal(second.spec.leaseDurationSeconds, undefined, 'owned by op alone: removed');
    assert.equal(second.spec.leaseTransitions, 1, 'co-owned by other: kept');
  });

  it('lets a plain update take a field over without conflict, after which an apply of another value conflicts', () => {
    const applied = serverSideApply(undefined, lease('a'), 'op', false, NOW);
    const updated = structuredClone(applied);
    updated.spec.holderIdentity = 'b';
    recordUpdate(applied, updated, 'worker', NOW);
    const owners = updated.metadata.managedFields.map(
      (m: { manager: string; operation: string }) => `${m.manager}/${m.operation}`,
    );
    assert.deepEqual(owners, ['worker/Update']);
    // op no longer owns the holder, so re-applying its old value conflicts with the worker's.
    assert.throws(
      () => serverSideApply(updated, lease('a'), 'op', false, NOW),
      (e: ApiError) => e.code === 409 && /conflict with "worker"/.test(e.message),
    );
    assert.equal(serverSideApply(updated, lease('a'), 'op', true, NOW).spec.holderIdentity, 'a');
  });
});
