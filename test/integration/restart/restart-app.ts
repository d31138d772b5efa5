/**
 * The app the restart-recovery test and benchmark run: an orchestration of one activity that notes each run in
 * `runs.log` (under RESTART_DIR), then takes `holdMs`, or never finishes in a process started with
 * RESTART_HANG=1: such a process is killed in the middle of every activity it takes.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineApp } from '../../../src/index.js';

const runsFile = join(process.env.RESTART_DIR ?? '.', 'runs.log');
const hang = process.env.RESTART_HANG === '1';

export const restartApp = defineApp({
  activities: {
    async step(input: { id: string; holdMs: number }) {
      appendFileSync(runsFile, `${input.id} ${process.pid} ${Date.now()}\n`);
      // Never settles in a hanging process: the activity is still running, its message reserved, when the kill lands.
      await new Promise((resolve) => {
        if (!hang) setTimeout(resolve, input.holdMs);
      });
      return `done ${input.id}`;
    },
  },
  orchestrations: {
    async oneStep(ctx, input: { id: string; holdMs: number }) {
      return ctx.callActivity('step', input);
    },
  },
});
