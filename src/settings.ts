import { z } from 'zod';

/**
 * Every setting the gateway reads from the environment, declared once: its name, the config group
 * and key it lands in, meaning, default and validation (which also converts units: `*_SECONDS`
 * settings arrive in code as milliseconds). The typed `Config`, README's settings table and
 * `.env.example` are all derived from this list (test/docs.test.ts keeps them in step).
 */
export const BATCH_STRATEGIES = ['auto', 'batch', 'single', 'ids'] as const;
export type BatchStrategyName = (typeof BATCH_STRATEGIES)[number];

const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
const SAMPLERS = ['parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio', 'always_on', 'always_off', 'traceidratio'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** Whole seconds in the environment, milliseconds in code. */
const seconds = (min: number, max: number) => int(min, max).transform((value) => value * 1000);

/** Whole days in the environment, milliseconds in code. */
const days = (min: number, max: number) => int(min, max).transform((value) => value * 86_400_000);

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

/** A 32-byte key from 64 hex digits or base64; undefined when it is neither. */
export function decodeKey(value: string): Buffer | undefined {
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(value) ? Buffer.from(value, 'base64') : undefined;
  return key?.length === 32 ? key : undefined;
}

const secret = z.string().trim().min(1, 'must not be empty');
const path = z.string().trim().min(1, 'must not be empty');

interface Setting<G extends string, K extends string, S extends z.ZodType> {
  /** The config slice the value lands in (`config[group][key]`): each module receives only its slice. */
  group: G;
  key: K;
  meaning: string;
  /** As written in the environment; undefined = unset. */
  default: string | undefined;
  schema: S;
  /** Never echoed in error messages, and scrubbed from logs. */
  secret?: boolean;
}

const setting = <const G extends string, const K extends string, S extends z.ZodType>(s: Setting<G, K, S>) => s;

export const SETTINGS = {
  INSTAGRAM_ACCESS_TOKEN: setting({
    group: 'instagram',
    key: 'accessToken',
    meaning: 'Instagram user access token of the business account. Without it (outside production) the built-in simulator serves simulated profiles.',
    default: undefined,
    schema: secret.optional(),
    secret: true,
  }),
  INSTAGRAM_ACCOUNTS_FILE: setting({
    group: 'instagram',
    key: 'accountsFile',
    meaning: 'Path to the accounts JSON file `[{"id","accessToken","appSecret"?}]` (see [Accounts and API keys](#accounts-and-api-keys)); instead of `INSTAGRAM_ACCESS_TOKEN`.',
    default: undefined,
    schema: path.optional(),
  }),
  GATEWAY_API_KEYS_FILE: setting({
    group: 'instagram',
    key: 'apiKeysFile',
    meaning: 'Path to the client keys JSON file `[{"key","accounts"}]`; when set every `/graphql` request needs `Authorization: Bearer <key>`. Required in production with several accounts.',
    default: undefined,
    schema: path.optional(),
  }),
  INSTAGRAM_APP_SECRET: setting({
    group: 'instagram',
    key: 'appSecret',
    meaning: 'App secret: adds `appsecret_proof` to every Graph call (and verifies webhook signatures); the default for accounts-file entries without their own `appSecret`.',
    default: undefined,
    schema: secret.optional(),
    secret: true,
  }),
  INSTAGRAM_TOKEN_REFRESH_SECONDS: setting({
    group: 'tokens',
    key: 'refreshMs',
    meaning: 'How often (seconds) each account\'s long-lived token is refreshed through Meta\'s `refresh_access_token` (Meta allows it once a token is 24 hours old; tokens last 60 days). `0` turns refreshing off.',
    default: '86400',
    schema: seconds(0, 50 * 86_400),
  }),
  TOKEN_ENCRYPTION_KEY: setting({
    group: 'tokens',
    key: 'encryptionKey',
    meaning: '32-byte key (64 hex digits, or base64) that encrypts refreshed tokens (AES-256-GCM) stored in Redis, so restarts and other replicas use the newest token. Needs `REDIS_URL`; unset: refreshed tokens stay in memory.',
    default: undefined,
    schema: z
      .string()
      .trim()
      .refine((value) => decodeKey(value) !== undefined, 'must be 32 bytes: 64 hex digits or base64')
      .optional(),
    secret: true,
  }),
  INSTAGRAM_WEBHOOK_VERIFY_TOKEN: setting({
    group: 'webhook',
    key: 'verifyToken',
    meaning: 'Verify token of the Instagram messaging webhook (`GET /webhooks/instagram` handshake). Unset: the handshake answers 403.',
    default: undefined,
    schema: secret.optional(),
    secret: true,
  }),
  WEBHOOK_MAX_BODY_BYTES: setting({
    group: 'webhook',
    key: 'maxBodyBytes',
    meaning: 'Largest webhook delivery accepted, in bytes (larger → 413).',
    default: '1048576',
    schema: int(1024, 100 * 1024 * 1024),
  }),
  WEBHOOK_DEDUPE_TTL_SECONDS: setting({
    group: 'webhook',
    key: 'dedupeTtlMs',
    meaning: 'How long a webhook item (message `mid` or digest) is remembered so redeliveries are skipped, in seconds.',
    default: '86400',
    schema: seconds(60, 30 * 86_400),
  }),
  PREFETCH_QUEUE_LIMIT: setting({
    group: 'webhook',
    key: 'prefetchQueueLimit',
    meaning: 'Webhook senders waiting to be prefetched, per account; more are dropped and counted (`igpg_prefetch_dropped_total{reason="queue_full"}`); 0 turns prefetch off.',
    default: '1000',
    schema: int(0, 1_000_000),
  }),
  INSTAGRAM_GRAPH_URL: setting({
    group: 'graph',
    key: 'url',
    meaning: 'Graph API host.',
    default: 'https://graph.instagram.com',
    schema: httpUrl,
  }),
  INSTAGRAM_API_VERSION: setting({
    group: 'graph',
    key: 'apiVersion',
    meaning: 'Pinned Graph API version, like `v23.0`.',
    default: 'v23.0',
    schema: z.string().trim().regex(/^v\d{1,3}\.\d$/, 'must look like v23.0'),
  }),
  GRAPH_BATCH_STRATEGY: setting({
    group: 'graph',
    key: 'strategy',
    meaning: 'How ids travel upstream: `auto` (Batch API, falling back to per-object reads), `batch`, `single`, or legacy `ids`.',
    default: 'auto',
    schema: z.enum(BATCH_STRATEGIES, { error: `must be one of ${BATCH_STRATEGIES.join(', ')}` }),
  }),
  GRAPH_TIMEOUT_MS: setting({
    group: 'graph',
    key: 'timeoutMs',
    meaning: 'Timeout of one upstream HTTP call, in milliseconds.',
    default: '10000',
    schema: int(100, 120_000),
  }),
  GRAPH_MAX_RETRIES: setting({
    group: 'graph',
    key: 'maxRetries',
    meaning: 'Retries of transient upstream failures (capped exponential backoff with jitter).',
    default: '2',
    schema: int(0, 10),
  }),
  GRAPH_RETRY_BASE_MS: setting({
    group: 'graph',
    key: 'retryBaseMs',
    meaning: 'First retry delay in milliseconds; doubles per retry, capped at 20× this value.',
    default: '200',
    schema: int(1, 60_000),
  }),
  GRAPH_MAX_RESPONSE_BYTES: setting({
    group: 'graph',
    key: 'maxResponseBytes',
    meaning: 'Most bytes read from one Graph answer; a longer answer fails its ids with `UPSTREAM_ERROR`.',
    default: '1048576',
    schema: int(1024, 64 * 1024 * 1024),
  }),
  UPSTREAM_MAX_CONCURRENCY: setting({
    group: 'graph',
    key: 'maxConcurrency',
    meaning: 'Upstream HTTP calls in flight at once, all accounts of the process together.',
    default: '64',
    schema: int(1, 10_000),
  }),
  UPSTREAM_MAX_CONCURRENCY_PER_ACCOUNT: setting({
    group: 'graph',
    key: 'maxConcurrencyPerAccount',
    meaning: 'Upstream HTTP calls in flight at once for one account.',
    default: '16',
    schema: int(1, 10_000),
  }),
  UPSTREAM_QUEUE_LIMIT: setting({
    group: 'graph',
    key: 'queueLimit',
    meaning: 'Upstream calls that may wait for a free slot (per account, and again process-wide); beyond it a call is shed with `UPSTREAM_UNAVAILABLE`.',
    default: '1000',
    schema: int(0, 1_000_000),
  }),
  UPSTREAM_QUEUE_WAIT_MS: setting({
    group: 'graph',
    key: 'queueWaitMs',
    meaning: 'Longest wait (milliseconds) of an upstream call for a free slot; beyond it the call is shed with `UPSTREAM_UNAVAILABLE`.',
    default: '10000',
    schema: int(1, 600_000),
  }),
  MAX_UPSTREAM_PAUSE_SECONDS: setting({
    group: 'graph',
    key: 'maxPauseSeconds',
    meaning: 'Longest wait (seconds) taken from Meta (`Retry-After`, BUC `estimated_time_to_regain_access`); longer ones are clamped and logged.',
    default: '3600',
    schema: int(1, 86_400),
  }),
  GRAPH_SINGLE_CONCURRENCY: setting({
    group: 'graph',
    key: 'singleConcurrency',
    meaning: 'Concurrent per-object GETs of one group (the `single` strategy).',
    default: '8',
    schema: int(1, 50),
  }),
  GRAPH_REPROBE_SECONDS: setting({
    group: 'graph',
    key: 'reprobeMs',
    meaning: 'In `auto` mode, how long (seconds) to keep using per-object reads after the host refused the Batch API before trying it again.',
    default: '300',
    schema: seconds(1, 86_400),
  }),
  USAGE_THROTTLE_PERCENT: setting({
    group: 'graph',
    key: 'usageThrottlePercent',
    meaning: 'When Meta\'s `X-App-Usage` / `X-Business-Use-Case-Usage` for an account reaches this percentage, the gateway stops calling Meta for it for a while (answers from cache or `RATE_LIMITED`).',
    default: '90',
    schema: int(1, 100),
  }),
  BATCH_WINDOW_MS: setting({
    group: 'batching',
    key: 'windowMs',
    meaning: 'How long a partly filled upstream group waits for lookups from concurrent requests to join it, in milliseconds.',
    default: '2',
    schema: int(0, 1000),
  }),
  BATCH_MAX_WAIT_MS: setting({
    group: 'batching',
    key: 'maxWaitMs',
    meaning: 'Longest (milliseconds) a partly filled upstream group, its window over, waits behind a slow round trip of the same account before it leaves anyway.',
    default: '1000',
    schema: int(0, 60_000),
  }),
  COALESCING_ENABLED: setting({
    group: 'batching',
    key: 'coalescing',
    meaning: 'Share upstream round trips and in-flight fetches across concurrent requests (`false` only to measure without it).',
    default: 'true',
    schema: bool,
  }),
  CACHE_ENABLED: setting({
    group: 'cache',
    key: 'enabled',
    meaning: 'Cache profiles (`false` sends every lookup upstream).',
    default: 'true',
    schema: bool,
  }),
  CACHE_MAX_ENTRIES: setting({
    group: 'cache',
    key: 'maxEntries',
    meaning: 'Entries the in-memory cache keeps (least recently used go first).',
    default: '50000',
    schema: int(1, 10_000_000),
  }),
  CACHE_MAX_BYTES: setting({
    group: 'cache',
    key: 'maxBytes',
    meaning: 'Estimated heap bytes (keys and profiles) the in-memory profile cache keeps, besides `CACHE_MAX_ENTRIES` (least recently used go first; sized once when written).',
    default: '67108864',
    schema: int(1_048_576, 4_294_967_296),
  }),
  HOT_PATH_MAX_BYTES: setting({
    group: 'cache',
    key: 'hotPathMaxBytes',
    meaning: 'Bytes (keys, bodies and headers) of whole answers kept to answer a repeated POST before Fastify and the GraphQL pipeline, each from the second sighting of its body (least recently used go first; 0 turns it off).',
    default: '33554432',
    schema: int(0, 4_294_967_296),
  }),
  WARM_PATH_MAX_BYTES: setting({
    group: 'cache',
    key: 'warmPathMaxBytes',
    meaning:
      'Bytes of compiled queries kept for the warm path, which answers a plain profile read (no fragments or directives) whose people are all fresh in memory before the GraphQL pipeline (least recently used go first; 0 turns it off).',
    default: '4194304',
    schema: int(0, 4_294_967_296),
  }),
  DOCUMENT_CACHE_MAX_BYTES: setting({
    group: 'cache',
    key: 'documentCacheMaxBytes',
    meaning: 'Estimated heap bytes of parsed and validated query documents kept (Apollo document store; 100 bytes per query character; least recently used go first).',
    default: '33554432',
    schema: int(1_048_576, 4_294_967_296),
  }),
  RESPONSE_CACHE_MAX_BYTES: setting({
    group: 'cache',
    key: 'responseCacheMaxBytes',
    meaning: 'Bytes (keys and serialised answers) of whole answers in Apollo\'s response cache, automatic persisted queries included (least recently used go first).',
    default: '33554432',
    schema: int(1_048_576, 4_294_967_296),
  }),
  CACHE_KEY_PREFIX: setting({
    group: 'cache',
    key: 'keyPrefix',
    meaning: 'Prefix of every stored key, before the business account id (see [Caching and coalescing](#caching-and-coalescing)).',
    default: 'igpg',
    schema: z.string().trim().regex(/^[A-Za-z0-9_.-]{1,40}$/, 'must be 1–40 letters, digits, dots, dashes or underscores'),
  }),
  REDIS_URL: setting({
    group: 'cache',
    key: 'redisUrl',
    meaning: 'Redis for the shared cache (`redis://` or `rediss://`); memory only when unset.',
    default: undefined,
    schema: z
      .string()
      .trim()
      .refine((value) => /^rediss?:\/\/[^\s]+$/.test(value), 'must be a redis:// or rediss:// URL')
      .optional(),
    secret: true,
  }),
  REDIS_TIMEOUT_MS: setting({
    group: 'cache',
    key: 'redisTimeoutMs',
    meaning: 'A Redis operation slower than this (milliseconds) counts as a miss (the query goes on without it).',
    default: '100',
    schema: int(1, 10_000),
  }),
  REPLICA_COORDINATION: setting({
    group: 'cache',
    key: 'replicaCoordination',
    meaning: 'With `REDIS_URL`: coordinate with the other replicas (single-flight, invalidation, shared pauses; see [Running several replicas](#running-several-replicas)); `false` shares only the cache.',
    default: 'true',
    schema: bool,
  }),
  REPLICA_LEASE_MS: setting({
    group: 'cache',
    key: 'replicaLeaseMs',
    meaning: 'With `REDIS_URL`: how long (milliseconds) a replica\'s claim on the ids it is fetching from Meta lasts; renewed every third of it while the trip runs, so a dead replica\'s claim lapses after this (see [Running several replicas](#running-several-replicas)).',
    default: '3000',
    schema: int(100, 60_000),
  }),
  REPLICA_WAIT_MS: setting({
    group: 'cache',
    key: 'replicaWaitMs',
    meaning: 'With `REDIS_URL`: longest (milliseconds) a replica waits for another replica\'s fetch of the same ids before it asks Meta itself.',
    default: '5000',
    schema: int(0, 60_000),
  }),
  REPLICA_POOL_WINDOW_MS: setting({
    group: 'cache',
    key: 'replicaPoolWindowMs',
    meaning: 'With `REDIS_URL`: how long (milliseconds) a replica about to send a partly filled group to Meta keeps it open in Redis for the other replicas\' partial groups to join (one trip of up to 50 ids instead of one per replica); `0` turns pooling off.',
    default: '10',
    schema: int(0, 1000),
  }),
  PROFILE_TTL_SECONDS: setting({
    group: 'cache',
    key: 'ttlMs',
    meaning: 'How long a cached profile is fresh, in seconds.',
    default: '3600',
    schema: seconds(1, 30 * 86_400),
  }),
  STALE_WHILE_REVALIDATE_SECONDS: setting({
    group: 'cache',
    key: 'staleWhileRevalidateMs',
    meaning: 'Past the TTL, how long (seconds) a cached profile is still served at once while it is refreshed in the background.',
    default: '300',
    schema: seconds(0, 30 * 86_400),
  }),
  STALE_IF_ERROR_SECONDS: setting({
    group: 'cache',
    key: 'staleIfErrorMs',
    meaning: 'Past the TTL, how long (seconds) a cached profile may be served when Meta fails or throttles.',
    default: '86400',
    schema: seconds(0, 30 * 86_400),
  }),
  NEGATIVE_TTL_SECONDS: setting({
    group: 'cache',
    key: 'negativeTtlMs',
    meaning: 'How long (seconds) `CONSENT_REQUIRED` and `USER_BLOCKED` answers are remembered.',
    default: '60',
    schema: seconds(0, 86_400),
  }),
  PROFILE_PIC_EXPIRY_MARGIN_SECONDS: setting({
    group: 'cache',
    key: 'picMarginMs',
    meaning: 'A cached `profilePic` is never served later than its CDN `oe=` expiry minus this margin (seconds).',
    default: '600',
    schema: seconds(0, 86_400),
  }),
  PUBLIC_URL: setting({
    group: 'avatars',
    key: 'publicUrl',
    meaning: 'The gateway\'s address as clients reach it (scheme, host, optional port and path); `avatarUrl` links start with it. Unset: `http://localhost:<PORT>` (the port actually listened on).',
    default: undefined,
    schema: httpUrl.optional(),
  }),
  AVATAR_SIGNING_KEY: setting({
    group: 'avatars',
    key: 'signingKey',
    meaning: 'Key that signs `avatarUrl` links (HMAC-SHA256, per business account). Unset: derived from `INSTAGRAM_APP_SECRET`, else from the account\'s own app secret, else from its access token (links then change when the token does). Give every replica the same value.',
    default: undefined,
    schema: z.string().trim().min(16, 'must be at least 16 characters').optional(),
    secret: true,
  }),
  AVATAR_ALLOWED_HOSTS: setting({
    group: 'avatars',
    key: 'allowedHosts',
    meaning: 'Comma-separated hosts the gateway may fetch profile pictures from (`*.` = any subdomain). HTTPS only, except loopback hosts. A `profile_pic` elsewhere gets the placeholder and is never requested.',
    default: '*.cdninstagram.com,*.fbcdn.net',
    schema: z
      .string()
      .trim()
      .transform((value) => value.split(',').map((host) => host.trim().toLowerCase()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^(\*\.)?[a-z0-9.-]{1,253}$|^\[[0-9a-f:]+\]$/, 'must be host names like *.cdninstagram.com')).min(1, 'must name at least one host')),
  }),
  AVATAR_MAX_BYTES: setting({
    group: 'avatars',
    key: 'maxBytes',
    meaning: 'Largest profile picture fetched from the CDN, in bytes (larger → placeholder).',
    default: '1048576',
    schema: int(1024, 20 * 1024 * 1024),
  }),
  AVATAR_FETCH_TIMEOUT_MS: setting({
    group: 'avatars',
    key: 'fetchTimeoutMs',
    meaning: 'Timeout of one CDN fetch, redirects and body included, in milliseconds (slower → placeholder).',
    default: '5000',
    schema: int(100, 60_000),
  }),
  AVATAR_CACHE_MAX_BYTES: setting({
    group: 'avatars',
    key: 'cacheMaxBytes',
    meaning: 'Picture bytes kept in memory, in bytes (least recently used go first). Pictures are kept only until their CDN URL expires.',
    default: '67108864',
    schema: int(0, 16 * 1024 * 1024 * 1024),
  }),
  AVATAR_MAX_CONCURRENT_FETCHES: setting({
    group: 'avatars',
    key: 'maxConcurrentFetches',
    meaning: 'Distinct pictures fetched at the same time; beyond it a request gets the placeholder (short max-age) instead of queueing.',
    default: '64',
    schema: int(1, 10_000),
  }),
  AVATAR_WARM_CONCURRENCY: setting({
    group: 'avatars',
    key: 'warmConcurrency',
    meaning: 'Pictures fetched ahead at the same time (part of `AVATAR_MAX_CONCURRENT_FETCHES`): when refresh-ahead re-reads an active contact whose cached picture changed URL or expires before the next refresh, the new bytes are fetched in the background (at most 1000 waiting; more are dropped and counted). `0` turns it off.',
    default: '4',
    schema: int(0, 1000),
  }),
  MAX_IDS_PER_QUERY: setting({
    group: 'limits',
    key: 'idsPerQuery',
    meaning: 'Most ids one `instagramUsers` call, and one HTTP request in total, may ask for.',
    default: '500',
    schema: int(1, 100_000),
  }),
  MAX_BODY_BYTES: setting({
    group: 'limits',
    key: 'bodyBytes',
    meaning: 'Largest accepted request body, in bytes; larger ones get HTTP 413.',
    default: '1048576',
    schema: int(1024, 100 * 1024 * 1024),
  }),
  MAX_QUERY_DEPTH: setting({
    group: 'limits',
    key: 'queryDepth',
    meaning: 'Deepest selection nesting a GraphQL operation may have (profile queries need 2, the standard introspection query 15).',
    default: '15',
    schema: int(2, 100),
  }),
  MAX_ROOT_FIELDS: setting({
    group: 'limits',
    key: 'rootFields',
    meaning: 'Most root fields (aliases included) one GraphQL operation may select.',
    default: '250',
    schema: int(1, 10_000),
  }),
  MAX_SELECTIONS: setting({
    group: 'limits',
    key: 'selections',
    meaning: 'Most fields one GraphQL operation may select at all levels once fragments are expanded (aliases included; `_service { sdl }` weighs 100). 250 users with every field need about 2,500.',
    default: '5000',
    schema: int(10, 1_000_000),
  }),
  MAX_QUERY_TOKENS: setting({
    group: 'limits',
    key: 'queryTokens',
    meaning: 'Most lexical tokens in one GraphQL document; parsing stops past it (HTTP 400), so parsing and validation stay cheap. 250 users with every field take about 5,000.',
    default: '20000',
    schema: int(100, 1_000_000),
  }),
  MAX_RESPONSE_BYTES: setting({
    group: 'limits',
    key: 'responseBytes',
    meaning: 'Largest `/graphql` response body, in bytes; a larger answer is replaced by a `RESPONSE_TOO_LARGE` error.',
    default: '10485760',
    schema: int(1024, 512 * 1024 * 1024),
  }),
  MAX_VARIABLES_DEPTH: setting({
    group: 'limits',
    key: 'variablesDepth',
    meaning: 'Deepest nesting of objects and lists in a request\'s GraphQL variables (deeper → HTTP 400 before execution).',
    default: '32',
    schema: int(1, 1000),
  }),
  MAX_BATCH_OPERATIONS: setting({
    group: 'limits',
    key: 'batchOperations',
    meaning: 'Most operations in one batched HTTP request (a JSON array body).',
    default: '10',
    schema: int(1, 1000),
  }),
  REQUEST_TIMEOUT_MS: setting({
    group: 'timeouts',
    key: 'requestMs',
    meaning: 'How long (milliseconds) a client may take to send a whole request (headers and body); slower ones get HTTP 408 and are disconnected.',
    default: '30000',
    schema: int(1000, 600_000),
  }),
  HEADERS_TIMEOUT_MS: setting({
    group: 'timeouts',
    key: 'headersMs',
    meaning: 'How long (milliseconds) a client may take to send the request headers (at most `REQUEST_TIMEOUT_MS`).',
    default: '10000',
    schema: int(1000, 600_000),
  }),
  KEEP_ALIVE_TIMEOUT_MS: setting({
    group: 'timeouts',
    key: 'keepAliveMs',
    meaning: 'How long (milliseconds) an idle keep-alive connection stays open between requests.',
    default: '5000',
    schema: int(100, 600_000),
  }),
  INFLUENCER_MIN_FOLLOWERS: setting({
    group: 'crm',
    key: 'influencerMinFollowers',
    meaning: 'The `INFLUENCER` segment holds people with more than this many followers (`VIP` = verified or influencer).',
    default: '10000',
    schema: int(0, 1_000_000_000),
  }),
  CONTACTS_RETENTION_DAYS: setting({
    group: 'crm',
    key: 'contactsRetentionMs',
    meaning: 'How long (days) a person stays in `instagramContacts` after their last interaction, and how long a commenter\'s username is remembered.',
    default: '90',
    schema: days(1, 3650),
  }),
  CONTACTS_MAX_PER_ACCOUNT: setting({
    group: 'crm',
    key: 'contactsMaxPerAccount',
    meaning: 'Most contacts (and, separately, commenters) kept per business account, in Redis and in memory; beyond it the least recent go first.',
    default: '100000',
    schema: int(1, 10_000_000),
  }),
  REFRESH_AHEAD_ACTIVE_SECONDS: setting({
    group: 'refresh',
    key: 'activeMs',
    meaning: 'People who messaged the business within this many seconds are active: their cached profiles are re-read from Meta in the background shortly before they stop being fresh (the last fifth of `PROFILE_TTL_SECONDS`, at most 60 s before), in groups of up to 50. 0 turns refresh-ahead off. Needs the cache.',
    default: '604800',
    schema: seconds(0, 90 * 86_400),
  }),
  REFRESH_AHEAD_MAX_USAGE_PERCENT: setting({
    group: 'refresh',
    key: 'maxUsagePercent',
    meaning: 'Refresh-ahead sends nothing for an account while its latest usage figure from Meta (reported within the last 10 minutes) is at or above this percentage, nor while the account is paused: it only spends headroom.',
    default: '50',
    schema: int(0, 100),
  }),
  REFRESH_AHEAD_SCAN_LIMIT: setting({
    group: 'refresh',
    key: 'scanLimit',
    meaning: 'Active contacts examined per account per refresh tick, most recent first; less recent ones are not refreshed ahead.',
    default: '2000',
    schema: int(1, 1_000_000),
  }),
  REFRESH_AHEAD_MAX_IDS_PER_TICK: setting({
    group: 'refresh',
    key: 'maxIdsPerTick',
    meaning: 'Profiles refreshed per account per tick (the soonest to expire first; one group of ≤50 in flight at a time); the rest wait for the next tick and are counted (`igpg_refresh_ahead_skipped_total{reason="tick_limit"}`).',
    default: '500',
    schema: int(1, 100_000),
  }),
  SHUTDOWN_TIMEOUT_MS: setting({
    group: 'server',
    key: 'shutdownTimeoutMs',
    meaning: 'On SIGTERM/SIGINT, how long (milliseconds) in-flight requests may take to finish before the process exits with code 1.',
    default: '10000',
    schema: int(100, 600_000),
  }),
  PLAYGROUND: setting({
    group: 'server',
    key: 'playground',
    meaning: 'Serve the GraphiQL playground on `/playground` (and to browsers opening `/graphql`). Unset: on, except off when `NODE_ENV=production`.',
    default: undefined,
    schema: bool.optional(),
  }),
  INTROSPECTION: setting({
    group: 'server',
    key: 'introspection',
    meaning: 'Answer GraphQL introspection (the playground\'s docs explorer needs it). Unset: on, except off when `NODE_ENV=production`.',
    default: undefined,
    schema: bool.optional(),
  }),
  PORT: setting({
    group: 'server',
    key: 'port',
    meaning: 'HTTP listen port.',
    default: '4000',
    schema: int(0, 65_535),
  }),
  HOST: setting({
    group: 'server',
    key: 'host',
    meaning: 'HTTP listen address.',
    default: '0.0.0.0',
    schema: z.string().trim().min(1, 'must not be empty'),
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: setting({
    group: 'telemetry',
    key: 'endpoint',
    meaning: 'OpenTelemetry collector base URL; traces go to `<url>/v1/traces`. Unset (and no traces endpoint): tracing is off and costs nothing.',
    default: undefined,
    schema: httpUrl.optional(),
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: setting({
    group: 'telemetry',
    key: 'tracesEndpoint',
    meaning: 'Full URL traces are posted to (wins over `OTEL_EXPORTER_OTLP_ENDPOINT`).',
    default: undefined,
    schema: httpUrl.optional(),
  }),
  OTEL_EXPORTER_OTLP_PROTOCOL: setting({
    group: 'telemetry',
    key: 'protocol',
    meaning: 'OTLP encoding: `http/protobuf` or `http/json` (gRPC is not supported).',
    default: 'http/protobuf',
    schema: z.enum(OTLP_PROTOCOLS, { error: `must be one of ${OTLP_PROTOCOLS.join(', ')}` }),
  }),
  OTEL_EXPORTER_OTLP_HEADERS: setting({
    group: 'telemetry',
    key: 'headers',
    meaning: 'Headers sent with every export, as `key=value,key2=value2` (a collector API key, say).',
    default: undefined,
    schema: z
      .string()
      .trim()
      .refine((value) => value.split(',').every((pair) => /^[^=\s]+=.+$/.test(pair.trim())), 'must look like key=value,key2=value2')
      .transform((value) => Object.fromEntries(value.split(',').map((pair) => [pair.slice(0, pair.indexOf('=')).trim(), decodeURIComponent(pair.slice(pair.indexOf('=') + 1).trim())])))
      .optional(),
    secret: true,
  }),
  OTEL_SERVICE_NAME: setting({
    group: 'telemetry',
    key: 'serviceName',
    meaning: '`service.name` of every span.',
    default: 'ig-profile-gateway',
    schema: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
  }),
  OTEL_TRACES_SAMPLER: setting({
    group: 'telemetry',
    key: 'sampler',
    meaning: 'Which traces are kept: `parentbased_always_on` (follows a client\'s `traceparent`, else keeps all), `parentbased_traceidratio`, `parentbased_always_off`, `always_on`, `always_off`, `traceidratio`.',
    default: 'parentbased_always_on',
    schema: z.enum(SAMPLERS, { error: `must be one of ${SAMPLERS.join(', ')}` }),
  }),
  OTEL_TRACES_SAMPLER_ARG: setting({
    group: 'telemetry',
    key: 'samplerRatio',
    meaning: 'Ratio of traces kept by the `*traceidratio` samplers, from 0 to 1.',
    default: '1',
    schema: z
      .string()
      .trim()
      .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number from 0 to 1')
      .transform(Number),
  }),
  LOG_LEVEL: setting({
    group: 'log',
    key: 'level',
    meaning: 'pino log level: `fatal` … `trace`, or `silent`.',
    default: 'info',
    schema: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
  }),
  LOG_FORMAT: setting({
    group: 'log',
    key: 'format',
    meaning: '`json` (one JSON object per line, for log collectors) or `pretty` (one readable line per entry, for people at a terminal). Secrets are scrubbed either way.',
    default: 'json',
    schema: z.enum(['json', 'pretty'], { error: 'must be json or pretty' }),
  }),
  ACCESS_LOG: setting({
    group: 'log',
    key: 'accessLog',
    meaning: 'Log every HTTP request at `info` (method, route, status, milliseconds; never the query string or headers). Off: at `debug`.',
    default: 'false',
    schema: bool,
  }),
  UPSTREAM_FAILURE_LOG_INTERVAL_SECONDS: setting({
    group: 'log',
    key: 'upstreamFailureIntervalMs',
    meaning: 'Upstream failures an operator must act on are logged at `warn` once per this interval, one line per account and code with the number of failed lookups (and at shutdown).',
    default: '10',
    schema: seconds(1, 3600),
  }),
  NODE_ENV: setting({
    group: 'server',
    key: 'nodeEnv',
    meaning: '`production` refuses to start without a token or accounts file, or with several accounts and no `GATEWAY_API_KEYS_FILE`; it turns the playground and introspection off unless set.',
    default: 'development',
    schema: z.string().trim(),
  }),
};

export type SettingName = keyof typeof SETTINGS;
type Settings = typeof SETTINGS;
type GroupName = Settings[SettingName]['group'];

/** The settings as typed values, grouped into the slices modules receive. */
export type SettingGroups = {
  [G in GroupName]: {
    [N in SettingName as Settings[N]['group'] extends G ? Settings[N]['key'] : never]: z.output<Settings[N]['schema']>;
  };
};
