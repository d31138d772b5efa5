/**
 * A loose view of ESTree nodes, shared by espree and typescript-eslint's parser: the rules read a handful of
 * fields and must accept TypeScript's wrapper nodes (`x as T`, `x!`, `x satisfies T`) without type information.
 */
import type { SourceCode } from 'eslint';

export interface AstNode {
  readonly type: string;
  parent?: AstNode;
  readonly name?: string;
  /** A Literal's value, or a Property's value node. */
  readonly value?: any;
  readonly computed?: boolean;
  readonly callee?: AstNode;
  readonly arguments?: AstNode[];
  readonly object?: AstNode;
  readonly property?: AstNode;
  readonly properties?: AstNode[];
  readonly key?: AstNode;
  readonly argument?: AstNode;
  readonly expression?: AstNode;
  readonly id?: AstNode;
  readonly init?: AstNode;
  readonly params?: AstNode[];
  readonly body?: AstNode | AstNode[];
  readonly left?: AstNode;
  readonly right?: AstNode;
  readonly operator?: string;
  readonly elements?: (AstNode | null)[];
  readonly consequent?: AstNode;
  readonly alternate?: AstNode;
  readonly source?: AstNode;
  readonly parameter?: AstNode;
  readonly specifiers?: AstNode[];
  readonly imported?: AstNode;
}

export type FunctionNode = AstNode;

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/** Wrappers that change nothing at run time. */
const TRANSPARENT = new Set([
  'TSAsExpression',
  'TSSatisfiesExpression',
  'TSNonNullExpression',
  'TSTypeAssertion',
  'TSInstantiationExpression',
  'ParenthesizedExpression',
  'ChainExpression',
]);

export function isFunction(node: AstNode | undefined): boolean {
  return node !== undefined && FUNCTION_TYPES.has(node.type);
}

/** `node` without the TypeScript and grouping wrappers around it. */
export function unwrap(node: AstNode | null | undefined): AstNode | undefined {
  let n = node ?? undefined;
  while (n && TRANSPARENT.has(n.type) && n.expression) n = n.expression;
  return n;
}

/** The name a non-computed member access reads (`a.b` → `b`, `a['b']` → `b`). */
export function memberName(node: AstNode | undefined): string | undefined {
  if (node?.type !== 'MemberExpression' || !node.property) return undefined;
  if (!node.computed && node.property.type === 'Identifier') return node.property.name;
  if (node.property.type === 'Literal' && typeof node.property.value === 'string') return node.property.value;
  return undefined;
}

/** True for `object.property` where `object` is a plain identifier named `object`. */
export function isMember(node: AstNode | undefined, object: string, property: string): boolean {
  const n = unwrap(node);
  return n?.type === 'MemberExpression' && unwrap(n.object)?.name === object && memberName(n) === property;
}

/** Every node of the tree, parents first. */
export function walk(root: AstNode, keys: SourceCode.VisitorKeys, visit: (node: AstNode) => void): void {
  const stack: AstNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as AstNode;
    visit(node);
    for (const key of keys[node.type] ?? []) {
      const child = (node as unknown as Record<string, unknown>)[key];
      if (Array.isArray(child)) {
        for (const c of child) if (isNode(c)) stack.push(c);
      } else if (isNode(child)) stack.push(child);
    }
  }
}

function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
