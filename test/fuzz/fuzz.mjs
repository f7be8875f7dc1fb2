// Runs the differential fuzzer as plain Node (no TypeScript loader: under one, importing binaryen
// takes 15-30 s). esbuild bundles test/fuzz/cli.ts and kiln's sources into one ESM file, leaving
// node_modules packages external, then the bundle runs. `npm run fuzz -- --help` for the options.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(root, 'node_modules', '.cache', 'kiln-fuzz');
mkdirSync(outDir, { recursive: true });
const outfile = join(outDir, 'cli.mjs');
await build({
  entryPoints: [join(root, 'test', 'fuzz', 'cli.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  outfile,
  logLevel: 'error',
  sourcemap: 'inline',
});
const { main } = await import(pathToFileURL(outfile).href);
process.exitCode = await main(process.argv.slice(2));
