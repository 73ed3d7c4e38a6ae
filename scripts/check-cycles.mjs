#!/usr/bin/env node
// Fails (exit 1) when the project's own modules import each other in a cycle, printing each cycle.
// Reads the TypeScript import graph of the files a tsconfig includes (default: ./tsconfig.json);
// `import type` edges count too: layers point one way, for types as for values.
// Usage: node scripts/check-cycles.mjs [path/to/tsconfig.json]
import { resolve, relative, dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const configPath = resolve(process.argv[2] ?? 'tsconfig.json');
const root = dirname(configPath);
const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
if (error) {
  console.error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  process.exit(2);
}
const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root);
const files = new Set(parsed.fileNames.map((file) => resolve(file)));

/** Each project file's imports that resolve to another project file. */
const graph = new Map();
for (const file of files) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const targets = new Set();
  for (const { fileName } of importedFiles) {
    const resolved = ts.resolveModuleName(fileName, file, parsed.options, ts.sys).resolvedModule?.resolvedFileName;
    if (resolved && files.has(resolve(resolved))) targets.add(resolve(resolved));
  }
  graph.set(file, [...targets].sort());
}

// Depth-first search; a back edge to a file on the current path closes a cycle.
const cycles = [];
const state = new Map(); // file → 'open' while on the path, 'done' after
function visit(file, path) {
  state.set(file, 'open');
  path.push(file);
  for (const next of graph.get(file)) {
    if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
    else if (!state.has(next)) visit(next, path);
  }
  path.pop();
  state.set(file, 'done');
}
for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file, []);

if (cycles.length === 0) {
  console.log(`no import cycles among ${files.size} files`);
} else {
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map((file) => relative(root, file)).join(' → ')}`);
  console.error(`${cycles.length} import cycle(s) found`);
  process.exit(1);
}
