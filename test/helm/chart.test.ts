/**
 * The Helm chart (helm/durable) through a real `helm` (test/helpers/helm.ts): lint, template with the values
 * files in test/helm/values, every rendered object validated against the Kubernetes schemas, and what users rely
 * on checked in the rendered objects: the operator's command, env, probes and RBAC as the operator contract states
 * them (docs/architecture.md), the CRDs, the backends' wiring, the Prometheus parts. Then the chart against the
 * Kubernetes test server: `helm install --dry-run=server` and the rendered manifests applied by kubectl.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { runHelm, helmBinary } from '../helpers/helm.js';
import { validateManifest } from '../helpers/k8s-schemas.js';
import { withKubectl } from '../kube/kubectl.js';

const chart = 'helm/durable';
const values = (name: string) => join('test/helm/values', name);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: any;
}

/** `helm template` with these arguments; fails the test (with helm's stderr) unless helm exits 0. */
async function template(...args: string[]): Promise<K8sObject[]> {
  const result = await runHelm(['template', 'durable', chart, '--namespace', 'durable-system', ...args]);
  assert.equal(result.code, 0, `helm template ${args.join(' ')} failed:\n${result.stderr}`);
  return (yaml.loadAll(result.stdout) as (K8sObject | null)[]).filter((doc): doc is K8sObject => doc !== null);
}

/** Validates every object the chart renders, the CRDs included. */
function validateAll(objects: K8sObject[]): void {
  for (const object of objects) validateManifest(object);
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

const kinds = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

/**
 * The operator's RBAC as its contract lists it (docs/architecture.md, The operator), written out independently
 * of the chart's template: `group resource: verbs`.
 */
const crud = 'get list watch create update patch delete';
const CONTRACT_RULES: Record<string, string> = {
  'durable.dev workflows': 'get list watch update patch',
  'durable.dev entities': 'get list watch update patch',
  'durable.dev workflows/status': 'get update patch',
  'durable.dev entities/status': 'get update patch',
  'durable.dev workflows/finalizers': 'update',
  'durable.dev entities/finalizers': 'update',
  'apps deployments': crud,
  ' serviceaccounts': crud,
  ' services': crud,
  ' configmaps': 'get',
  ' events': 'create patch',
  'rbac.authorization.k8s.io roles': crud,
  'rbac.authorization.k8s.io rolebindings': crud,
  'coordination.k8s.io leases': crud,
  'autoscaling horizontalpodautoscalers': crud,
  'policy poddisruptionbudgets': crud,
  'keda.sh scaledobjects': crud,
  'events.k8s.io events': 'create patch',
};

/** Every (group, resource, verb) a list of PolicyRules grants, as sorted `group resource verb` strings. */
function grants(rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[]): string[] {
  return rules
    .flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g} ${res} ${v}`))))
    .sort();
}

const contractGrants = Object.entries(CONTRACT_RULES)
  .flatMap(([resource, verbs]) => verbs.split(' ').map((v) => `${resource} ${v}`))
  .sort();

describe('the Helm chart', function () {
  this.timeout(30_000);

  before(function () {
    this.timeout(60_000); // the first run extracts helm from its zip
    helmBinary();
  });

  it('passes helm lint --strict with the defaults and with every valid values file', async () => {
    for (const file of ['backends.yaml', 'monitoring.yaml', 'watch-namespace.yaml']) {
      const result = await runHelm(['lint', '--strict', chart, '-f', values(file)]);
      assert.equal(result.code, 0, `helm lint -f ${file}:\n${result.stdout}${result.stderr}`);
    }
    const defaults = await runHelm(['lint', '--strict', chart]);
    assert.equal(defaults.code, 0, defaults.stdout + defaults.stderr);
    assert.match(defaults.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders only the operator, its ServiceAccount, RBAC and metrics Service by default, all valid', async () => {
    const objects = await template();
    validateAll(objects);
    assert.deepEqual(kinds(objects), [
      'ClusterRole/durable-operator',
      'ClusterRoleBinding/durable-operator',
      'Deployment/durable-operator',
      'Service/durable-operator-metrics',
      'ServiceAccount/durable-operator',
    ]);
    for (const o of objects) if (!o.kind.startsWith('Cluster')) assert.equal(o.metadata.namespace, 'durable-system');
  });

  it('runs `durable operator` with the env, port, probes and security of the operator contract', async () => {
    const objects = await template();
    const deployment = find(objects, 'Deployment', 'durable-operator');
    assert.equal(deployment.spec.replicas, 1);
    const pod = deployment.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'durable-operator');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 1000);
    const [container, ...others] = pod.containers;
    assert.equal(others.length, 0);
    assert.equal(container.image, 'durable:0.1.0', 'the image tag defaults to the appVersion');
    assert.deepEqual(container.args, ['operator']);
    assert.equal(container.command, undefined, "the image's entry point runs durable");

    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    assert.deepEqual(env.POD_NAME, { fieldRef: { fieldPath: 'metadata.name' } });
    assert.deepEqual(env.POD_NAMESPACE, { fieldRef: { fieldPath: 'metadata.namespace' } });
    assert.equal(env.DURABLE_LOG_LEVEL, 'info');
    assert.equal(env.DURABLE_OPERATOR_CONCURRENCY, '4');
    assert.equal('DURABLE_OPERATOR_NAMESPACE' in env, false, 'unset: every namespace');

    assert.deepEqual(container.ports, [{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.ok(container.resources.requests.memory && container.resources.limits.memory);

    const service = find(objects, 'Service', 'durable-operator-metrics');
    assert.deepEqual(service.spec.ports, [{ name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' }]);
    const podLabels = deployment.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(podLabels[k], v, `selector ${k}`);
    assert.deepEqual(deployment.spec.selector.matchLabels, service.spec.selector);
  });

  it('grants the operator exactly the RBAC of its contract, cluster-wide, bound to its ServiceAccount', async () => {
    const objects = await template();
    const role = find(objects, 'ClusterRole', 'durable-operator');
    assert.deepEqual(grants(role.rules), contractGrants);
    const binding = find(objects, 'ClusterRoleBinding', 'durable-operator');
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'durable-operator',
    });
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: 'durable-operator', namespace: 'durable-system' },
    ]);
  });

  it('watching one namespace, grants the same rules there only and the leader election where it runs', async () => {
    const objects = await template('-f', values('watch-namespace.yaml'));
    validateAll(objects);
    assert.equal(objects.filter((o) => o.kind.startsWith('Cluster')).length, 0, 'no cluster-wide RBAC');
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === 'shop');
    assert.ok(role, 'a Role in the watched namespace');
    assert.deepEqual(grants(role.rules), contractGrants);
    const binding = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === 'shop');
    assert.equal(binding?.roleRef.name, role.metadata.name);
    assert.deepEqual(binding?.subjects, [
      { kind: 'ServiceAccount', name: 'durable-operator', namespace: 'durable-system' },
    ]);
    // The Lease `durable-operator` lives in POD_NAMESPACE, the release's namespace, not the watched one.
    const election = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === 'durable-system');
    assert.ok(election, 'a Role for the leader election where the operator runs');
    assert.ok(grants(election.rules).includes('coordination.k8s.io leases update'));

    const container = find(objects, 'Deployment', 'durable-operator').spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));
    assert.equal(env.DURABLE_OPERATOR_NAMESPACE, 'shop');
    assert.equal(env.DURABLE_LOG_LEVEL, 'debug');
    assert.equal(env.DURABLE_OPERATOR_CONCURRENCY, '8');
    assert.equal(find(objects, 'Deployment', 'durable-operator').spec.replicas, 2);
    const workers = find(objects, 'ServiceMonitor', 'durable-workers');
    assert.deepEqual(workers.spec.namespaceSelector, { matchNames: ['shop'] });
  });

  it('ships the CRDs of crds/ byte for byte, and renders them with --include-crds', async () => {
    const source = readdirSync('crds').sort();
    assert.deepEqual(readdirSync(join(chart, 'crds')).sort(), source);
    for (const file of source) {
      assert.ok(
        readFileSync(join('crds', file)).equals(readFileSync(join(chart, 'crds', file))),
        `${chart}/crds/${file} differs from crds/${file}: run scripts/sync-crds.sh`,
      );
    }
    const objects = await template('--include-crds');
    validateAll(objects);
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name);
    assert.deepEqual(crds.sort(), ['entities.durable.dev', 'workflows.durable.dev']);
    const notIncluded = await template();
    assert.equal(notIncluded.filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
  });

  it('runs Beanstalkd and RethinkDB on volumes, and the backends ConfigMap points at their Services', async () => {
    const objects = await template('-f', values('backends.yaml'));
    validateAll(objects);
    const config = find(objects, 'ConfigMap', 'durable-backends').data;
    assert.equal(config.DURABLE_LOCK, 'kubernetes');
    assert.equal(config.DURABLE_PARTITIONS, '32');
    const queue = new URL(config.DURABLE_QUEUE_URL);
    const store = new URL(config.DURABLE_STORE_URL);
    assert.equal(queue.protocol, 'beanstalkd:');
    assert.equal(store.protocol, 'rethinkdb:');
    assert.equal(store.pathname, '/shop');
    for (const [url, port, storageClass, size] of [
      [queue, 11300, 'fast-ssd', '3Gi'],
      [store, 28015, 'fast-ssd', '20Gi'],
    ] as const) {
      const [serviceName, namespace, svc] = url.hostname.split('.');
      assert.equal(namespace, 'durable-system');
      assert.equal(svc, 'svc');
      assert.equal(Number(url.port), port);
      const service = find(objects, 'Service', serviceName!);
      assert.equal(service.spec.clusterIP, 'None', 'headless: the StatefulSet pod answers directly');
      const servicePort = service.spec.ports.find((p: any) => p.port === port);
      assert.ok(servicePort, `${serviceName} serves ${port}`);
      const statefulSet = find(objects, 'StatefulSet', serviceName!);
      assert.equal(statefulSet.spec.serviceName, serviceName);
      for (const [k, v] of Object.entries(service.spec.selector)) {
        assert.equal(statefulSet.spec.template.metadata.labels[k], v, `${serviceName} selects its pod by ${k}`);
      }
      const container = statefulSet.spec.template.spec.containers[0];
      assert.ok(container.ports.some((p: any) => p.name === servicePort.targetPort && p.containerPort === port));
      const [claim] = statefulSet.spec.volumeClaimTemplates;
      assert.equal(claim.spec.storageClassName, storageClass);
      assert.equal(claim.spec.resources.requests.storage, size);
      assert.ok(container.volumeMounts.some((m: any) => m.name === claim.metadata.name));
    }
    const rethinkdb = find(objects, 'StatefulSet', 'durable-rethinkdb').spec.template.spec.containers[0];
    assert.equal(rethinkdb.image, 'rethinkdb:2.4.4');
    // Without a storageClass the cluster's default applies: the field is left out, not set to "".
    const defaults = await template('--set', 'backends.enabled=true');
    const claim = find(defaults, 'StatefulSet', 'durable-beanstalkd').spec.volumeClaimTemplates[0];
    assert.equal('storageClassName' in claim.spec, false);
  });

  it('scrapes the operator and the workers with ServiceMonitors and serves durable_queue_depth to the adapter', async () => {
    const objects = await template('-f', values('monitoring.yaml'));
    validateAll(objects);
    const operatorMonitor = find(objects, 'ServiceMonitor', 'durable-operator');
    const service = find(objects, 'Service', 'durable-operator-metrics');
    for (const [k, v] of Object.entries(operatorMonitor.spec.selector.matchLabels)) {
      assert.equal(service.metadata.labels?.[k], v, `the operator's ServiceMonitor selects its Service by ${k}`);
    }
    assert.equal(operatorMonitor.metadata.labels?.release, 'kube-prometheus-stack');
    assert.equal(operatorMonitor.spec.endpoints[0].port, 'metrics');
    assert.equal(operatorMonitor.spec.endpoints[0].interval, '15s');

    // The worker Services are the operator's (labels of the operator contract), in any namespace.
    const workers = find(objects, 'ServiceMonitor', 'durable-workers');
    assert.deepEqual(workers.spec.selector.matchLabels, {
      'app.kubernetes.io/name': 'durable-worker',
      'app.kubernetes.io/managed-by': 'durable-operator',
    });
    assert.deepEqual(workers.spec.namespaceSelector, { any: true });
    assert.deepEqual(
      workers.spec.endpoints.map((e: any) => e.port),
      ['metrics'],
    );

    const adapter = find(objects, 'ConfigMap', 'durable-prometheus-adapter');
    assert.equal(adapter.metadata.namespace, 'monitoring', 'prometheus-adapter reads its config from its namespace');
    const config = yaml.load(adapter.data['config.yaml']) as any;
    assert.deepEqual(Object.keys(config), ['externalRules']);
    const [rule, ...more] = config.externalRules;
    assert.equal(more.length, 0);
    assert.equal(rule.name.as, 'durable_queue_depth');
    assert.match('durable_tube_depth', new RegExp(rule.name.matches));
    assert.deepEqual(rule.resources.overrides, { namespace: { resource: 'namespace' } });
    assert.match(rule.seriesQuery, /^durable_tube_depth\{.*service!="".*\}$/);
    // Every worker reports every tube: max per tube (and state) drops the copies, sum adds the tubes, per Service
    // (the label an HPA selects with `service: <pool>-workflow`).
    assert.equal(
      rule.metricsQuery,
      'sum by (namespace, service) (max by (namespace, service, tube, state) ' +
        '(durable_tube_depth{state=~"ready|reserved",<<.LabelMatchers>>}))',
    );
  });

  it('accepts the queue-depth HPA the operator generates against the adapter metric', () => {
    // The shape the operator renders (operator contract); validated here so a change of either side shows.
    validateManifest({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'shop-workflow', namespace: 'shop' },
      spec: {
        scaleTargetRef: { apiVersion: 'durable.dev/v1alpha1', kind: 'Workflow', name: 'shop' },
        minReplicas: 1,
        maxReplicas: 10,
        metrics: [
          {
            type: 'External',
            external: {
              metric: { name: 'durable_queue_depth', selector: { matchLabels: { service: 'shop-workflow' } } },
              target: { type: 'AverageValue', averageValue: '20' },
            },
          },
        ],
      },
    });
  });

  describe('refuses bad values with a message naming the value', () => {
    const cases: [string, RegExp][] = [
      ['bad-replicas-string.yaml', /operator\.replicas: Invalid type\. Expected: integer, given: string/],
      ['bad-log-level.yaml', /operator\.logLevel: operator\.logLevel must be one of the following: "error"/],
      ['bad-misspelt-key.yaml', /Additional property backend is not allowed/],
      ['bad-partitions.yaml', /backends\.partitions: Must be less than or equal to 1024/],
      ['bad-adapter-state.yaml', /prometheusAdapter\.states\.1: prometheusAdapter\.states\.1 must be one of/],
    ];
    for (const [file, message] of cases) {
      it(`rejects ${file}`, async () => {
        const result = await runHelm(['template', 'durable', chart, '-f', values(file)]);
        assert.notEqual(result.code, 0, `helm accepted ${file}`);
        assert.match(result.stderr, /values don't meet the specifications of the schema/);
        assert.match(result.stderr, message);
      });
    }
    it('rejects serviceAccount.create=false without a name', async () => {
      const result = await runHelm(['template', 'durable', chart, '--set', 'serviceAccount.create=false']);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /serviceAccount\.name must name an existing ServiceAccount/);
    });
  });

  describe('against the Kubernetes test server', () => {
    const k8s = withKubectl('all');
    const env = () => ({
      KUBECONFIG: join(k8s.kubectl.dir, 'kubeconfig'),
      HELM_CACHE_HOME: join(k8s.kubectl.dir, 'helm-cache'),
      HELM_CONFIG_HOME: join(k8s.kubectl.dir, 'helm-config'),
      HELM_DATA_HOME: join(k8s.kubectl.dir, 'helm-data'),
    });

    it('passes helm install --dry-run=server: discovery, field validation and a lookup of each object', async () => {
      const result = await runHelm(
        ['install', 'durable', chart, '-n', 'default', '-f', values('backends.yaml'), '--dry-run=server'],
        env(),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /STATUS: pending-install/);
      assert.match(result.stdout, /configMapRef:\n\s+name: durable-backends/, 'NOTES tell how to use the backends');
      // Helm checked that the server validates fields itself (OpenAPI v3), then that none of its objects exists.
      assert.ok(k8s.server.requestCount({ verb: 'get', resource: '/openapi/v3/apis/apps/v1' }) > 0);
      for (const resource of ['serviceaccounts', 'clusterroles', 'deployments', 'statefulsets', 'services']) {
        assert.ok(k8s.server.requestCount({ verb: 'get', resource }) > 0, `helm looked for its ${resource}`);
      }
      assert.equal(k8s.server.requestCount({ verb: 'create' }), 0, 'a dry run creates nothing');
    });

    it('stores every rendered object when kubectl applies the chart, CRDs established first', async () => {
      const rendered = await runHelm([
        'template',
        'durable',
        chart,
        '-n',
        'default',
        '--include-crds',
        '-f',
        values('backends.yaml'),
        '-f',
        values('monitoring.yaml'),
        '--set',
        'serviceMonitor.enabled=false,prometheusAdapter.namespace=default',
      ]);
      assert.equal(rendered.code, 0, rendered.stderr);
      const objects = (yaml.loadAll(rendered.stdout) as (K8sObject | null)[]).filter((o): o is K8sObject => !!o);
      const crdFile = k8s.kubectl.file(
        'crds.yaml',
        objects
          .filter((o) => o.kind === 'CustomResourceDefinition')
          .map((o) => yaml.dump(o))
          .join('---\n'),
      );
      await k8s.kubectl.installCrds(crdFile, 'workflows.durable.dev', 'entities.durable.dev');
      const rest = objects.filter((o) => o.kind !== 'CustomResourceDefinition');
      const out = await k8s.kubectl.ok(
        'apply',
        '-f',
        k8s.kubectl.file('chart.yaml', rest.map((o) => yaml.dump(o)).join('---\n')),
      );
      for (const o of rest) {
        const [group = '', version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
        assert.ok(version);
        assert.match(out, new RegExp(`${o.kind.toLowerCase()}[^/]*/${o.metadata.name} created`));
        const plural = `${o.kind.toLowerCase()}s`.replace(/ys$/, 'ies');
        const stored = k8s.server.read(group, plural, o.kind.startsWith('Cluster') ? '' : 'default', o.metadata.name);
        assert.ok(stored, `${o.kind} ${o.metadata.name} stored`);
      }
      const deployment = k8s.server.read('apps', 'deployments', 'default', 'durable-operator');
      assert.deepEqual(deployment?.spec.template.spec.containers[0].args, ['operator']);
    });
  });
});
