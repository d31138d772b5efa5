#!/usr/bin/env node
// The `durable` command. Apps and Durable itself are TypeScript run directly: tsx compiles on import.
// `durable worker` is the container entry point in worker/ (which uses src/, never the reverse).
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
if (process.argv[2] === 'worker') await import('../worker/main.ts');
else await import('../src/cli/main.ts');
