/**
 * `durable operator`: reconciles Workflow and Entity resources into worker Deployments (the same image as the
 * workers; the Helm chart in helm/durable runs it). In a pod it uses its service account; elsewhere `KUBECONFIG`
 * or ~/.kube/config.
 *
 * Exit codes: 0 after SIGTERM/SIGINT (the leader Lease is released first), 1 when it could not start, 2 for a
 * usage error.
 */
import { parseArgs } from 'node:util';
import process from 'node:process';
import { KubeConfig } from '@kubernetes/client-node';
import { LOG_EVENTS } from '../src/observability/log-events.js';
import { createLogger, type LogLevel } from '../src/observability/pino-logger.js';
import { startOperator } from './operator.js';

export const OPERATOR_USAGE = `Usage: durable operator [options]   (every option also has an environment variable)

  --namespace NS          DURABLE_OPERATOR_NAMESPACE: watch only this namespace (default all)
  --lease-namespace NS    POD_NAMESPACE: where the leader Lease 'durable-operator' lives (default the pod's, else default)
  --identity NAME         POD_NAME: this replica's name in the leader Lease (default the host name)
  --concurrency N         DURABLE_OPERATOR_CONCURRENCY: reconciles at once (default 4)
  --lease-duration-ms N   DURABLE_OPERATOR_LEASE_DURATION_MS: how soon a standby takes over from a dead leader
                          (default 15000; the leader renews every 2/15 of it and steps down after 2/3 without renewal)
  --ops-host ADDR  --ops-port N   DURABLE_OPS_HOST, DURABLE_OPS_PORT (default 0.0.0.0:9464): /metrics /healthz /readyz
  --log-level debug|info|warn|error   DURABLE_LOG_LEVEL (default info)`;

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

interface Settings {
  readonly watchNamespace: string | undefined;
  readonly leaseNamespace: string;
  readonly identity: string | undefined;
  readonly concurrency: number;
  readonly leaseDurationMs: number;
  readonly ops: { host: string; port: number };
  readonly logLevel: LogLevel;
}

/** Flags over environment variables; a bad value throws with the option's name. */
export function parseOperatorArgs(argv: readonly string[], env: Record<string, string | undefined>): Settings | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      namespace: { type: 'string' },
      'lease-namespace': { type: 'string' },
      identity: { type: 'string' },
      concurrency: { type: 'string' },
      'lease-duration-ms': { type: 'string' },
      'ops-host': { type: 'string' },
      'ops-port': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw new Error(`unexpected argument '${positionals[0]}'`);
  const integer = (raw: string | undefined, name: string, fallback: number, min: number, max: number): number => {
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name} must be an integer from ${min} to ${max} (got '${raw}')`);
    }
    return value;
  };
  const logLevel = values['log-level'] ?? env.DURABLE_LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got '${logLevel}')`);
  }
  return {
    watchNamespace: values.namespace ?? (env.DURABLE_OPERATOR_NAMESPACE || undefined),
    leaseNamespace: values['lease-namespace'] ?? (env.POD_NAMESPACE || 'default'),
    identity: values.identity ?? (env.POD_NAME || undefined),
    concurrency: integer(values.concurrency ?? env.DURABLE_OPERATOR_CONCURRENCY, '--concurrency', 4, 1, 256),
    leaseDurationMs: integer(
      values['lease-duration-ms'] ?? env.DURABLE_OPERATOR_LEASE_DURATION_MS,
      '--lease-duration-ms',
      15_000,
      1_500,
      600_000,
    ),
    ops: {
      host: values['ops-host'] ?? env.DURABLE_OPS_HOST ?? '0.0.0.0',
      port: integer(values['ops-port'] ?? env.DURABLE_OPS_PORT, '--ops-port', 9464, 0, 65535),
    },
    logLevel: logLevel as LogLevel,
  };
}

async function main(argv: readonly string[]): Promise<void> {
  let settings;
  try {
    settings = parseOperatorArgs(argv, process.env);
  } catch (error) {
    process.stderr.write(`durable operator: ${(error as Error).message}\n${OPERATOR_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (settings === 'help') {
    process.stdout.write(`${OPERATOR_USAGE}\n`);
    return;
  }
  const logger = createLogger({ level: settings.logLevel });
  let operator;
  try {
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromDefault();
    operator = await startOperator({
      kubeconfig,
      logger,
      leaseNamespace: settings.leaseNamespace,
      concurrency: settings.concurrency,
      // client-go's proportions: 15 s lease, 10 s renew deadline, 2 s retry period.
      leaseDurationMs: settings.leaseDurationMs,
      renewDeadlineMs: Math.round((settings.leaseDurationMs * 2) / 3),
      retryPeriodMs: Math.round((settings.leaseDurationMs * 2) / 15),
      ops: settings.ops,
      ...(settings.watchNamespace ? { watchNamespace: settings.watchNamespace } : {}),
      ...(settings.identity ? { identity: settings.identity } : {}),
    });
  } catch (error) {
    logger.error({ event: LOG_EVENTS.fatal, error: String(error) }, 'the operator could not start');
    process.exitCode = 1;
    return;
  }
  const running = operator;
  let signals = 0;
  const onSignal = (): void => {
    if (++signals > 1) process.exit(1);
    void running.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

// Through bin/durable.mjs the arguments start with the subcommand's name.
const args = process.argv.slice(2);
await main(args[0] === 'operator' ? args.slice(1) : args);
