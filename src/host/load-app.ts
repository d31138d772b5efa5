/**
 * Loading a user's app module, shared by the two processes that run one: `durable dev` (`src/cli/dev.ts`) and
 * `durable worker` (`worker/main.ts`). It lives in the host so that the worker does not reach into the CLI.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App } from '../engine/app.js';
import { defineApp } from '../engine/app.js';
import { CliError } from './cli-error.js';

/** Loads an app module (TypeScript or JavaScript): its default export, or an export named `app`. */
export async function loadApp(path: string): Promise<App> {
  const absolute = resolve(path);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(`Cannot load ${path}: ${(error as Error).message}`, 'BAD_APP');
  }
  const app = (module.default ?? module.app) as Partial<App> | undefined;
  const parts = [app?.orchestrations, app?.activities, app?.entities];
  if (!app || typeof app !== 'object' || !parts.some((part) => typeof part === 'object')) {
    throw new CliError(`${path} must export an app (export default defineApp({...})).`, 'BAD_APP');
  }
  try {
    // Through defineApp, so a module that exports a plain object gets the same checks.
    return defineApp({
      orchestrations: app.orchestrations,
      activities: app.activities ?? {},
      entities: app.entities ?? {},
      events: app.events ?? {},
    });
  } catch (error) {
    throw new CliError(`${path}: ${(error as Error).message}`, 'BAD_APP');
  }
}
