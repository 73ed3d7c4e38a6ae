import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { loadAccountsFile, type AccountCredentials } from './accounts-file.js';
import { loadApiKeysFile, type ApiKey } from './api-keys.js';

/**
 * Every setting the gateway reads from the environment, declared once: name, meaning, default and
 * validation. README's configuration table is checked against this list by a test.
 */
const BATCH_STRATEGIES = ['auto', 'batch', 'single', 'ids'] as const;
export type BatchStrategyName = (typeof BATCH_STRATEGIES)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const httpUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL')
  .transform((value) => value.replace(/\/+$/, ''));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((value) => ['true', 'false', '1', '0'].includes(value), 'must be true or false')
  .transform((value) => value === 'true' || value === '1');

const secret = z.string().trim().min(1, 'must not be empty');

export interface SettingDoc {
  name: string;
  meaning: string;
  default: string;
}

export const SETTINGS = {
  INSTAGRAM_ACCESS_TOKEN: {
    meaning: 'Instagram user access token of the business account. Without it (outside production) the built-in simulator serves simulated profiles.',
    default: undefined,
    schema: secret.optional(),
  },
  INSTAGRAM_ACCOUNTS_FILE: {
    meaning: 'Path to a JSON array of business accounts `[{"id","accessToken","appSecret"?}]` (see "Accounts and API keys"); instead of `INSTAGRAM_ACCESS_TOKEN`.',
    default: undefined,
    schema: z.string().trim().min(1, 'must not be empty').optional(),
  },
  GATEWAY_API_KEYS_FILE: {
    meaning: 'Path to a JSON array of client keys `[{"key","accounts"}]`; when set every `/graphql` request needs `Authorization: Bearer <key>`. Required in production with several accounts.',
    default: undefined,
    schema: z.string().trim().min(1, 'must not be empty').optional(),
  },
  INSTAGRAM_APP_SECRET: {
    meaning: 'App secret: adds `appsecret_proof` to every Graph call (and verifies webhook signatures); the default for accounts-file entries without their own `appSecret`.',
    default: undefined,
    schema: secret.optional(),
  },
  INSTAGRAM_WEBHOOK_VERIFY_TOKEN: {
    meaning: 'Verify token of the Instagram messaging webhook (`GET /webhooks/instagram` handshake). Unset: the handshake answers 403.',
    default: undefined,
    schema: secret.optional(),
  },
  WEBHOOK_MAX_BODY_BYTES: {
    meaning: 'Largest webhook delivery accepted, in bytes (larger → 413).',
    default: '1048576',
    schema: int(1024, 100 * 1024 * 1024),
  },
  WEBHOOK_DEDUPE_TTL_SECONDS: {
    meaning: 'How long a webhook item (message `mid` or digest) is remembered so redeliveries are skipped.',
    default: '86400',
    schema: int(60, 30 * 86_400),
  },
  INSTAGRAM_GRAPH_URL: {
    meaning: 'Graph API host.',
    default: 'https://graph.instagram.com',
    schema: httpUrl,
  },
  INSTAGRAM_API_VERSION: {
    meaning: 'Pinned Graph API version, like `v23.0`.',
    default: 'v23.0',
    schema: z.string().trim().regex(/^v\d{1,3}\.\d$/, 'must look like v23.0'),
  },
  GRAPH_BATCH_STRATEGY: {
    meaning: 'How ids travel upstream: `auto` (Batch API, falling back to per-object reads), `batch`, `single`, or legacy `ids`.',
    default: 'auto',
    schema: z.enum(BATCH_STRATEGIES, { error: `must be one of ${BATCH_STRATEGIES.join(', ')}` }),
  },
  GRAPH_TIMEOUT_MS: {
    meaning: 'Timeout of one upstream HTTP call, in milliseconds.',
    default: '10000',
    schema: int(100, 120_000),
  },
  GRAPH_MAX_RETRIES: {
    meaning: 'Retries of transient upstream failures (capped exponential backoff with jitter).',
    default: '2',
    schema: int(0, 10),
  },
  GRAPH_RETRY_BASE_MS: {
    meaning: 'First retry delay in milliseconds; doubles per retry, capped at 20× this value.',
    default: '200',
    schema: int(1, 60_000),
  },
  GRAPH_SINGLE_CONCURRENCY: {
    meaning: 'Concurrent per-object GETs of one group (the `single` strategy).',
    default: '8',
    schema: int(1, 50),
  },
  GRAPH_REPROBE_SECONDS: {
    meaning: 'In `auto` mode, how long to keep using per-object reads after the host refused the Batch API before trying it again.',
    default: '300',
    schema: int(1, 86_400),
  },
  BATCH_WINDOW_MS: {
    meaning: 'How long a partly filled upstream group waits for lookups from concurrent requests to join it.',
    default: '2',
    schema: int(0, 1000),
  },
  COALESCING_ENABLED: {
    meaning: 'Share upstream round trips and in-flight fetches across concurrent requests (`false` only to measure without it).',
    default: 'true',
    schema: bool,
  },
  CACHE_ENABLED: {
    meaning: 'Cache profiles (`false` sends every lookup upstream).',
    default: 'true',
    schema: bool,
  },
  CACHE_MAX_ENTRIES: {
    meaning: 'Entries the in-memory cache keeps (least recently used go first).',
    default: '50000',
    schema: int(1, 10_000_000),
  },
  CACHE_KEY_PREFIX: {
    meaning: 'Prefix of cache keys, before the business account id and the IGSID.',
    default: 'igpg',
    schema: z.string().trim().regex(/^[A-Za-z0-9_.-]{1,40}$/, 'must be 1–40 letters, digits, dots, dashes or underscores'),
  },
  REDIS_URL: {
    meaning: 'Redis for the shared cache (`redis://` or `rediss://`); memory only when unset.',
    default: undefined,
    schema: z
      .string()
      .trim()
      .refine((value) => /^rediss?:\/\/[^\s]+$/.test(value), 'must be a redis:// or rediss:// URL')
      .optional(),
  },
  REDIS_TIMEOUT_MS: {
    meaning: 'A Redis operation slower than this counts as a miss (the query goes on without it).',
    default: '100',
    schema: int(1, 10_000),
  },
  PROFILE_TTL_SECONDS: {
    meaning: 'How long a cached profile is fresh.',
    default: '3600',
    schema: int(1, 30 * 86_400),
  },
  STALE_WHILE_REVALIDATE_SECONDS: {
    meaning: 'Past the TTL, how long a cached profile is still served at once while it is refreshed in the background.',
    default: '300',
    schema: int(0, 30 * 86_400),
  },
  STALE_IF_ERROR_SECONDS: {
    meaning: 'Past the TTL, how long a cached profile may be served when Meta fails or throttles.',
    default: '86400',
    schema: int(0, 30 * 86_400),
  },
  NEGATIVE_TTL_SECONDS: {
    meaning: 'How long `CONSENT_REQUIRED` and `USER_BLOCKED` answers are remembered.',
    default: '60',
    schema: int(0, 86_400),
  },
  PROFILE_PIC_EXPIRY_MARGIN_SECONDS: {
    meaning: 'A cached `profilePic` is never served later than its CDN `oe=` expiry minus this margin.',
    default: '600',
    schema: int(0, 86_400),
  },
  MAX_IDS_PER_QUERY: {
    meaning: 'Most ids one `instagramUsers` call may ask for.',
    default: '500',
    schema: int(1, 100_000),
  },
  MAX_BODY_BYTES: {
    meaning: 'Largest accepted request body; larger ones get HTTP 413.',
    default: '1048576',
    schema: int(1024, 100 * 1024 * 1024),
  },
  MAX_QUERY_DEPTH: {
    meaning: 'Deepest selection nesting a GraphQL operation may have (profile queries need 2, the standard introspection query 15).',
    default: '15',
    schema: int(2, 100),
  },
  MAX_ROOT_FIELDS: {
    meaning: 'Most root fields (aliases included) one GraphQL operation may select.',
    default: '250',
    schema: int(1, 10_000),
  },
  MAX_SELECTIONS: {
    meaning: 'Most fields one GraphQL operation may select at all levels once fragments are expanded (aliases included; `_service { sdl }` weighs 100). 250 users with every field need about 2,500.',
    default: '5000',
    schema: int(10, 1_000_000),
  },
  MAX_QUERY_TOKENS: {
    meaning: 'Most lexical tokens in one GraphQL document; parsing stops past it (HTTP 400), so parsing and validation stay cheap. 250 users with every field take about 5,000.',
    default: '20000',
    schema: int(100, 1_000_000),
  },
  MAX_RESPONSE_BYTES: {
    meaning: 'Largest `/graphql` response body, in bytes; a larger answer is replaced by a `RESPONSE_TOO_LARGE` error.',
    default: '10485760',
    schema: int(1024, 512 * 1024 * 1024),
  },
  MAX_VARIABLES_DEPTH: {
    meaning: 'Deepest nesting of objects and lists in a request\'s GraphQL variables (deeper → HTTP 400 before execution).',
    default: '32',
    schema: int(1, 1000),
  },
  MAX_BATCH_OPERATIONS: {
    meaning: 'Most operations in one batched HTTP request (a JSON array body).',
    default: '10',
    schema: int(1, 1000),
  },
  USAGE_THROTTLE_PERCENT: {
    meaning: 'When Meta\'s `X-App-Usage` / `X-Business-Use-Case-Usage` for an account reaches this percentage, the gateway stops calling Meta for it for a while (answers from cache or `RATE_LIMITED`).',
    default: '90',
    schema: int(1, 100),
  },
  REQUEST_TIMEOUT_MS: {
    meaning: 'How long a client may take to send a whole request (headers and body); slower ones get HTTP 408 and are disconnected.',
    default: '30000',
    schema: int(1000, 600_000),
  },
  HEADERS_TIMEOUT_MS: {
    meaning: 'How long a client may take to send the request headers (at most `REQUEST_TIMEOUT_MS`).',
    default: '10000',
    schema: int(1000, 600_000),
  },
  KEEP_ALIVE_TIMEOUT_MS: {
    meaning: 'How long an idle keep-alive connection stays open between requests.',
    default: '5000',
    schema: int(100, 600_000),
  },
  SHUTDOWN_TIMEOUT_MS: {
    meaning: 'On SIGTERM/SIGINT, how long in-flight requests may take to finish before the process exits with code 1.',
    default: '10000',
    schema: int(100, 600_000),
  },
  PLAYGROUND: {
    meaning: 'Serve the GraphiQL playground on `/playground` (and to browsers opening `/graphql`). Unset: on, except off when `NODE_ENV=production`.',
    default: undefined,
    schema: bool.optional(),
  },
  INTROSPECTION: {
    meaning: 'Answer GraphQL introspection (the playground\'s docs explorer needs it). Unset: on, except off when `NODE_ENV=production`.',
    default: undefined,
    schema: bool.optional(),
  },
  PORT: {
    meaning: 'HTTP listen port.',
    default: '4000',
    schema: int(0, 65_535),
  },
  HOST: {
    meaning: 'HTTP listen address.',
    default: '0.0.0.0',
    schema: z.string().trim().min(1, 'must not be empty'),
  },
  LOG_LEVEL: {
    meaning: 'pino log level.',
    default: 'info',
    schema: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
  },
  NODE_ENV: {
    meaning: '`production` refuses to start without a token or accounts file, or with several accounts and no `GATEWAY_API_KEYS_FILE`; it turns the playground and introspection off unless set.',
    default: 'development',
    schema: z.string().trim(),
  },
} as const;

type Settings = typeof SETTINGS;
type SettingValues = { [K in keyof Settings]: z.output<Settings[K]['schema']> };

export interface Config {
  /** The business accounts served: from INSTAGRAM_ACCOUNTS_FILE, or one from INSTAGRAM_ACCESS_TOKEN; empty in demo mode. */
  accounts: AccountCredentials[];
  /** Client keys from GATEWAY_API_KEYS_FILE; undefined when clients need no key. */
  apiKeys: ApiKey[] | undefined;
  limits: {
    bodyBytes: number;
    queryDepth: number;
    rootFields: number;
    selections: number;
    queryTokens: number;
    responseBytes: number;
    variablesDepth: number;
    batchOperations: number;
  };
  timeouts: {
    requestMs: number;
    headersMs: number;
    keepAliveMs: number;
  };
  usageThrottlePercent: number;
  shutdownTimeoutMs: number;
  accessToken: string | undefined;
  appSecret: string | undefined;
  graphUrl: string;
  apiVersion: string;
  batchStrategy: BatchStrategyName;
  graphTimeoutMs: number;
  graphMaxRetries: number;
  graphRetryBaseMs: number;
  singleConcurrency: number;
  reprobeSeconds: number;
  maxIdsPerQuery: number;
  batchWindowMs: number;
  coalescing: boolean;
  cache: {
    enabled: boolean;
    maxEntries: number;
    keyPrefix: string;
    redisUrl: string | undefined;
    redisTimeoutMs: number;
    ttlSeconds: number;
    staleWhileRevalidateSeconds: number;
    staleIfErrorSeconds: number;
    negativeTtlSeconds: number;
    picMarginSeconds: number;
  };
  /** GraphiQL on `/playground`; default off in production. */
  playground: boolean;
  /** GraphQL introspection; default off in production. */
  introspection: boolean;
  webhook: {
    verifyToken: string | undefined;
    maxBodyBytes: number;
    dedupeTtlSeconds: number;
  };
  port: number;
  host: string;
  logLevel: (typeof LOG_LEVELS)[number];
  production: boolean;
  /** True when no token is configured outside production: the built-in simulator answers. */
  simulated: boolean;
}

export { ConfigError };

export function settingDocs(): SettingDoc[] {
  return Object.entries(SETTINGS).map(([name, s]) => ({ name, meaning: s.meaning, default: s.default ?? '—' }));
}

function readSettings(env: NodeJS.ProcessEnv): SettingValues {
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const raw = env[name];
    const input = raw === undefined || raw === '' ? setting.default : raw;
    const parsed = (setting.schema as z.ZodType).safeParse(input);
    if (!parsed.success) {
      const reason = parsed.error.issues[0]?.message ?? 'is invalid';
      // Never echo secrets (or a Redis URL, which may hold a password); other values help spot the typo.
      const shown = /TOKEN|SECRET|REDIS_URL/.test(name) ? '' : ` (got "${raw}")`;
      throw new ConfigError(`${name} ${reason}${shown}`);
    }
    values[name] = parsed.data;
  }
  return values as SettingValues;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const s = readSettings(env);
  const production = s.NODE_ENV === 'production';
  if (s.INSTAGRAM_ACCOUNTS_FILE && s.INSTAGRAM_ACCESS_TOKEN) {
    // Merging would make it unclear which token serves which account: one source of truth.
    throw new ConfigError('set INSTAGRAM_ACCOUNTS_FILE or INSTAGRAM_ACCESS_TOKEN, not both (put every account in the file)');
  }
  if (production && !s.INSTAGRAM_ACCESS_TOKEN && !s.INSTAGRAM_ACCOUNTS_FILE) {
    throw new ConfigError(
      'INSTAGRAM_ACCESS_TOKEN or INSTAGRAM_ACCOUNTS_FILE is required when NODE_ENV=production (the built-in simulator only runs outside production)',
    );
  }
  const accounts: AccountCredentials[] = s.INSTAGRAM_ACCOUNTS_FILE
    ? loadAccountsFile(s.INSTAGRAM_ACCOUNTS_FILE, s.INSTAGRAM_APP_SECRET)
    : s.INSTAGRAM_ACCESS_TOKEN
      ? [{ accessToken: s.INSTAGRAM_ACCESS_TOKEN, appSecret: s.INSTAGRAM_APP_SECRET }]
      : [];
  if (s.HEADERS_TIMEOUT_MS > s.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(`HEADERS_TIMEOUT_MS (${s.HEADERS_TIMEOUT_MS}) must not exceed REQUEST_TIMEOUT_MS (${s.REQUEST_TIMEOUT_MS})`);
  }
  const apiKeys = s.GATEWAY_API_KEYS_FILE ? loadApiKeysFile(s.GATEWAY_API_KEYS_FILE) : undefined;
  if (production && accounts.length > 1 && !apiKeys) {
    throw new ConfigError(
      `GATEWAY_API_KEYS_FILE is required when NODE_ENV=production and several accounts are configured (${accounts.length}): otherwise anyone reaching /graphql could read every account's profiles`,
    );
  }
  return {
    accounts,
    apiKeys,
    limits: {
      bodyBytes: s.MAX_BODY_BYTES,
      queryDepth: s.MAX_QUERY_DEPTH,
      rootFields: s.MAX_ROOT_FIELDS,
      selections: s.MAX_SELECTIONS,
      queryTokens: s.MAX_QUERY_TOKENS,
      responseBytes: s.MAX_RESPONSE_BYTES,
      variablesDepth: s.MAX_VARIABLES_DEPTH,
      batchOperations: s.MAX_BATCH_OPERATIONS,
    },
    timeouts: { requestMs: s.REQUEST_TIMEOUT_MS, headersMs: s.HEADERS_TIMEOUT_MS, keepAliveMs: s.KEEP_ALIVE_TIMEOUT_MS },
    usageThrottlePercent: s.USAGE_THROTTLE_PERCENT,
    shutdownTimeoutMs: s.SHUTDOWN_TIMEOUT_MS,
    accessToken: s.INSTAGRAM_ACCESS_TOKEN,
    appSecret: s.INSTAGRAM_APP_SECRET,
    graphUrl: s.INSTAGRAM_GRAPH_URL,
    apiVersion: s.INSTAGRAM_API_VERSION,
    batchStrategy: s.GRAPH_BATCH_STRATEGY,
    graphTimeoutMs: s.GRAPH_TIMEOUT_MS,
    graphMaxRetries: s.GRAPH_MAX_RETRIES,
    graphRetryBaseMs: s.GRAPH_RETRY_BASE_MS,
    singleConcurrency: s.GRAPH_SINGLE_CONCURRENCY,
    reprobeSeconds: s.GRAPH_REPROBE_SECONDS,
    maxIdsPerQuery: s.MAX_IDS_PER_QUERY,
    batchWindowMs: s.BATCH_WINDOW_MS,
    coalescing: s.COALESCING_ENABLED,
    cache: {
      enabled: s.CACHE_ENABLED,
      maxEntries: s.CACHE_MAX_ENTRIES,
      keyPrefix: s.CACHE_KEY_PREFIX,
      redisUrl: s.REDIS_URL,
      redisTimeoutMs: s.REDIS_TIMEOUT_MS,
      ttlSeconds: s.PROFILE_TTL_SECONDS,
      staleWhileRevalidateSeconds: s.STALE_WHILE_REVALIDATE_SECONDS,
      staleIfErrorSeconds: s.STALE_IF_ERROR_SECONDS,
      negativeTtlSeconds: s.NEGATIVE_TTL_SECONDS,
      picMarginSeconds: s.PROFILE_PIC_EXPIRY_MARGIN_SECONDS,
    },
    playground: s.PLAYGROUND ?? !production,
    introspection: s.INTROSPECTION ?? !production,
    webhook: {
      verifyToken: s.INSTAGRAM_WEBHOOK_VERIFY_TOKEN,
      maxBodyBytes: s.WEBHOOK_MAX_BODY_BYTES,
      dedupeTtlSeconds: s.WEBHOOK_DEDUPE_TTL_SECONDS,
    },
    port: s.PORT,
    host: s.HOST,
    logLevel: s.LOG_LEVEL,
    production,
    simulated: accounts.length === 0,
  };
}

/** Every secret value in the configuration, for the logger to scrub. */
export function configSecrets(config: Config): string[] {
  const redisPassword = config.cache.redisUrl ? decodeURIComponent(new URL(config.cache.redisUrl).password) : undefined;
  const values = [config.accessToken, config.appSecret, config.webhook.verifyToken, redisPassword];
  for (const account of config.accounts) values.push(account.accessToken, account.appSecret);
  for (const key of config.apiKeys ?? []) values.push(key.key);
  return values.filter((value): value is string => typeof value === 'string');
}
