/**
 * The API's JSON body parser. Stricter than `JSON.parse`: it refuses documents nested deeper than a limit (deep
 * values blow the stack of every recursive consumer further down: `JSON.stringify`, the stores, the dashboard) and
 * keys that pollute prototypes when a consumer merges the value into an object (`__proto__`, and `constructor`
 * holding a `prototype`), and numbers too large to represent. The walk is iterative, so a hostile document cannot exhaust the stack here either.
 */
import { ValidationError } from '../engine/errors.js';

/** Default nesting limit: far more than any sensible input, far less than a stack. */
export const MAX_JSON_DEPTH = 64;

/**
 * Parses a request body, or throws a `VALIDATION` error saying what is wrong with it.
 * @example
 * parseJsonBody('{"input": [1, 2]}'); // { input: [1, 2] }
 * parseJsonBody('{"__proto__": {}}'); // throws ValidationError
 */
export function parseJsonBody(text: string, maxDepth: number = MAX_JSON_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`The body is not valid JSON: ${(error as Error).message}`);
  }
  checkJsonValue(value, maxDepth);
  return value;
}

/**
 * Throws a `VALIDATION` error if `value` nests deeper than `maxDepth`, carries a prototype-polluting key or holds a
 * number that is not finite.
 * @example
 * checkJsonValue({ a: { b: 1 } }, 1); // throws: nested deeper than 1
 */
export function checkJsonValue(value: unknown, maxDepth: number = MAX_JSON_DEPTH): void {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item.value === 'number' && !Number.isFinite(item.value)) {
      // `JSON.parse('1e400')` is Infinity, which no store can keep: it would silently become null.
      throw new ValidationError('The body holds a number too large to represent.');
    }
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > maxDepth) {
      throw new ValidationError(`The body nests deeper than ${maxDepth} levels.`, { maxDepth });
    }
    if (Array.isArray(item.value)) {
      for (const element of item.value as unknown[]) stack.push({ value: element, depth });
      continue;
    }
    for (const [key, child] of Object.entries(item.value)) {
      if (key === '__proto__' || (key === 'constructor' && isObjectWith(child, 'prototype'))) {
        throw new ValidationError(`The body contains the forbidden key '${key}'.`, { key });
      }
      stack.push({ value: child, depth });
    }
  }
}

function isObjectWith(value: unknown, key: string): boolean {
  return typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, key);
}
