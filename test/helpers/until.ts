/**
 * Polls (real time) until `condition` holds; fails after `ms` (default 5 s). For tests that wait on something a
 * worker does in the background, where no clock can be moved instead.
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
