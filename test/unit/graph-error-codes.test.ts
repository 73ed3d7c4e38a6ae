import { readdirSync, readFileSync } from 'node:fs';
import { Kind, parse, type EnumTypeDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { GatewayErrorCode } from '../../src/graph/outcomes.js';

// `satisfies Record<GatewayErrorCode, true>` fails to compile if a code of the union is missing here or
// a key is not in the union: this object is the union, readable at run time.
const UNION = {
  CONSENT_REQUIRED: true,
  USER_BLOCKED: true,
  RATE_LIMITED: true,
  ACCESS_TOKEN_INVALID: true,
  PERMISSION_DENIED: true,
  UPSTREAM_UNAVAILABLE: true,
  UPSTREAM_ERROR: true,
  BAD_USER_INPUT: true,
  ACCOUNT_REQUIRED: true,
  ACCOUNT_UNKNOWN: true,
  UNAUTHENTICATED: true,
  FORBIDDEN: true,
} satisfies Record<GatewayErrorCode, true>;

function sdlEnumValues(): string[] {
  const values: string[] = [];
  for (const file of readdirSync('schema').filter((name) => name.endsWith('.graphql'))) {
    for (const definition of parse(readFileSync(`schema/${file}`, 'utf8')).definitions) {
      if (definition.kind === Kind.ENUM_TYPE_DEFINITION && definition.name.value === 'GatewayErrorCode') {
        values.push(...((definition as EnumTypeDefinitionNode).values ?? []).map((value) => value.name.value));
      }
    }
  }
  return values;
}

describe('GatewayErrorCode', () => {
  it('the SDL enum and the hand-declared union in graph/outcomes.ts list the same codes', () => {
    const sdl = sdlEnumValues();
    expect(sdl.length).toBeGreaterThan(0);
    expect([...sdl].sort()).toEqual(Object.keys(UNION).sort());
  });
});
