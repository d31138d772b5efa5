/**
 * Which beanstalkd tube a message goes to, and which tubes a worker reserves from.
 *
 * Tubes per kind: `<ns>.orchestrations`, `<ns>.entities`, `<ns>.activities`. With per-function routing,
 * activities and entities get a tube per name (`<ns>.activities.<activity>`, `<ns>.entities.<entity type>`), so a
 * worker pool can serve a subset of them and scale on its own queue depth. Orchestrations always share one tube:
 * most of their messages (replies, events, timers) do not carry the orchestration's name.
 *
 * Entity-bound messages (operations, lock requests, unlocks) travel on the contract's `orchestrations` queue;
 * replies *from* entities (`EntityResponse`, `EntityLockGranted`) are orchestration messages.
 *
 * With partitions, orchestration and entity tubes end in `.p<partition>`.
 *
 * Tube names allow letters, digits and `-+/;.$_()`, up to 200 bytes; any other byte of a function name is written
 * `$` and two hex digits (so `$` is escaped too, and distinct names never share a tube).
 */
import type { Message, QueueName } from '../../engine/messages.js';
import { MAX_PARTITIONS, partitionOf } from '../partitions.js';
import type { WorkKind, WorkSelection } from '../queue.js';

/** `kind`: one tube per kind. `function`: activities and entities get one tube per name. */
export type TubeRouting = 'kind' | 'function';

const MAX_TUBE_BYTES = 200;
/** What a partition suffix (`.p1023`) may add to a tube name. */
const PARTITION_SUFFIX_BYTES = 6;
const ENTITY_BOUND = new Set(['EntityOperation', 'EntityLock', 'EntityUnlock']);

/**
 * @example
 * const tubes = new BeanstalkdTubes('shop', 'function');
 * tubes.tubeOf(message); // 'shop.activities.charge'
 * tubes.watched('activities', { functions: { activities: ['charge'] } }); // ['shop.activities.charge']
 */
export class BeanstalkdTubes {
  /**
   * `partitions` (0: none) splits the orchestration and entity tubes by the instance id's partition
   * (`<tube>.p<k>`, partitions.ts), so a worker that holds some partitions reserves only their messages.
   * Activities are never partitioned: any worker may run any activity.
   */
  constructor(
    private readonly namespace: string,
    private readonly routing: TubeRouting = 'kind',
    readonly partitions = 0,
  ) {
    if (!(Number.isInteger(partitions) && partitions >= 0 && partitions <= MAX_PARTITIONS)) {
      throw new Error(`partitions must be an integer from 0 to ${MAX_PARTITIONS}, got ${partitions}.`);
    }
  }

  /** The tube a message is put on. */
  tubeOf(message: Message): string {
    if (message.queue === 'activities') return this.tube('activities', message.body.name);
    const partition = this.partitions > 0 ? `.p${partitionOf(message.instanceId, this.partitions)}` : '';
    if (ENTITY_BOUND.has(message.body.type)) {
      const at = message.instanceId.indexOf('@');
      return this.tube('entities', at > 0 ? message.instanceId.slice(0, at) : message.instanceId) + partition;
    }
    return `${this.namespace}.orchestrations${partition}`;
  }

  /**
   * The tubes a receive on `queue` reserves from; may be empty (the worker serves none of that queue's work). With
   * per-function routing, `selection.functions` must name the activities and entity types to serve (a worker
   * passes its app's, or the subset it was told to serve); with per-kind routing it must not. With partitions,
   * the orchestration and entity tubes of the partitions in `held` (default: all).
   */
  watched(queue: QueueName, selection: WorkSelection = {}, held?: readonly number[]): string[] {
    const takes = (kind: WorkKind): boolean => selection.kinds === undefined || selection.kinds.includes(kind);
    if (queue === 'activities') {
      return takes('activities') ? this.select('activities', selection.functions?.activities) : [];
    }
    const bases = [
      ...(takes('orchestrations') ? [`${this.namespace}.orchestrations`] : []),
      ...(takes('entities') ? this.select('entities', selection.functions?.entities) : []),
    ];
    if (this.partitions === 0) return bases;
    const partitions = held ?? Array.from({ length: this.partitions }, (_, p) => p);
    return partitions.flatMap((p) => bases.map((base) => `${base}.p${p}`));
  }

  /** Where the dead-letter reasons of a queue's jobs are kept (buried jobs carry no text). */
  reasons(queue: QueueName): string {
    return `${this.namespace}.${queue}.dead-reasons`;
  }

  private select(kind: 'entities' | 'activities', names: readonly string[] | undefined): string[] {
    if (this.routing === 'kind') {
      if (names !== undefined) {
        throw new Error(`Serving only some ${kind} needs per-function tubes (routing 'function').`);
      }
      return [`${this.namespace}.${kind}`];
    }
    if (names === undefined) {
      throw new Error(`With per-function tubes, name the ${kind} to serve (the app's ${kind}).`);
    }
    return [...new Set(names)].map((name) => this.tube(kind, name));
  }

  private tube(kind: 'entities' | 'activities', name: string): string {
    if (this.routing === 'kind') return `${this.namespace}.${kind}`;
    const tube = `${this.namespace}.${kind}.${encodeTubePart(name)}`;
    const suffix = kind === 'entities' && this.partitions > 0 ? PARTITION_SUFFIX_BYTES : 0;
    if (Buffer.byteLength(tube) + suffix > MAX_TUBE_BYTES) {
      const partition = suffix > 0 ? ' with its partition suffix' : '';
      throw new Error(`The tube for ${kind} '${name}' would be over beanstalkd's ${MAX_TUBE_BYTES} bytes${partition}.`);
    }
    return tube;
  }
}

/** A function name as a tube name part: bytes outside `[A-Za-z0-9-+/;._()]` become `$xx`. */
export function encodeTubePart(name: string): string {
  if (name === '') return '$';
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-+/;._()]/.test(ch) ? ch : `$${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}
