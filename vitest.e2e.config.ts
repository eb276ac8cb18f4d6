import { defineConfig } from 'vitest/config';

/**
 * The end-to-end suite against one target, chosen by E2E_TARGET: `local` (processes), `containers`
 * (the program's Docker resources on a real engine) or `pulumi` (an ephemeral stack; needs the CLI).
 */
const target = process.env.E2E_TARGET;
const targets = ['local', 'containers', 'pulumi'];
if (!target || !targets.includes(target)) {
  throw new Error(`E2E_TARGET must be one of ${targets.join(', ')} (got ${target ?? 'nothing'})`);
}

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    globalSetup: [`test/e2e/targets/${target}.ts`],
    testTimeout: 30_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
