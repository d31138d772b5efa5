/**
 * Child process of the crash-safety test: a Durable worker on the SQLite file named by DURABLE_SQLITE_PATH.
 * It runs until killed; the test SIGKILLs it at random moments and starts it again.
 */
import { loadConfig } from '../../../src/config/config.js';
import { startHost } from '../../../src/host/host.js';
import { crashApp } from './crash-app.js';

const host = await startHost({
  app: crashApp,
  config: loadConfig(process.env),
  worker: { pollMs: 50, turnTimeoutMs: 2000, activityTimeoutMs: 2000 },
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => void host.stop().then(() => process.exit(0)));
