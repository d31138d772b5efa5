import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import durable from '../../src/eslint/index.js';

// Every case runs twice: with ESLint's default parser (a JavaScript app) and with typescript-eslint's (a TypeScript
// app), neither with type information.
const testers = {
  espree: new RuleTester({ languageOptions: { ecmaVersion: 'latest', sourceType: 'module' } }),
  typescript: new RuleTester({ languageOptions: { parser: tseslint.parser, sourceType: 'module' } }),
};

type Cases = Parameters<RuleTester['run']>[2];

function run(name: keyof typeof durable.rules, cases: Cases): void {
  for (const [parser, tester] of Object.entries(testers)) {
    describe(`durable/${name} (${parser})`, () => tester.run(name, durable.rules[name], cases));
  }
}

/** An app whose orchestration `order` has `body` (and `ctx`, `input` parameters); `before` goes at the top. */
const app = (body: string, before = ''): string =>
  `${before}\nexport default defineApp({\n  orchestrations: {\n    async order(ctx, input) {\n${body}\n    },\n  },\n});\n`;

run('no-nondeterministic-calls', {
  valid: [
    // Activities, entities and code outside defineApp read the clock freely.
    'export default defineApp({ activities: { async stamp() { return Date.now() + Math.random(); } } });',
    'const stamp = () => new Date(); export default defineApp({ activities: { stamp } });',
    'function helper() { return Date.now(); }',
    // A Date built from a value is deterministic.
    app('const due = new Date(input.at); return ctx.now().getTime() + due.getTime();'),
    app('return [ctx.random(), ctx.newGuid(), ctx.now()];'),
    // A local that shadows the global is not the clock.
    app('const Date = { now: () => 1 }; return Date.now();'),
    app('const Math = { random: () => 4 }; return Math.random();'),
  ],
  invalid: [
    { code: app('return Date.now();'), errors: [{ messageId: 'dateNow' }] },
    { code: app('return new Date();'), errors: [{ messageId: 'newDate' }] },
    { code: app('return Date();'), errors: [{ messageId: 'dateCall' }] },
    { code: app('return Math.random();'), errors: [{ messageId: 'mathRandom' }] },
    { code: app('return crypto.randomUUID();'), errors: [{ messageId: 'randomUUID' }] },
    { code: app('return performance.now();'), errors: [{ messageId: 'performanceNow' }] },
    {
      code: app('return randomUUID();', "import { randomUUID } from 'node:crypto';"),
      errors: [{ messageId: 'randomUUID' }],
    },
    // Nested closures are part of the orchestration.
    {
      code: app('return input.map((x) => x + Math.random());'),
      errors: [{ messageId: 'mathRandom', line: 5 }],
    },
    // A named orchestration declared elsewhere in the file, as a function or as a const.
    {
      code: 'async function order(ctx) { return Date.now(); }\nexport default defineApp({ orchestrations: { order } });',
      errors: [{ messageId: 'dateNow', line: 1 }],
    },
    {
      code:
        'export default defineApp({ orchestrations: { order: orderFn } });\n' +
        'const orderFn = async (ctx) => { const at = new Date(); return at; };',
      errors: [{ messageId: 'newDate', line: 2 }],
    },
    // The orchestrations object named separately, and the app object itself.
    {
      code:
        'const orchestrations = { async a(ctx) { return Math.random(); } };\n' +
        'const spec = { orchestrations };\nexport default defineApp(spec);',
      errors: [{ messageId: 'mathRandom' }],
    },
    {
      code: "import * as durable from 'durable';\nexport default durable.defineApp({ orchestrations: { a: async () => Date.now() } });",
      errors: [{ messageId: 'dateNow' }],
    },
  ],
});

run('no-io-in-orchestrations', {
  valid: [
    // I/O in an activity is what activities are for.
    "import { readFile } from 'node:fs/promises';\nexport default defineApp({ activities: { read: (p) => readFile(p) } });",
    'export default defineApp({ activities: { async get(url) { return (await fetch(url)).json(); } } });',
    app('return ctx.createTimer(1000);'),
    // Modules without I/O are fine, and so is a local named like a global.
    app('return createHash("sha256").update(input).digest("hex");', "import { createHash } from 'node:crypto';"),
    app('const fetch = (x) => x; return fetch(1);'),
  ],
  invalid: [
    { code: app('setTimeout(() => {}, 10);'), errors: [{ messageId: 'timer' }] },
    { code: app('setInterval(() => {}, 10);'), errors: [{ messageId: 'timer' }] },
    { code: app('setImmediate(() => {});'), errors: [{ messageId: 'timer' }] },
    { code: app("return fetch('https://example.com');"), errors: [{ messageId: 'fetch' }] },
    {
      code: app("return readFileSync('/etc/hosts', 'utf8');", "import { readFileSync } from 'node:fs';"),
      errors: [{ messageId: 'ioImport', data: { name: 'readFileSync', module: 'node:fs' } }],
    },
    {
      code: app("return fs.readFileSync('x');", "import fs from 'fs';"),
      errors: [{ messageId: 'ioImport' }],
    },
    {
      code: app("net.connect(80, 'example.com');", "import * as net from 'node:net';"),
      errors: [{ messageId: 'ioImport' }],
    },
    {
      code: app("http.get('http://example.com');", "import http from 'node:http';"),
      errors: [{ messageId: 'ioImport' }],
    },
    {
      code: app("return execSync('ls');", "import { execSync } from 'node:child_process';"),
      errors: [{ messageId: 'ioImport' }],
    },
    {
      code: app("return lookup('example.com');", "import { lookup } from 'node:dns/promises';"),
      errors: [{ messageId: 'ioImport' }],
    },
    {
      code: app('await sleep(10);', "import { setTimeout as sleep } from 'node:timers/promises';"),
      errors: [{ messageId: 'timerImport' }],
    },
    { code: app("const fs = await import('node:fs');"), errors: [{ messageId: 'ioLoad' }] },
  ],
});

run('no-process-env', {
  valid: [
    'export default defineApp({ activities: { key: () => process.env.API_KEY } });',
    'const region = process.env.REGION;\n' + app('return ctx.callActivity("a", input);'),
    app('return input.env;'),
  ],
  invalid: [
    { code: app('return process.env.API_KEY;'), errors: [{ messageId: 'processEnv' }] },
    { code: app("return process.env['API_KEY'];"), errors: [{ messageId: 'processEnv' }] },
    {
      code: app('return process.env.A;', "import process from 'node:process';"),
      errors: [{ messageId: 'processEnv' }],
    },
    { code: app('return env.A;', "import { env } from 'node:process';"), errors: [{ messageId: 'processEnv' }] },
  ],
});

run('no-non-durable-await', {
  valid: [
    // Awaiting anything outside an orchestration.
    'export default defineApp({ activities: { async get(url) { return await fetch(url); } } });',
    app("await ctx.callActivity('a', input);"),
    app("await ctx.createTimer(1000);\nawait ctx.waitForEvent('approved', { timeout: 60000 });"),
    app("await ctx.callSubOrchestration('child', input);\nawait ctx.callEntity('counter@a', 'get');"),
    app("const section = await ctx.lock('account@a', 'account@b');\nsection.release();"),
    // The typed proxy and variables holding context tasks.
    app("return await ctx.entity('counter', 'k').get();"),
    app("const account = ctx.entity('account', input);\nreturn await account.balance();"),
    app("const t = ctx.callActivity('a', 1);\nconst u = ctx.createTimer(5);\nreturn await Promise.race([t, u]);"),
    // Combinators over context tasks, written inline, mapped or collected.
    app("return await Promise.all(input.map((x) => ctx.callActivity('a', x)));"),
    app("return await Promise.all(input.map((x) => { return ctx.callActivity('a', x); }));"),
    app(
      "const tasks = [];\nfor (const x of input) tasks.push(ctx.callActivity('a', x));\nreturn await Promise.all(tasks);",
    ),
    app("return await Promise.any([ctx.createTimer(5).then(() => 'late'), ctx.waitForEvent('e')]);"),
    // A helper the context is passed to, and functions of the orchestration's own.
    app('return await step(ctx, input);', "async function step(c, x) { return c.callActivity('a', x); }"),
    app("const go = async (x) => ctx.callActivity('a', x);\nreturn await go(input);"),
    // What the rule cannot tell is allowed.
    app('return await input.task;'),
    app('return await Promise.resolve(1);'),
  ],
  invalid: [
    { code: app("await fetch('https://example.com');"), errors: [{ messageId: 'await' }] },
    { code: app('await new Promise((resolve) => resolve(1));'), errors: [{ messageId: 'await' }] },
    {
      code: app('await notify(input);', 'async function notify(x) { return x; }'),
      errors: [{ messageId: 'await', data: { what: '`notify(input)`' } }],
    },
    { code: app('await db.query(input);', "import { db } from './db.js';"), errors: [{ messageId: 'await' }] },
    { code: app("const p = fetch('x');\nawait p;"), errors: [{ messageId: 'await' }] },
    {
      code: app("await Promise.all([ctx.callActivity('a'), fetch('x')]);"),
      errors: [{ messageId: 'await' }],
    },
    { code: app('await Promise.all(input.map((u) => fetch(u)));'), errors: [{ messageId: 'await' }] },
    // Inside a closure of the orchestration.
    { code: app('await Promise.all(input.map(async (u) => { await fetch(u); }));'), errors: [{ messageId: 'await' }] },
  ],
});

run('no-module-state-writes', {
  valid: [
    // Reading module-level values, and writing locals.
    "const LIMIT = 5;\nconst table = new Map([['a', 1]]);\n" +
      app('let n = 0; n++; const seen = []; seen.push(LIMIT, table.get("a")); return n;'),
    // Writing module state outside orchestrations (an activity's cache).
    'const cache = new Map();\nlet calls = 0;\nexport default defineApp({ activities: { get(k) { calls++; cache.set(k, 1); } } });',
    // A local that shadows a module-level name.
    'let count = 0;\n' + app('let count = 1; count++; return count;'),
  ],
  invalid: [
    { code: 'let count = 0;\n' + app('count++;'), errors: [{ messageId: 'write', data: { name: 'count' } }] },
    { code: 'var last;\n' + app('last = input;'), errors: [{ messageId: 'write' }] },
    { code: 'let total = 0;\n' + app('total += input;'), errors: [{ messageId: 'write' }] },
    { code: 'const seen = [];\n' + app('seen.push(input);'), errors: [{ messageId: 'write', data: { name: 'seen' } }] },
    { code: 'const cache = new Map();\n' + app('cache.set(input, 1);'), errors: [{ messageId: 'write' }] },
    { code: 'const state = { n: 0 };\n' + app('state.n = 1;'), errors: [{ messageId: 'write' }] },
    { code: 'const state = { list: [] };\n' + app('state.list.push(1);'), errors: [{ messageId: 'write' }] },
    { code: 'const state = {};\n' + app('delete state.a;'), errors: [{ messageId: 'write' }] },
    { code: 'const state = {};\n' + app('Object.assign(state, input);'), errors: [{ messageId: 'write' }] },
    { code: 'let a, b;\n' + app('[a, b] = input;'), errors: [{ messageId: 'write' }, { messageId: 'write' }] },
    // In a closure of the orchestration.
    { code: 'let n = 0;\n' + app('input.forEach(() => { n++; });'), errors: [{ messageId: 'write' }] },
  ],
});

// TypeScript-only syntax: the orchestration found through `as`, `satisfies` and typed parameters.
describe('the rules on TypeScript syntax', () => {
  testers.typescript.run('no-nondeterministic-calls', durable.rules['no-nondeterministic-calls'], {
    valid: [
      'const d: Date = new Date(0);\nexport default defineApp({ orchestrations: { async a(ctx: Ctx) { return d; } } });',
    ],
    invalid: [
      {
        code:
          'const order: OrchestrationFn = async (ctx: OrchestrationContext, input: { at: number }) => Date.now();\n' +
          'export default defineApp({ orchestrations: { order: order as OrchestrationFn } } satisfies Spec);',
        errors: [{ messageId: 'dateNow' }],
      },
    ],
  });
  testers.typescript.run('no-io-in-orchestrations', durable.rules['no-io-in-orchestrations'], {
    // A type from an I/O module is not I/O.
    valid: [
      "import type { Stats } from 'node:fs';\nimport * as fs from 'node:fs';\n" +
        app('const s: fs.Stats | Stats | undefined = undefined; return s;'),
    ],
    invalid: [],
  });
});
