#!/usr/bin/env node
// Build step: copies every file the playground page loads into dist/playground-assets/, so the built
// gateway serves them without React or GraphiQL installed (they are dev dependencies).
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(root, 'package.json'));
const packageDir = (name) => dirname(require.resolve(`${name}/package.json`));

/** Served name → source file. The server serves exactly what is in the folder. */
const ASSETS = {
  'react.production.min.js': join(packageDir('react'), 'umd/react.production.min.js'),
  'react-dom.production.min.js': join(packageDir('react-dom'), 'umd/react-dom.production.min.js'),
  'graphiql.min.js': join(packageDir('graphiql'), 'graphiql.min.js'),
  'graphiql.min.css': join(packageDir('graphiql'), 'graphiql.min.css'),
  'playground.js': join(root, 'playground/playground.js'),
  'playground.css': join(root, 'playground/playground.css'),
};

const target = join(root, 'dist/playground-assets');
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const [name, source] of Object.entries(ASSETS)) copyFileSync(source, join(target, name));
console.log(`copied ${Object.keys(ASSETS).length} playground assets to dist/playground-assets/`);
