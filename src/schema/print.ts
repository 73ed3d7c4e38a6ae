/** `npm run schema:print [-- <file>]`: writes the subgraph SDL for composition / registry tooling. */
import { resolve } from 'node:path';
import { writeSubgraphSdl } from './build.js';

const file = resolve(process.argv[2] ?? 'dist/subgraph.graphql');
writeSubgraphSdl(file);
console.log(`subgraph SDL written to ${file}`);
