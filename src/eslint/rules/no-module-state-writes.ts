/**
 * `durable/no-module-state-writes`: an orchestration that writes module-level state. The module is shared by every
 * instance the process runs and outlives none of them: a replay (after a restart, or on another worker) starts from
 * other values, and two instances see each other's writes.
 */
import type { Rule, Scope } from 'eslint';
import type { AstNode } from '../ast.js';
import { memberName, unwrap } from '../ast.js';
import type { Analysis } from '../orchestrations.js';
import { analyse, isModuleLevel } from '../orchestrations.js';

/** Methods that change the array, map, set or object they are called on. */
const MUTATORS = new Set([
  'push',
  'pop',
  'shift',
  'unshift',
  'splice',
  'sort',
  'reverse',
  'fill',
  'copyWithin',
  'set',
  'add',
  'delete',
  'clear',
]);

export const noModuleStateWrites: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Disallow writing module-level variables and objects from orchestrations.',
      recommended: true,
    },
    schema: [],
    messages: {
      write:
        "'{{name}}' is module-level state: an orchestration that writes it sees other values on replay and shares them between instances. Keep state in local variables, carry it in the input (ctx.continueAsNew), or hold it in an entity (ctx.callEntity, ctx.signalEntity).",
    },
  },
  create(context) {
    let analysis: Analysis | undefined;
    const sourceCode = context.sourceCode;

    const check = (variable: Scope.Variable): void => {
      for (const ref of variable.references) {
        const id = ref.identifier as unknown as AstNode;
        if (ref.init || !analysis?.orchestrationOf(id)) continue;
        if (ref.isWrite() || writesThrough(id)) {
          context.report({ node: ref.identifier, messageId: 'write', data: { name: variable.name } });
        }
      }
    };

    return {
      Program() {
        analysis = analyse(context);
        if (!analysis.any) return;
        for (const scope of sourceCode.scopeManager.scopes) {
          if (scope.type !== 'module' && scope.type !== 'global') continue;
          for (const variable of scope.variables) {
            // Variables declared here (`let`, `var`, `const` objects), not imports, functions or classes.
            if (isModuleLevel(variable) && variable.defs.some((d) => d.type === 'Variable')) check(variable);
          }
        }
      },
    };
  },
};

/**
 * True when `id` is the root of a member chain that is written: `id.a = 1`, `id.a.b++`, `delete id.a`,
 * `id.list.push(x)`, `Object.assign(id, …)`.
 */
function writesThrough(id: AstNode): boolean {
  let top: AstNode = id;
  let parent = top.parent;
  while (parent && isWrapper(parent, top)) {
    top = parent;
    parent = top.parent;
  }
  if (parent?.type === 'CallExpression' && parent.arguments?.[0] === top) return isObjectAssign(parent.callee);
  if (top === id || !parent) return false;
  if (parent.type === 'AssignmentExpression' && parent.left === top) return true;
  if (parent.type === 'UpdateExpression') return true;
  if (parent.type === 'UnaryExpression' && parent.operator === 'delete') return true;
  if (parent.type === 'CallExpression' && parent.callee === top) {
    const method = memberName(top);
    return method !== undefined && MUTATORS.has(method) && top.type === 'MemberExpression';
  }
  return false;
}

function isObjectAssign(callee: AstNode | undefined): boolean {
  const c = unwrap(callee);
  return c?.type === 'MemberExpression' && unwrap(c.object)?.name === 'Object' && memberName(c) === 'assign';
}

/** True when `node` extends the member chain `inner` (`inner.x`, `inner[i]`, `inner!`, `inner as T`). */
function isWrapper(node: AstNode, inner: AstNode): boolean {
  if (node.type === 'MemberExpression') return node.object === inner;
  return (
    ['TSNonNullExpression', 'TSAsExpression', 'TSSatisfiesExpression', 'ChainExpression'].includes(node.type) &&
    node.expression === inner
  );
}
