/**
 * `durable/no-io-in-orchestrations`: timers, network and file access inside an orchestration. Its code runs again
 * on every replay, so I/O there is repeated and its result can differ from the first run; a timer there is lost
 * when the process stops. I/O belongs in activities (run once, retried, recorded); waits in durable timers.
 */
import type { Rule, Scope } from 'eslint';
import type { AstNode } from '../ast.js';
import { unwrap } from '../ast.js';
import type { Analysis } from '../orchestrations.js';
import { analyse, isGlobal, isModuleLevel } from '../orchestrations.js';

/** Node modules that do I/O (or read the machine), with or without the `node:` prefix. */
const IO_MODULE =
  /^(node:)?(fs|fs\/promises|net|http|https|http2|child_process|dns|dns\/promises|dgram|tls|worker_threads|cluster|readline|readline\/promises|os|inspector)$/;
const TIMER_MODULE = /^(node:)?timers(\/promises)?$/;

const TIMER_GLOBALS = new Set(['setTimeout', 'setInterval', 'setImmediate']);
const IO_GLOBALS = new Set(['fetch']);
const IO_CONSTRUCTORS = new Set(['WebSocket', 'XMLHttpRequest', 'EventSource']);

export const noIoInOrchestrations: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Disallow timers, network and file access in orchestrations (use activities and ctx.createTimer).',
      recommended: true,
    },
    schema: [],
    messages: {
      timer:
        '{{name}}() is not durable in an orchestration (it is lost with the process and not replayed): use await ctx.createTimer(ms).',
      fetch:
        '{{name}}() does I/O in an orchestration, which replays: move it to an activity and call it with ctx.callActivity(name, input).',
      ioImport:
        "'{{name}}' (from '{{module}}') does I/O in an orchestration, which replays: move it to an activity and call it with ctx.callActivity(name, input).",
      timerImport: "'{{name}}' (from '{{module}}') is not durable in an orchestration: use await ctx.createTimer(ms).",
      ioLoad:
        "Loading '{{module}}' in an orchestration: I/O belongs in an activity, called with ctx.callActivity(name, input).",
    },
  },
  create(context) {
    let analysis: Analysis | undefined;
    const sourceCode = context.sourceCode;
    const inOrchestration = (node: AstNode): boolean => analysis?.orchestrationOf(node) !== undefined;

    /** Every use, inside an orchestration, of a module-level binding that comes from an I/O module. */
    const reportModuleBindings = (): void => {
      const scopes = sourceCode.scopeManager.scopes.filter((s) => s.type === 'module' || s.type === 'global');
      for (const scope of scopes) {
        for (const variable of scope.variables) {
          if (!isModuleLevel(variable)) continue;
          const module = moduleOf(variable);
          if (module === undefined) continue;
          const timers = TIMER_MODULE.test(module);
          if (!timers && !IO_MODULE.test(module)) continue;
          for (const ref of variable.references) {
            // typescript-eslint marks uses in type positions (`fs.Stats`): they do nothing at run time.
            if ((ref as { isValueReference?: boolean }).isValueReference === false) continue;
            const id = ref.identifier as unknown as AstNode;
            if (ref.init || !inOrchestration(id)) continue;
            context.report({
              node: ref.identifier,
              messageId: timers ? 'timerImport' : 'ioImport',
              data: { name: variable.name, module },
            });
          }
        }
      }
    };

    return {
      Program() {
        analysis = analyse(context);
        if (analysis.any) reportModuleBindings();
      },
      CallExpression(n) {
        const node = n as unknown as AstNode;
        const callee = unwrap(node.callee);
        if (callee?.type !== 'Identifier' || !inOrchestration(node)) return;
        const name = callee.name ?? '';
        if (name === 'require') {
          const module = unwrap(node.arguments?.[0])?.value;
          if (typeof module === 'string' && (IO_MODULE.test(module) || TIMER_MODULE.test(module))) {
            context.report({ node: n, messageId: 'ioLoad', data: { module } });
          }
          return;
        }
        if (!isGlobal(sourceCode, callee)) return;
        if (TIMER_GLOBALS.has(name)) context.report({ node: n, messageId: 'timer', data: { name } });
        else if (IO_GLOBALS.has(name)) context.report({ node: n, messageId: 'fetch', data: { name } });
      },
      NewExpression(n) {
        const node = n as unknown as AstNode;
        const callee = unwrap(node.callee);
        if (callee?.type !== 'Identifier' || !IO_CONSTRUCTORS.has(callee.name ?? '')) return;
        if (inOrchestration(node) && isGlobal(sourceCode, callee)) {
          context.report({ node: n, messageId: 'fetch', data: { name: `new ${callee.name}` } });
        }
      },
      ImportExpression(n) {
        const node = n as unknown as AstNode;
        const module = unwrap(node.source)?.value;
        if (typeof module !== 'string' || !(IO_MODULE.test(module) || TIMER_MODULE.test(module))) return;
        if (inOrchestration(node)) context.report({ node: n, messageId: 'ioLoad', data: { module } });
      },
    };
  },
};

/** The module a module-level binding comes from: `import … from 'm'`, or `const x = require('m')`. */
function moduleOf(variable: Scope.Variable): string | undefined {
  const def = variable.defs[0];
  if (def?.type === 'ImportBinding') {
    const source = (def.parent as unknown as AstNode).source?.value;
    return typeof source === 'string' ? source : undefined;
  }
  if (def?.type === 'Variable') {
    const init = unwrap((def.node as unknown as AstNode).init);
    // `require('fs')` and `require('fs').promises`
    const call = init?.type === 'MemberExpression' ? unwrap(init.object) : init;
    if (call?.type === 'CallExpression' && unwrap(call.callee)?.name === 'require') {
      const source = unwrap(call.arguments?.[0])?.value;
      return typeof source === 'string' ? source : undefined;
    }
  }
  return undefined;
}
