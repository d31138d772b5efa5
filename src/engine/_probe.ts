import { defineApp } from './app.js';
const activities = { async sayHello(name: string) { return `Hello ${name}`; }, async noInput() { return 1; } };
export const app = defineApp({
  activities,
  orchestrations: {
    async helloSequence(ctx, cities: string[]) {
      const out: string[] = [];
      for (const c of cities) out.push(await ctx.callActivity('sayHello', c));
      // @ts-expect-error wrong input type
      await ctx.callActivity('sayHello', 5);
      // @ts-expect-error unknown activity
      await ctx.callActivity('nope', 5);
      const one: number = await ctx.callActivity('noInput');
      return out.length + one;
    },
  },
});
export const loose = defineApp({
  orchestrations: {
    async helloSequence(ctx, cities: string[]) {
      const out: string[] = [];
      for (const c of cities) out.push(await ctx.callActivity('sayHello', c));
      return out;
    },
  },
  activities: { async sayHello(name: string) { return `Hello ${name}`; } },
});
