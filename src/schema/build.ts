import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import { parse, type GraphQLSchema } from 'graphql';
import { resolvers } from './resolvers.js';
import { loadSdl } from './sdl.js';

/** The executable Federation 2 subgraph schema: SDL from `schema/` plus our resolvers. */
export function buildGatewaySchema(): GraphQLSchema {
  return buildSubgraphSchema({ typeDefs: parse(loadSdl()), resolvers });
}

/** The subgraph SDL as composition and schema registries want it (what `_service { sdl }` serves). */
export function subgraphSdl(schema: GraphQLSchema = buildGatewaySchema()): string {
  return printSubgraphSchema(schema) + '\n';
}

/** Writes the subgraph SDL to `file` (folders created as needed). */
export function writeSubgraphSdl(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, subgraphSdl());
}
