import { readFileSync } from 'node:fs';
import type { z } from 'zod';

/** A configuration problem, worded as one line that names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads a JSON file named by `variable`; a missing file or bad JSON becomes one readable line. */
export function readJsonFile(variable: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigError(`${variable} cannot be read (${typeof code === 'string' ? code : 'read error'}): ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // JSON.parse messages quote a little of the input; the file may hold tokens, so say only where.
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
    throw new ConfigError(`${variable} is not valid JSON${position ? ` (near character ${position})` : ''}: ${path}`);
  }
}

/**
 * The problem to report first: an unknown key (a typo like "accesToken") explains the
 * "missing field" issue that comes with it, so it wins; otherwise zod's first issue.
 */
export function pickIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  return issues.find((issue) => issue.code === 'unrecognized_keys') ?? issues[0]!;
}

/**
 * The first problem zod found in a JSON array of entries, as `VAR entry N ("field"): reason`.
 * Entries count from 1; values are never echoed (they may be secrets).
 */
export function describeEntryIssue(variable: string, issue: z.core.$ZodIssue): string {
  const [index, ...rest] = issue.path;
  if (typeof index !== 'number') return `${variable} ${issue.message}`;
  const field = rest.length ? ` (${rest.map((part) => JSON.stringify(String(part))).join('.')})` : '';
  return `${variable} entry ${index + 1}${field}: ${issue.message}`;
}
