/**
 * Every value that leaves an orchestration or an activity (outputs, inputs of calls, custom status, results) is
 * stored and sent as JSON. A value JSON cannot carry must be refused where it is made, naming where it sits
 * (`output.items[3].total is a BigInt`): a store or queue that meets it later can only reject its whole write,
 * which fails every turn committed with it.
 *
 * What is refused (the first one found, depth first, in property order):
 * - a BigInt (`JSON.stringify` throws);
 * - an object that contains itself, a cycle (`JSON.stringify` throws). An object reached twice without a
 *   cycle is fine: JSON copies it;
 * - a Symbol or a function, wherever it sits: `JSON.stringify` silently drops or nulls them, so the value the
 *   code handed over would not be the one stored, sent or replayed;
 * - a value whose `toJSON` or getter throws (`JSON.stringify` would throw too).
 *
 * What is accepted, as `JSON.stringify` writes it:
 * - `undefined` (dropped from objects, `null` in arrays, absent at the top): the absence of a value;
 * - `NaN` and `±Infinity`, which become `null`. Refusing them would fail instances that complete today (an
 *   average of nothing is `NaN`), and the change is the same on every run and replay;
 * - anything with `toJSON` (a `Date` becomes its ISO string), whose result is checked in turn;
 * - class instances, `Map`s and `Set`s: their own enumerable properties (a `Map` becomes `{}`).
 */
import { SerializationError } from './errors.js';

/**
 * The first place in `value` that JSON cannot carry, described from `root` (`output.items[3].total is a
 * BigInt`), or `undefined` when the value is JSON.
 * @example
 * findNonJson({ items: [{ total: 10n }] }, 'output'); // 'output.items[0].total is a BigInt'
 */
export function findNonJson(value: unknown, root: string): string | undefined {
  return walk(value, '', root, [], []);
}

/**
 * Throws a {@link SerializationError} (code `VALIDATION`) when `value` is not JSON.
 * @example
 * requireJson(input, 'input', `The input of callActivity('charge')`);
 */
export function requireJson(value: unknown, root: string, what: string): void {
  const problem = findNonJson(value, root);
  if (problem !== undefined) {
    throw new SerializationError(`${what} cannot be serialised as JSON: ${problem}.`, { path: problem });
  }
}

/** `ancestors` (and their `paths`) are the objects that contain the current one: meeting one again is a cycle. */
function walk(value: unknown, key: string, path: string, ancestors: object[], paths: string[]): string | undefined {
  let v = value;
  try {
    if (isObjectLike(v) && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      v = (v as { toJSON: (key: string) => unknown }).toJSON(key);
    }
    switch (typeof v) {
      case 'bigint':
        return `${path} is a BigInt`;
      case 'symbol':
        return `${path} is a Symbol`;
      case 'function':
        return `${path} is a function`;
      case 'object':
        break;
      default:
        return undefined;
    }
    if (v === null) return undefined;
    const seenAt = ancestors.indexOf(v);
    if (seenAt >= 0) return `${path} is a cycle (it refers back to ${paths[seenAt]})`;
    ancestors.push(v);
    paths.push(path);
    try {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const found = walk(v[i], String(i), `${path}[${i}]`, ancestors, paths);
          if (found !== undefined) return found;
        }
      } else {
        for (const k of Object.keys(v)) {
          const at = childPath(path, k);
          let child: unknown;
          try {
            child = (v as Record<string, unknown>)[k];
          } catch (error) {
            return unreadable(at, error);
          }
          const found = walk(child, k, at, ancestors, paths);
          if (found !== undefined) return found;
        }
      }
    } finally {
      ancestors.pop();
      paths.pop();
    }
    return undefined;
  } catch (error) {
    // toJSON threw (or the value nests deeper than the stack): JSON.stringify would throw as well.
    return unreadable(path, error);
  }
}

function unreadable(path: string, error: unknown): string {
  return `${path} cannot be read (${error instanceof Error ? error.message : String(error)})`;
}

function isObjectLike(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function childPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
