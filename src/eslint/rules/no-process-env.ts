/**
 * `durable/no-process-env`: the environment read inside an orchestration. A replay may run on another worker, or
 * after a redeploy, with other variables: the code would take another branch than its history recorded.
 */
import type { Rule } from 'eslint';
import type { AstNode } from '../ast.js';
import { memberName, unwrap } from '../ast.js';
import type { Analysis } from '../orchestrations.js';
import { analyse, isGlobal } from '../orchestrations.js';
import { importedFrom } from './no-nondeterministic-calls.js';

const PROCESS_MODULE = /^(node:)?process$/;

export const noProcessEnv: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Disallow process.env in orchestrations (pass the value in the input, or read it in an activity).',
      recommended: true,
    },
    schema: [],
    messages: {
      processEnv:
        "process.env in an orchestration can differ when it replays: pass the value in the orchestration's input, or read it in an activity (ctx.callActivity).",
    },
  },
  create(context) {
    let analysis: Analysis | undefined;
    const sourceCode = context.sourceCode;
    /** `process` the global, or imported from `node:process`. */
    const isProcess = (id: AstNode): boolean => {
      if (isGlobal(sourceCode, id)) return true;
      const imported = importedFrom(sourceCode, id);
      return imported !== undefined && PROCESS_MODULE.test(imported.module) && ['*', 'default'].includes(imported.name);
    };
    return {
      Program() {
        analysis = analyse(context);
      },
      MemberExpression(n) {
        const node = n as unknown as AstNode;
        const object = unwrap(node.object);
        if (object?.type !== 'Identifier' || object.name !== 'process' || memberName(node) !== 'env') return;
        if (analysis?.orchestrationOf(node) && isProcess(object)) context.report({ node: n, messageId: 'processEnv' });
      },
      Identifier(n) {
        // `import { env } from 'node:process'`, used inside an orchestration.
        const node = n as unknown as AstNode;
        if (!analysis?.any || node.parent?.type === 'ImportSpecifier' || !analysis.orchestrationOf(node)) return;
        const parent = node.parent;
        if (parent?.type === 'MemberExpression' && parent.property === node && !parent.computed) return;
        if (parent?.type === 'Property' && parent.key === node && !parent.computed && parent.value !== node) return;
        const imported = importedFrom(sourceCode, node);
        if (imported && PROCESS_MODULE.test(imported.module) && imported.name === 'env') {
          context.report({ node: n, messageId: 'processEnv' });
        }
      },
    };
  },
};
