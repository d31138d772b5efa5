/**
 * Group commit for activity results: results that finish close together are sent in one write and their
 * requests acknowledged in one write. A request is acknowledged only after its result was sent, so a crash in
 * between runs the activity again (at least once) and the orchestration drops the second result.
 */
import type { Message } from '../engine/messages.js';
import type { GroupCommit } from '../backends/group-commit.js';
import type { Delivery, Queue } from '../backends/queue.js';

interface Pending {
  readonly reply: Message;
  readonly delivery: Delivery;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class ReplyBatcher {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly queue: Queue,
    private readonly groupCommit?: GroupCommit,
  ) {}

  /** Sends `reply` and then acknowledges `delivery`, together with whatever else completes in this tick. */
  complete(reply: Message, delivery: Delivery): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ reply, delivery, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    try {
      const send = batch.map((p) => p.reply);
      const ack = batch.map((p) => p.delivery);
      if (this.groupCommit) {
        await this.groupCommit.write({ send, ack, release: [] });
      } else {
        await this.queue.send(send);
        await this.queue.settle({ ack });
      }
      for (const p of batch) p.resolve();
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }
}
