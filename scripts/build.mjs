#!/usr/bin/env node
// Builds dist/ (npm run build; also npm's `prepare`, which runs on `npm ci` / `npm install` in a
// checkout, before `npm pack`, when npm installs kiln from git, and when a project installs a checkout
// by path). dist/ is emptied first so that no module removed from the sources is shipped.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// An installed package (the tarball, or what npm packed from git) ships dist/ and no sources: there is
// nothing to build, so a `prepare` that npm runs there (`npm rebuild`, an approved allowScripts entry)
// succeeds without touching it.
if (!existsSync(join(root, 'src', 'index.ts')) && existsSync(join(root, 'dist', 'src', 'index.js'))) process.exit(0);

/** TypeScript's compiler script, or null when the checkout's dependencies are not installed. */
function findTsc() {
  try {
    return join(dirname(createRequire(join(root, 'package.json')).resolve('typescript/package.json')), 'bin', 'tsc');
  } catch {
    return null;
  }
}

let tsc = findTsc();
if (!tsc && !existsSync(join(root, 'node_modules')) && existsSync(join(root, 'package-lock.json'))) {
  // A path install (`npm install ../kiln`) links a checkout as it is and runs this there without
  // installing the checkout's dependencies. A pristine checkout installs them now (scripts off: this
  // build is the only one kiln has), so that the link works with no extra step.
  console.error(`kiln: installing the dependencies of ${root} (npm ci) to build dist/`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_(global|prefix|location|omit|include|production|only|save|workspaces?)$/i.test(k)));
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const r = spawnSync(npm[0], [...npm[1], 'ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: root, env, stdio: 'inherit' });
  if (r.status === 0) tsc = findTsc();
}
if (!tsc) {
  console.error(`kiln: cannot build ${root}: its dependencies are not installed (TypeScript is missing).\n` +
    `Run \`npm ci\` in ${root} first (it builds dist/), then install it again.`);
  process.exit(1);
}
rmSync(join(root, 'dist'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0 || !existsSync(join(root, 'dist', 'src', 'index.js'))) {
  console.error('kiln: the build failed (see the errors above)');
  process.exit(r.status || 1);
}
