/**
 * Claim-check for payloads larger than beanstalkd's job size limit (`-z`, 65 535 bytes by default): the message
 * JSON goes to a claim store and the job carries only `{"claim": key}`. A later change backs this with the
 * instance store; tests use {@link MemoryClaimStore}.
 */

/** Where oversized message bodies are kept while their job is in beanstalkd. */
export interface ClaimStore {
  /** Durable once it resolves: the job that refers to it is put only afterwards. */
  put(key: string, json: string): Promise<void>;
  /** The JSON put under `key`, or undefined when it is gone. */
  get(key: string): Promise<string | undefined>;
  /** Idempotent. */
  delete(key: string): Promise<void>;
}

/**
 * A claim store in process memory (tests, single process).
 * @example
 * const queue = new BeanstalkdQueue({ port: 11300, claimStore: new MemoryClaimStore() });
 */
export class MemoryClaimStore implements ClaimStore {
  readonly entries = new Map<string, string>();

  put(key: string, json: string): Promise<void> {
    this.entries.set(key, json);
    return Promise.resolve();
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.entries.get(key));
  }

  delete(key: string): Promise<void> {
    this.entries.delete(key);
    return Promise.resolve();
  }
}
