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
 * Tube names allow letters, digits and `-+/;.$_()`, up to 200 bytes; any other byte of a function name is written
 * `$` and two hex digits (so `$` is escaped too, and distinct names never share a tube).
 */
import type { Message, QueueName } from '../../engine/messages.js';
import type { WorkKind, WorkSelection } from '../queue.js';

/** `kind`: one tube per kind. `function`: activities and entities get one tube per name. */
export type TubeRouting = 'kind' | 'function';

const MAX_TUBE_BYTES = 200;
const ENTITY_BOUND = new Set(['EntityOperation', 'EntityLock', 'EntityUnlock']);

/**
 * @example
 * const tubes = new BeanstalkdTubes('shop', 'function');
 * tubes.tubeOf(message); // 'shop.activities.charge'
 * tubes.watched('activities', { functions: { activities: ['charge'] } }); // ['shop.activities.charge']
 */
export class BeanstalkdTubes {
  constructor(
    private readonly namespace: string,
    private readonly routing: TubeRouting = 'kind',
  ) {}

  /** The tube a message is put on. */
  tubeOf(message: Message): string {
    if (message.queue === 'activities') return this.tube('activities', message.body.name);
    if (ENTITY_BOUND.has(message.body.type)) {
      const at = message.instanceId.indexOf('@');
      return this.tube('entities', at > 0 ? message.instanceId.slice(0, at) : message.instanceId);
    }
    return `${this.namespace}.orchestrations`;
  }

  /**
   * The tubes a receive on `queue` reserves from; may be empty (the worker serves none of that queue's work). With
   * per-function routing, `selection.functions` must name the activities and entity types to serve (a worker
   * passes its app's, or the subset it was told to serve); with per-kind routing it must not.
   */
  watched(queue: QueueName, selection: WorkSelection = {}): string[] {
    const takes = (kind: WorkKind): boolean => selection.kinds === undefined || selection.kinds.includes(kind);
    if (queue === 'activities') {
      return takes('activities') ? this.select('activities', selection.functions?.activities) : [];
    }
    return [
      ...(takes('orchestrations') ? [`${this.namespace}.orchestrations`] : []),
      ...(takes('entities') ? this.select('entities', selection.functions?.entities) : []),
    ];
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
    if (Buffer.byteLength(tube) > MAX_TUBE_BYTES) {
      throw new Error(`The tube for ${kind} '${name}' would be over beanstalkd's ${MAX_TUBE_BYTES} bytes.`);
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
