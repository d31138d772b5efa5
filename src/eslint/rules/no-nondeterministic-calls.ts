/**
 * `durable/no-nondeterministic-calls`: the wall clock and randomness read inside an orchestration. Replay runs the
 * code again later, and a value that differs sends it down another branch than the one its history recorded.
 */
import type { Rule } from 'eslint';
import type { AstNode } from '../ast.js';
import { memberName, unwrap } from '../ast.js';
import type { Analysis } from '../orchestrations.js';
import { analyse, findVariable, isGlobal } from '../orchestrations.js';

/** Globals whose members are not deterministic: object → member → message id. */
const GLOBAL_MEMBERS: Record<string, Record<string, string>> = {
  Date: { now: 'dateNow' },
  Math: { random: 'mathRandom' },
  performance: { now: 'performanceNow' },
  crypto: { randomUUID: 'randomUUID', getRandomValues: 'randomValues' },
};

/** What `node:crypto` exports that is random: imported name → message id. */
const CRYPTO_RANDOM: Record<string, string> = {
  randomUUID: 'randomUUID',
  randomBytes: 'randomValues',
  randomInt: 'randomValues',
  randomFillSync: 'randomValues',
  getRandomValues: 'randomValues',
};

export const noNondeterministicCalls: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'Disallow the wall clock and randomness in orchestrations (ctx.now(), ctx.random() and ctx.newGuid() replay).',
      recommended: true,
    },
    schema: [],
    messages: {
      dateNow: 'Date.now() is not deterministic in an orchestration: use ctx.now().getTime().',
      newDate:
        'new Date() is not deterministic in an orchestration: use ctx.now() (new Date(ms) with a value is fine).',
      dateCall: 'Date() is not deterministic in an orchestration: use ctx.now().toString().',
      mathRandom: 'Math.random() is not deterministic in an orchestration: use ctx.random().',
      performanceNow:
        'performance.now() is not deterministic in an orchestration: use ctx.now().getTime() (the time of the event being handled).',
      randomUUID: '{{name}}() is not deterministic in an orchestration: use ctx.newGuid().',
      randomValues: '{{name}}() is not deterministic in an orchestration: use ctx.random() or ctx.newGuid().',
    },
  },
  create(context) {
    let analysis: Analysis | undefined;
    const inOrchestration = (node: AstNode): boolean => analysis?.orchestrationOf(node) !== undefined;
    const sourceCode = context.sourceCode;
    return {
      Program() {
        analysis = analyse(context);
      },
      MemberExpression(n) {
        const node = n as unknown as AstNode;
        const object = unwrap(node.object);
        const property = memberName(node);
        if (object?.type !== 'Identifier' || property === undefined) return;
        const messageId = GLOBAL_MEMBERS[object.name ?? '']?.[property];
        if (!messageId || !inOrchestration(node) || !isGlobal(sourceCode, object)) return;
        context.report({ node: n, messageId, data: { name: `${object.name}.${property}` } });
      },
      NewExpression(n) {
        const node = n as unknown as AstNode;
        const callee = unwrap(node.callee);
        if (callee?.name !== 'Date' || (node.arguments?.length ?? 0) > 0) return;
        if (inOrchestration(node) && isGlobal(sourceCode, callee)) context.report({ node: n, messageId: 'newDate' });
      },
      CallExpression(n) {
        const node = n as unknown as AstNode;
        const callee = unwrap(node.callee);
        if (callee?.type !== 'Identifier' || !inOrchestration(node)) return;
        if (callee.name === 'Date' && isGlobal(sourceCode, callee)) {
          context.report({ node: n, messageId: 'dateCall' });
          return;
        }
        const imported = importedFrom(sourceCode, callee);
        if (imported && /^(node:)?crypto$/.test(imported.module)) {
          const messageId = CRYPTO_RANDOM[imported.name];
          if (messageId) context.report({ node: n, messageId, data: { name: callee.name ?? imported.name } });
        }
      },
    };
  },
};

/** The module and exported name an identifier was imported as (`import { x as y } from 'm'`), if it was. */
export function importedFrom(
  sourceCode: Rule.RuleContext['sourceCode'],
  id: AstNode,
): { module: string; name: string } | undefined {
  const variable = findVariable(sourceCode, id, id.name ?? '');
  const def = variable?.defs[0];
  if (def?.type !== 'ImportBinding') return undefined;
  const specifier = def.node as unknown as AstNode;
  const declaration = def.parent as unknown as AstNode;
  const module = declaration.source?.value;
  if (typeof module !== 'string') return undefined;
  const imported = specifier.imported;
  const name =
    specifier.type === 'ImportSpecifier'
      ? ((imported?.type === 'Identifier' ? imported.name : (imported?.value as string | undefined)) ?? '')
      : '*';
  return { module, name };
}
