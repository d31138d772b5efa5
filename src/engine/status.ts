/** Lifecycle of an orchestration instance. */
export type RuntimeStatus =
  'Pending' | 'Running' | 'Suspended' | 'Completed' | 'Failed' | 'Terminated' | 'ContinuedAsNew';

/** Every status, in lifecycle order (handy for validation and filters). */
export const RUNTIME_STATUSES: readonly RuntimeStatus[] = [
  'Pending',
  'Running',
  'Suspended',
  'Completed',
  'Failed',
  'Terminated',
  'ContinuedAsNew',
];

/** A terminal instance will never run again (unless restarted under a reuse policy). */
export function isTerminal(status: RuntimeStatus): boolean {
  return status === 'Completed' || status === 'Failed' || status === 'Terminated';
}
