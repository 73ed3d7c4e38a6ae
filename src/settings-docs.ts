import { readFileSync, writeFileSync } from 'node:fs';
import { SETTINGS } from './settings.js';

/** README's configuration table, derived from the declaration (test/docs.test.ts checks README holds exactly this). */
export function settingsTable(): string {
  const rows = Object.entries(SETTINGS).map(([name, s]) => `| \`${name}\` | ${s.meaning.replace(/\|/g, '\\|')} | ${s.default === undefined ? '—' : `\`${s.default}\``} |`);
  return ['| variable | meaning | default |', '|---|---|---|', ...rows].join('\n');
}

/** `.env.example`: every setting, commented out at its default (test/docs.test.ts checks the file). */
export function envExample(): string {
  const lines = ['# ig-profile-gateway settings: every variable, at its default (commented out). See README "Configuration".', ''];
  for (const [name, s] of Object.entries(SETTINGS)) {
    lines.push(`# ${s.meaning.replace(/\s+/g, ' ')}`, `# ${name}=${s.default ?? ''}`, '');
  }
  return lines.join('\n');
}

/** `npm run config:docs`: rewrites README's settings table and `.env.example` from the declaration. */
export function writeConfigDocs(root: string): void {
  const readmePath = `${root}/README.md`;
  const readme = readFileSync(readmePath, 'utf8');
  const table = /\| variable \| meaning \| default \|\n\|---\|---\|---\|\n(?:\|.*\|\n)*/;
  if (!table.test(readme)) throw new Error('README.md has no settings table to replace');
  writeFileSync(readmePath, readme.replace(table, `${settingsTable()}\n`));
  writeFileSync(`${root}/.env.example`, envExample());
}
