#!/usr/bin/env node
// The `durable` command. Apps and Durable itself are TypeScript run directly: tsx compiles on import.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
