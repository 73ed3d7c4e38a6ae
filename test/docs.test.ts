import { readFileSync } from 'node:fs';
import { parse, print, Kind, type EnumTypeDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { envExample, settingsTable } from '../src/settings-docs.js';
import { PLAYGROUND_EXAMPLES } from '../src/http/playground-examples.js';
import { loadSdl } from '../src/schema/sdl.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replaceAll(' ', '-');

function tableRow(name: string): string | undefined {
  return readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
}

describe('README stays true', () => {
  it('holds the settings table derived from src/settings.ts, and .env.example matches it (npm run config:docs rewrites both)', () => {
    expect(readme).toContain(`${settingsTable()}\n`);
    expect(readFileSync(new URL('../.env.example', import.meta.url), 'utf8')).toBe(envExample());
  });

  it('documents every error code of the SDL enum, and the enum has them all', () => {
    const enumNode = parse(loadSdl()).definitions.find(
      (node): node is EnumTypeDefinitionNode => node.kind === Kind.ENUM_TYPE_DEFINITION && node.name.value === 'GatewayErrorCode',
    );
    const codes = enumNode?.values?.map((value) => value.name.value) ?? [];
    expect(codes.length).toBeGreaterThanOrEqual(8);
    for (const code of codes) expect(tableRow(code), `README error table lacks ${code}`).toBeDefined();
  });

  it('the table of contents links every section, and every in-page link lands on a heading', () => {
    const prose = readme.replace(/```[\s\S]*?```/g, '');
    const headings = [...prose.matchAll(/^(#{2,4}) (.+)$/gm)].map((match) => ({ level: match[1]!.length, anchor: anchor(match[2]!) }));
    const contents = readme.split('\n').find((line) => line.startsWith('**Contents:**')) ?? '';
    const linked = [...contents.matchAll(/\]\(#([^)]+)\)/g)].map((match) => match[1]!);
    for (const heading of headings.filter((h) => h.level === 2)) expect(linked, `contents lacks #${heading.anchor}`).toContain(heading.anchor);
    const anchors = headings.map((h) => h.anchor);
    for (const [, target] of prose.matchAll(/\]\(#([^)]+)\)/g)) expect(anchors, `no heading for #${target}`).toContain(target);
  });

  it('the production install names everything a deployment needs (package.json `files`)', () => {
    const { files } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { files: string[] };
    const section = readme.split('\n## Production install\n')[1]?.split('\n## ')[0] ?? '';
    for (const entry of ['package.json', 'package-lock.json', ...files]) expect(section, `README production install lacks ${entry}`).toContain(`\`${entry}\``);
  });

  it('the playground opens with exactly the README\'s example operations', () => {
    const operations = (source: string) =>
      parse(source).definitions.filter((node): node is OperationDefinitionNode => node.kind === Kind.OPERATION_DEFINITION).map((node) => print(node));
    const readmeBlocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!);
    const documented = readmeBlocks.flatMap(operations);
    const preloaded = PLAYGROUND_EXAMPLES.flatMap((example) => operations(example.query));
    expect(preloaded.length).toBe(4);
    expect(preloaded).toEqual(documented.slice(0, preloaded.length));
  });
});
