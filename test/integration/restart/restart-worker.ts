/**
 * Child process of the restart-recovery test and benchmark: a `durable dev`-style host (SQLite file named by
 * DURABLE_SQLITE_PATH, the in-process lock, the configured leases) running the restart app until it is killed.
 */
import { loadConfig } from '../../../src/config/config.js';
import { startHost } from '../../../src/host/host.js';
import { restartApp } from './restart-app.js';

await startHost({ app: restartApp, config: loadConfig(process.env) });
process.stdout.write('ready\n');
