/**
 * Label and field selectors as the API server parses them.
 * Labels: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-separated (AND).
 * Fields: `metadata.name`, `metadata.namespace` with `=`, `==`, `!=` (the fields every resource supports);
 * any other field is rejected with 400, as the real server does for fields a resource does not index.
 */
import { badRequest } from './status.js';
import type { KubeObject } from './store.js';

type Predicate = (object: KubeObject) => boolean;

/** Splits on commas outside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export function labelSelector(selector: string | null): Predicate {
  if (!selector) return () => true;
  const predicates = terms(selector).map((term): Predicate => {
    const labels = (o: KubeObject): Record<string, string> => o.metadata.labels ?? {};
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const [, key, op, list] = m;
      const values = list!.split(',').map((v) => v.trim());
      return op === 'in'
        ? (o) => values.includes(labels(o)[key!] ?? '\0')
        : (o) => !values.includes(labels(o)[key!] ?? '\0');
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) {
      const [, key, op, value] = m;
      return op === '!=' ? (o) => labels(o)[key!] !== value : (o) => labels(o)[key!] === value;
    }
    m = /^(!?)([\w./-]+)$/.exec(term);
    if (m) {
      const [, not, key] = m;
      return not ? (o) => !(key! in labels(o)) : (o) => key! in labels(o);
    }
    throw badRequest(`unable to parse requirement: invalid label selector "${term}"`);
  });
  return (o) => predicates.every((p) => p(o));
}

export function fieldSelector(selector: string | null): Predicate {
  if (!selector) return () => true;
  const predicates = terms(selector).map((term): Predicate => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid field selector: "${term}"`);
    const [, field, op, value] = m;
    const read =
      field === 'metadata.name'
        ? (o: KubeObject) => o.metadata.name
        : field === 'metadata.namespace'
          ? (o: KubeObject) => o.metadata.namespace ?? ''
          : undefined;
    if (!read) throw badRequest(`field label not supported: ${field}`);
    return op === '!=' ? (o) => read(o) !== value : (o) => read(o) === value;
  });
  return (o) => predicates.every((p) => p(o));
}
