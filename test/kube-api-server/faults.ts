/**
 * Fault injection, for tests of clients that must survive a misbehaving API server. A rule matches requests by
 * verb and resource (both optional) and either delays them, fails them (429 with Retry-After, 500, or any code,
 * with the Status body the real server sends), or both. `times` bounds how many requests a rule hits;
 * `probability` picks requests at random (from the injected `random`, so a test can make it deterministic).
 * Dropping watches is immediate (`KubeApiServer.dropWatches`) or periodic (`dropWatchesEvery`).
 */
export interface FaultRule {
  verb?: string;
  resource?: string;
  latencyMs?: number;
  status?: number;
  retryAfterSeconds?: number;
  probability?: number;
  times?: number;
}

export interface Decision {
  latencyMs: number;
  status?: number;
  retryAfterSeconds?: number;
}

export class Faults {
  private rules: FaultRule[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  add(rule: FaultRule): void {
    this.rules.push({ ...rule });
  }

  clear(): void {
    this.rules = [];
  }

  decide(verb: string, resource: string): Decision {
    const decision: Decision = { latencyMs: 0 };
    for (const rule of this.rules) {
      if (rule.verb && rule.verb !== verb) continue;
      if (rule.resource && rule.resource !== resource) continue;
      if (rule.times !== undefined && rule.times <= 0) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      if (rule.times !== undefined) rule.times--;
      decision.latencyMs += rule.latencyMs ?? 0;
      if (rule.status && decision.status === undefined) {
        decision.status = rule.status;
        if (rule.retryAfterSeconds !== undefined) decision.retryAfterSeconds = rule.retryAfterSeconds;
      }
    }
    return decision;
  }
}
