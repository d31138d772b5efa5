/**
 * How an execution's code ended: a value, an error, or a request to continue as new.
 */

export type Outcome =
  { ok: true; value: unknown } | { ok: false; error: unknown } | { continueAsNew: ContinueAsNewRequest };

export interface ContinueAsNewRequest {
  readonly input: unknown;
  readonly keepUnprocessedEvents: boolean;
}

/** Thrown by `ctx.continueAsNew` to unwind the orchestration; never exported. */
export class ContinueAsNewSignal extends Error {
  constructor(readonly request: ContinueAsNewRequest) {
    super('continueAsNew: this execution ends here and a new one starts.');
    this.name = 'ContinueAsNew';
  }
}

/** The status an execution ends with. */
export function outcomeStatus(outcome: Outcome): 'Completed' | 'Failed' | 'ContinuedAsNew' {
  return 'continueAsNew' in outcome ? 'ContinuedAsNew' : outcome.ok ? 'Completed' : 'Failed';
}
