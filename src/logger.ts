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
  // Always through the scrubber: secrets learned later (refreshed tokens) are scrubbed as well.
  const learned: string[] = [];
  const destination = { write: (line: string) => out.write(scrub(scrub(shape(line), secrets), learned)) };
  const logger = pino({ level: options.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
  learnedBy.set(logger, learned);
  return logger;
}

/** Secrets learned at run time, per logger: enough for years of daily refreshes of many accounts; oldest dropped first. */
const MAX_RUNTIME_SECRETS = 1000;
const learnedBy = new WeakMap<Logger, string[]>();

/** Adds a secret learned at run time (a refreshed access token) to what `logger` (and its children's output) scrubs. */
export function scrubFromLogs(logger: Logger, secret: string): void {
  const learned = learnedBy.get(logger);
  if (!learned || secret.length < 4 || learned.includes(secret)) return;
  learned.push(secret);
  if (learned.length > MAX_RUNTIME_SECRETS) learned.shift();
}

export function scrub(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (result.includes(secret)) result = result.split(secret).join('[redacted]');
  }
  return result;
}
