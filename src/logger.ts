import { pino, type Logger, type LevelWithSilent } from 'pino';
import { prettyLine } from './log-pretty.js';

export type { Logger } from 'pino';

/** Paths redacted from every log object, declared once. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  '*.accessToken',
  '*.access_token',
  '*.appSecret',
  '*.appsecret_proof',
  'accessToken',
  'appSecret',
];

export interface LoggerOptions {
  level: LevelWithSilent;
  /** Values that must never be written, whatever carries them (a token, an app secret). */
  secrets?: ReadonlyArray<string | undefined>;
  destination?: { write(line: string): unknown };
  /** `pretty`: one readable line per entry (LOG_FORMAT). */
  format?: 'json' | 'pretty';
}

/**
 * pino with redaction paths, plus a last line of defence: every line is scrubbed of the configured
 * secret values before it is written, so a secret can't leak through a message or an error text
 * that a redaction path did not foresee.
 */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = (options.secrets ?? []).filter((s): s is string => typeof s === 'string' && s.length >= 4);
  const out = options.destination ?? pino.destination({ dest: 1, sync: false });
  const shape = options.format === 'pretty' ? prettyLine : (line: string) => line;
  const destination =
    secrets.length || options.format === 'pretty' ? { write: (line: string) => out.write(scrub(shape(line), secrets)) } : out;
  return pino({ level: options.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

export function scrub(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (result.includes(secret)) result = result.split(secret).join('[redacted]');
  }
  return result;
}
