/**
 * The benchmark app: HelloCities (5 sequential activities), a fan-out/fan-in and a long chain. Its own module so that
 * `durable worker bench/hello-app.ts` processes (the cluster mode) run the same code as the in-process workloads.
 */
import { defineApp } from '../src/index.js';

export const CITIES = ['Tokyo', 'Seattle', 'London', 'Paris', 'Cairo'];

const activities = {
  async sayHello(city: string) {
    return `Hello ${city}`;
  },
  async work(n: number) {
    return n + 1;
  },
};

export default defineApp({
  activities,
  orchestrations: {
    async helloCities(ctx) {
      const out: string[] = [];
      for (const city of CITIES) out.push(await ctx.callActivity('sayHello', city));
      return out;
    },
    async fanOut(ctx, width: number) {
      const results = await Promise.all(Array.from({ length: width }, (_, i) => ctx.callActivity('work', i)));
      return results.length;
    },
    async longChain(ctx, steps: number) {
      let n = 0;
      for (let i = 0; i < steps; i++) n = await ctx.callActivity('work', n);
      return n;
    },
  },
});
