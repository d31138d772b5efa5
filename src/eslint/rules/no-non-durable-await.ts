/**
 * `durable/no-non-durable-await`: an orchestration that awaits a promise which is not a durable task. Only the
 * tasks the context hands out (`ctx.callActivity`, `ctx.createTimer`, `ctx.waitForEvent`, `ctx.callSubOrchestration`,
 * `ctx.callEntity`, `ctx.entity(…).op()`, `ctx.lock`) are recorded in the history and settle the same way on replay;
 * any other promise settles whenever the outside world says, or never after a restart.
 *
 * Without type information the rule classifies the awaited expression by its shape, and reports only what is
 * clearly not durable: a call that does not go through the context (`fetch(…)`, `someAsyncFn()`, `db.query()`),
 * `new Promise(…)`, or a variable assigned only such values. It allows calls rooted at the context (`ctx.x(…)`,
 * `ctx.entity(…).get()`, `task.then(…)`), variables assigned from them, `Promise.all/race/any/allSettled` of those
 * (durable tasks combine with the native combinators), helpers the orchestration passes `ctx` to, and functions
 * declared inside the orchestration (their own awaits are checked). Anything it cannot tell is allowed.
 */
import type { Rule, Scope } from 'eslint';
import type { AstNode } from '../ast.js';
import { isFunction, memberName, unwrap, walk } from '../ast.js';
import type { Orchestration } from '../orchestrations.js';
import { analyse, findVariable, within } from '../orchestrations.js';

type Kind = 'durable' | 'other' | 'unknown';

const COMBINATORS = new Set(['all', 'race', 'any', 'allSettled']);
/** Task methods that return a task derived from the one they are called on. */
const DERIVED = new Set(['then', 'catch', 'finally']);
/** Array methods whose result holds the same elements. */
const SAME_ELEMENTS = new Set(['filter', 'slice', 'concat', 'reverse', 'toReversed', 'sort', 'toSorted']);

export const noNonDurableAwait: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Disallow awaiting promises that are not durable tasks in orchestrations.',
      recommended: true,
    },
    schema: [],
    messages: {
      await:
        'Awaiting {{what}} in an orchestration: it is not a durable task, so it is not in the history and does not replay. Do the work in an activity (await ctx.callActivity(name, input)), wait with ctx.createTimer(ms), or wait for an outside signal with ctx.waitForEvent(name).',
    },
  },
  create(context) {
    const sourceCode = context.sourceCode;
    let orchestrationOf: (node: AstNode) => Orchestration | undefined = () => undefined;

    const describe = (node: AstNode): string => {
      const text = sourceCode.getText(node as never).replace(/\s+/g, ' ');
      const short = text.length > 40 ? `${text.slice(0, 37)}…` : text;
      return `\`${short}\``;
    };

    return {
      Program() {
        const analysis = analyse(context);
        orchestrationOf = (node) => analysis.orchestrationOf(node);
      },
      AwaitExpression(n) {
        const node = n as unknown as AstNode;
        const orchestration = orchestrationOf(node);
        if (!orchestration || !node.argument) return;
        const classifier = new Classifier(sourceCode, orchestration);
        if (classifier.kind(node.argument) === 'other') {
          context.report({ node: n, messageId: 'await', data: { what: describe(unwrap(node.argument) ?? node) } });
        }
      },
    };
  },
};

class Classifier {
  /** Variables being classified: a cycle (`a = b; b = a`) classifies as unknown. */
  private readonly seen = new Set<Scope.Variable>();

  constructor(
    private readonly sourceCode: Rule.RuleContext['sourceCode'],
    private readonly orchestration: Orchestration,
  ) {}

  kind(expression: AstNode | null | undefined): Kind {
    const node = unwrap(expression);
    if (!node) return 'unknown';
    switch (node.type) {
      case 'Identifier':
        return this.identifier(node);
      case 'CallExpression':
        return this.call(node);
      case 'NewExpression':
        // `new Promise(…)` and any other constructed thenable: nothing the history records.
        return 'other';
      case 'ArrayExpression':
        return combine((node.elements ?? []).map((e) => this.kind(e?.type === 'SpreadElement' ? e.argument : e)));
      case 'ConditionalExpression':
        return combine([this.kind(node.consequent), this.kind(node.alternate)]);
      case 'LogicalExpression':
        return combine([this.kind(node.left), this.kind(node.right)]);
      default:
        return 'unknown';
    }
  }

  private identifier(id: AstNode): Kind {
    const variable = findVariable(this.sourceCode, id, id.name ?? '');
    if (!variable) return 'unknown';
    if (this.orchestration.ctx.has(variable)) return 'durable';
    const def = variable.defs[0];
    if (def?.type !== 'Variable' || this.seen.has(variable)) return 'unknown';
    this.seen.add(variable);
    const kinds: Kind[] = [];
    for (const ref of variable.references) {
      const refId = ref.identifier as unknown as AstNode;
      if (ref.isWrite()) {
        // `for (const t of tasks)` binds each element: not something this rule follows.
        const loop = refId.parent?.parent;
        if (loop?.type === 'ForOfStatement' || loop?.type === 'ForInStatement') kinds.push('unknown');
        else kinds.push(ref.writeExpr ? this.kind(ref.writeExpr as unknown as AstNode) : 'unknown');
      }
      // `tasks.push(ctx.callActivity(…))`: what the array is filled with.
      const member = refId.parent;
      if (
        member?.type === 'MemberExpression' &&
        member.object === refId &&
        ['push', 'unshift'].includes(memberName(member) ?? '')
      ) {
        const call = member.parent;
        if (call?.type === 'CallExpression' && call.callee === member)
          kinds.push(...(call.arguments ?? []).map((a) => this.kind(a)));
      }
    }
    this.seen.delete(variable);
    return combine(kinds);
  }

  private call(call: AstNode): Kind {
    // A helper given the context (`await step(ctx, x)`) makes durable calls through it.
    if ((call.arguments ?? []).some((a) => this.isContext(unwrap(a)))) return 'durable';
    const callee = unwrap(call.callee);
    if (callee?.type === 'MemberExpression') {
      const method = memberName(callee) ?? '';
      const object = unwrap(callee.object);
      if (object?.type === 'Identifier' && object.name === 'Promise' && this.isGlobalName(object)) {
        return COMBINATORS.has(method) ? this.elements(call.arguments?.[0]) : 'unknown';
      }
      if (DERIVED.has(method) || SAME_ELEMENTS.has(method)) return this.kind(object);
      if (method === 'map' || method === 'flatMap') {
        const fn = unwrap(call.arguments?.[0]);
        if (fn && isFunction(fn)) return this.returned(fn);
      }
    }
    const root = rootOf(callee);
    if (!root) return 'unknown';
    if (root.type !== 'Identifier') return 'unknown'; // `this.x()`, `(await y)()`…
    const variable = findVariable(this.sourceCode, root, root.name ?? '');
    if (!variable) return 'other'; // a global: `fetch(…)`, `someGlobalFn()`
    if (this.orchestration.ctx.has(variable)) return 'durable';
    const def = variable.defs[0];
    if (!def) return 'other'; // a configured global
    if (def.type === 'Parameter' || def.type === 'ClassName' || def.type === 'CatchClause') return 'unknown';
    const declaredInside = within(variable.scope.block as unknown as AstNode, this.orchestration.fn);
    if (declaredInside) {
      // A function of the orchestration's own (its awaits are checked where they are), or a value it holds.
      if (def.type === 'FunctionName') return 'unknown';
      const init = unwrap((def.node as unknown as AstNode).init);
      if (isFunction(init)) return 'unknown';
      return root === callee ? 'unknown' : this.identifier(root);
    }
    // Module-level code and imports: an async function, a client, a service.
    return 'other';
  }

  /** The argument of `Promise.all(…)` and friends: an array literal, a mapped array, or a variable. */
  private elements(argument: AstNode | undefined): Kind {
    return this.kind(argument);
  }

  /** What a callback returns: its expression body, or every `return` of its block (nested functions excluded). */
  private returned(fn: AstNode): Kind {
    const body = fn.body;
    if (!body || Array.isArray(body)) return 'unknown';
    if (body.type !== 'BlockStatement') return this.kind(body);
    const kinds: Kind[] = [];
    walk(body, this.sourceCode.visitorKeys, (node) => {
      if (node.type === 'ReturnStatement' && enclosingFunction(node) === fn) kinds.push(this.kind(node.argument));
    });
    return combine(kinds);
  }

  private isContext(node: AstNode | undefined): boolean {
    if (node?.type !== 'Identifier') return false;
    const variable = findVariable(this.sourceCode, node, node.name ?? '');
    return variable !== undefined && this.orchestration.ctx.has(variable);
  }

  private isGlobalName(id: AstNode): boolean {
    const variable = findVariable(this.sourceCode, id, id.name ?? '');
    return variable === undefined || variable.defs.length === 0;
  }
}

/** `a` in `a.b.c(…)`, `a(…).b`, `a!.b`. */
function rootOf(node: AstNode | undefined): AstNode | undefined {
  let n = unwrap(node);
  while (n && (n.type === 'MemberExpression' || n.type === 'CallExpression')) {
    n = unwrap(n.type === 'MemberExpression' ? n.object : n.callee);
  }
  return n;
}

function enclosingFunction(node: AstNode): AstNode | undefined {
  for (let n = node.parent; n; n = n.parent) if (isFunction(n)) return n;
  return undefined;
}

/** Clearly not durable if any part is not; durable if every part is; otherwise unknown. */
function combine(kinds: Kind[]): Kind {
  if (kinds.includes('other')) return 'other';
  if (kinds.length > 0 && kinds.every((k) => k === 'durable')) return 'durable';
  return kinds.length === 0 ? 'durable' : 'unknown';
}
