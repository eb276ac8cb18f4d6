// Bundles the key service and the device simulator into single ES modules for their container
// images (dist/key-service.mjs, dist/device-sim.mjs). better-sqlite3 stays external: it is native.
import { build } from 'esbuild';

const entryPoints = { 'key-service': 'services/key-service/main.ts', 'device-sim': 'device-sim/main.ts' };
const only = process.argv[2];

for (const [name, entry] of Object.entries(entryPoints)) {
  if (only && only !== name) continue;
  await build({
    entryPoints: [entry],
    outfile: `dist/${name}.mjs`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['better-sqlite3'],
    // CommonJS dependencies inside an ES module bundle still call require().
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}
