/**
 * Which functions of a file are orchestrations, found without type information (plain espree or
 * typescript-eslint's parser): the functions under the `orchestrations` property of the object given to
 * `defineApp(...)`, written inline or named there and declared in the same file. Every rule of the plugin asks
 * this module whether a node is inside one of them (nested closures included); code anywhere else is never
 * flagged, so activities and entities may read the clock.
 *
 * The analysis is made once per file and shared by the rules (keyed on the AST).
 */
import type { Rule, Scope, SourceCode } from 'eslint';
import type { AstNode, FunctionNode } from './ast.js';
import { isFunction, unwrap, walk } from './ast.js';

/** One orchestration function and its context parameter. */
export interface Orchestration {
  readonly fn: FunctionNode;
  /** The variables bound by the first parameter (`ctx`, or the names destructured from it). */
  readonly ctx: ReadonlySet<Scope.Variable>;
  /** The first parameter's name, when it is a plain identifier. */
  readonly ctxName: string | undefined;
}

export interface Analysis {
  readonly sourceCode: SourceCode;
  /** The innermost orchestration `node` is in, or undefined when it is in none. */
  orchestrationOf(node: AstNode): Orchestration | undefined;
  /** True when the file defines at least one orchestration (the rules skip every other file at once). */
  readonly any: boolean;
}

const cache = new WeakMap<object, Analysis>();

/** The orchestrations of the file `context` lints. */
export function analyse(context: Rule.RuleContext): Analysis {
  const sourceCode = context.sourceCode;
  const cached = cache.get(sourceCode.ast);
  if (cached) return cached;
  const byFunction = new Map<AstNode, Orchestration>();
  walk(sourceCode.ast as unknown as AstNode, sourceCode.visitorKeys, (node) => {
    if (node.type !== 'CallExpression' || !isDefineApp(node.callee)) return;
    const arg = resolveObject(sourceCode, node.arguments?.[0]);
    const orchestrations = arg && property(arg, 'orchestrations');
    const object = resolveObject(sourceCode, orchestrations);
    if (object) collect(sourceCode, object, byFunction, 0);
  });
  const analysis: Analysis = {
    sourceCode,
    any: byFunction.size > 0,
    orchestrationOf(node) {
      if (byFunction.size === 0) return undefined;
      for (let n: AstNode | undefined = node; n; n = n.parent) {
        const found = byFunction.get(n);
        if (found) return found;
      }
      return undefined;
    },
  };
  cache.set(sourceCode.ast, analysis);
  return analysis;
}

/** The variable `name` names where `node` is (innermost scope outward), or undefined for an undeclared global. */
export function findVariable(sourceCode: SourceCode, node: AstNode, name: string): Scope.Variable | undefined {
  for (let scope: Scope.Scope | null = sourceCode.getScope(node as never); scope; scope = scope.upper) {
    const variable = scope.set.get(name);
    if (variable) return variable;
  }
  return undefined;
}

/** True when `id` names the global of that name (not a local, a parameter or an import that shadows it). */
export function isGlobal(sourceCode: SourceCode, id: AstNode): boolean {
  if (id.type !== 'Identifier' || id.name === undefined) return false;
  const variable = findVariable(sourceCode, id, id.name);
  return variable === undefined || (variable.scope.type === 'global' && variable.defs.length === 0);
}

/** True when `variable` is declared at the top of the module (or script), outside every function. */
export function isModuleLevel(variable: Scope.Variable): boolean {
  return variable.scope.type === 'module' || variable.scope.type === 'global';
}

function isDefineApp(callee: AstNode | undefined): boolean {
  const c = unwrap(callee);
  if (!c) return false;
  if (c.type === 'Identifier') return c.name === 'defineApp';
  return c.type === 'MemberExpression' && !c.computed && c.property?.name === 'defineApp';
}

/** The value of a non-computed property `name` of an object literal. */
function property(object: AstNode, name: string): AstNode | undefined {
  for (const p of object.properties ?? []) {
    if (p.type !== 'Property' || p.computed) continue;
    const key = p.key;
    if ((key?.type === 'Identifier' && key.name === name) || (key?.type === 'Literal' && key.value === name)) {
      return p.value;
    }
  }
  return undefined;
}

/** What an identifier declared in this file holds: a function declaration, or the initialiser of its variable. */
function declaredValue(sourceCode: SourceCode, id: AstNode): AstNode | undefined {
  if (id.type !== 'Identifier' || id.name === undefined) return undefined;
  const variable = findVariable(sourceCode, id, id.name);
  const def = variable?.defs[0];
  if (!def) return undefined;
  const node = def.node as unknown as AstNode;
  if (def.type === 'FunctionName') return node;
  if (def.type === 'Variable' && node.id?.type === 'Identifier') return unwrap(node.init);
  return undefined;
}

function resolveObject(sourceCode: SourceCode, node: AstNode | undefined): AstNode | undefined {
  const value = unwrap(node);
  if (value?.type === 'ObjectExpression') return value;
  if (value?.type === 'Identifier') {
    const declared = declaredValue(sourceCode, value);
    return declared?.type === 'ObjectExpression' ? declared : undefined;
  }
  return undefined;
}

function collect(sourceCode: SourceCode, object: AstNode, into: Map<AstNode, Orchestration>, depth: number): void {
  if (depth > 8) return;
  for (const p of object.properties ?? []) {
    if (p.type === 'SpreadElement') {
      const spread = resolveObject(sourceCode, p.argument);
      if (spread) collect(sourceCode, spread, into, depth + 1);
      continue;
    }
    let value = unwrap(p.value);
    if (value?.type === 'Identifier') value = declaredValue(sourceCode, value);
    if (value && isFunction(value) && !into.has(value)) into.set(value, orchestration(sourceCode, value));
  }
}

function orchestration(sourceCode: SourceCode, fn: FunctionNode): Orchestration {
  // TypeScript's `this` parameter is not a parameter at run time.
  const params = (fn.params ?? []).filter((p) => !(p.type === 'Identifier' && p.name === 'this'));
  let first = params[0];
  if (first?.type === 'AssignmentPattern') first = first.left;
  if (first?.type === 'TSParameterProperty') first = first.parameter;
  const ctx = new Set<Scope.Variable>();
  if (first) {
    for (const variable of sourceCode.getDeclaredVariables(fn as never)) {
      if (variable.defs.some((d) => d.type === 'Parameter' && within(d.name, first))) {
        ctx.add(variable);
      }
    }
  }
  return { fn, ctx, ctxName: first?.type === 'Identifier' ? first.name : undefined };
}

/** True when `node` is `ancestor` or inside it. */
export function within(node: AstNode | undefined, ancestor: AstNode): boolean {
  for (let n = node; n; n = n.parent) if (n === ancestor) return true;
  return false;
}
