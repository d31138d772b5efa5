/**
 * An operator (the real `Controller`, in-process) against the Kubernetes API test server with the CRDs installed,
 * and kubectl pointed at the same server: the way a user drives it.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller, type ControllerOptions } from '../../operator/controller.js';
import { createOperatorMetrics, type OperatorMetrics } from '../../operator/metrics.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { KubeApiServer } from '../kube-api-server/server.js';
import { until } from '../helpers/until.js';
import { withKubectl, type Kubectl } from './kubectl.js';

export const ROOT = join(fileURLToPath(import.meta.url), '../../..');

/**
 * What every pool owns, as [API group, plural]: written out here rather than taken from operator/kinds.ts, so a kind
 * the operator stopped rendering fails the tests.
 */
export const OWNED: readonly (readonly [group: string, plural: string])[] = [
  ['', 'serviceaccounts'],
  ['rbac.authorization.k8s.io', 'roles'],
  ['rbac.authorization.k8s.io', 'rolebindings'],
  ['', 'services'],
  ['apps', 'deployments'],
  ['policy', 'poddisruptionbudgets'],
];

export interface OperatorHarness {
  readonly server: KubeApiServer;
  readonly kubectl: Kubectl;
  /** Starts an operator (the test's first one starts in `beforeEach`); stopped after the test. */
  startOperator(options?: Partial<ControllerOptions>): Promise<Controller>;
  readonly controller: Controller;
  readonly metrics: OperatorMetrics;
}

/**
 * @example
 * const k8s = withOperator();
 * it('…', async () => { await k8s.kubectl.ok('apply', '-f', 'examples/k8s/workflow.yaml'); });
 */
export function withOperator(defaults: Partial<ControllerOptions> = {}): OperatorHarness {
  const k8s = withKubectl('each', (kubectl) =>
    kubectl.installCrds(join(ROOT, 'crds'), 'workflows.durable.dev', 'entities.durable.dev'),
  );
  let controllers: Controller[] = [];
  let metrics: OperatorMetrics;
  const startOperator = async (options: Partial<ControllerOptions> = {}): Promise<Controller> => {
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromString(k8s.server.kubeconfig());
    const controller = new Controller({
      kubeconfig,
      logger: silentLogger,
      metrics,
      finalizerPollMs: 50,
      ...defaults,
      ...options,
    });
    controllers.push(controller);
    await controller.start();
    return controller;
  };
  beforeEach(async () => {
    controllers = [];
    metrics = createOperatorMetrics(() => 0);
    await startOperator();
  });
  afterEach(async () => {
    await Promise.all(controllers.map((c) => c.stop()));
  });
  return {
    get server() {
      return k8s.server;
    },
    get kubectl() {
      return k8s.kubectl;
    },
    get controller() {
      return controllers[0] as Controller;
    },
    get metrics() {
      return metrics;
    },
    startOperator,
  };
}

/**
 * Waits until the API server has seen no request for `quietMs`: the operator has nothing left to do. Lease
 * requests (leader election renewals) do not count.
 */
export async function settled(server: KubeApiServer, quietMs = 300, timeoutMs = 15_000): Promise<void> {
  await until(
    () => {
      const last =
        server
          .requests()
          .filter((r) => r.resource !== 'leases')
          .at(-1)?.at ?? 0;
      return performance.now() - last >= quietMs;
    },
    'the operator to settle',
    timeoutMs,
  );
}
