import { describe, expect, it } from 'vitest';
import { classifyGraphError, graphErrorOf, isIdsRemoval, type GraphErrorBody } from '../src/graph/errors.js';
import { parseUsage } from '../src/graph/usage.js';

const NOW = Date.UTC(2026, 11, 1);
const waitOf = (headers: Headers, maxWaitSeconds = 3600) => parseUsage(headers, { now: NOW, maxWaitSeconds }).waitSeconds;

// The one mapping table, row by row: Graph answer -> gateway code.
const rows: Array<[string, number, GraphErrorBody | undefined, string, boolean]> = [
  ['consent by code', 400, { code: 230, message: 'x' }, 'CONSENT_REQUIRED', false],
  ['consent by text only', 400, { code: 100, message: 'User consent is required to access user profile' }, 'CONSENT_REQUIRED', false],
  ['blocked/deleted/foreign', 400, { code: 100, error_subcode: 33, message: 'Unsupported get request. Object with ID' }, 'USER_BLOCKED', false],
  ['legacy alias missing', 400, { code: 803, message: '(#803) Some of the aliases you requested do not exist: 1' }, 'USER_BLOCKED', false],
  ['no matching user', 400, { code: 9010, message: 'No matching user found' }, 'USER_BLOCKED', false],
  ['app throttled 4', 400, { code: 4 }, 'RATE_LIMITED', false],
  ['user throttled 17', 400, { code: 17 }, 'RATE_LIMITED', false],
  ['32', 400, { code: 32 }, 'RATE_LIMITED', false],
  ['613', 400, { code: 613 }, 'RATE_LIMITED', false],
  ['341', 400, { code: 341 }, 'RATE_LIMITED', false],
  ['80001', 400, { code: 80001 }, 'RATE_LIMITED', false],
  ['80002 instagram', 400, { code: 80002 }, 'RATE_LIMITED', false],
  ['80009', 400, { code: 80009 }, 'RATE_LIMITED', false],
  ['bare 429', 429, undefined, 'RATE_LIMITED', false],
  ['token 190', 400, { code: 190, error_subcode: 463 }, 'ACCESS_TOKEN_INVALID', false],
  ['token 190 no subcode', 400, { code: 190 }, 'ACCESS_TOKEN_INVALID', false],
  ['session 102', 400, { code: 102 }, 'ACCESS_TOKEN_INVALID', false],
  ['no token 2500', 400, { code: 2500 }, 'ACCESS_TOKEN_INVALID', false],
  ['bad appsecret_proof', 400, { code: 100, message: 'Invalid appsecret_proof provided in the API argument' }, 'ACCESS_TOKEN_INVALID', false],
  ['permission 10', 403, { code: 10 }, 'PERMISSION_DENIED', false],
  ['permission 200', 400, { code: 200 }, 'PERMISSION_DENIED', false],
  ['permission 299', 400, { code: 299 }, 'PERMISSION_DENIED', false],
  ['unknown error 1', 500, { code: 1 }, 'UPSTREAM_UNAVAILABLE', true],
  ['service 2', 503, { code: 2 }, 'UPSTREAM_UNAVAILABLE', true],
  ['is_transient', 400, { code: 9999, is_transient: true }, 'UPSTREAM_UNAVAILABLE', true],
  ['bare 502', 502, undefined, 'UPSTREAM_UNAVAILABLE', true],
  ['other 400', 400, { code: 100, message: 'Tried accessing nonexisting field' }, 'UPSTREAM_ERROR', false],
  ['bare 404', 404, undefined, 'UPSTREAM_ERROR', false],
];

describe('Graph error table', () => {
  it.each(rows)('%s -> %s', (_name, status, error, code, transient) => {
    const failure = classifyGraphError(status, error, undefined, '123');
    expect(failure.code).toBe(code);
    expect(failure.transient).toBe(transient);
    if (error?.code !== undefined) expect(failure.graph?.code).toBe(error.code);
  });

  it('carries subcode, type and trace id', () => {
    const failure = classifyGraphError(400, { code: 100, error_subcode: 33, type: 'GraphMethodException', fbtrace_id: 'AbC' }, undefined);
    expect(failure.graph).toEqual({ code: 100, subcode: 33, type: 'GraphMethodException', fbtraceId: 'AbC' });
  });

  it('recognises the ?ids= removal and nothing else as such', () => {
    expect(isIdsRemoval({ code: 100, message: 'The ids query parameter is deprecated in v26.0+' })).toBe(true);
    expect(isIdsRemoval({ code: 100, message: 'Unsupported get request.' })).toBe(false);
    expect(isIdsRemoval({ code: 1, message: 'The ids query parameter is deprecated in v26.0+' })).toBe(false);
  });

  it('reads the advertised wait from usage headers (minutes) and Retry-After (seconds or date)', () => {
    const buc = new Headers({
      'x-business-use-case-usage': JSON.stringify({ '1784': [{ type: 'instagram', call_count: 100, estimated_time_to_regain_access: 12 }] }),
    });
    expect(waitOf(buc)).toBe(720);
    expect(waitOf(new Headers({ 'retry-after': '30' }))).toBe(30);
    const inAMinute = new Date(NOW + 61_000).toUTCString();
    expect(waitOf(new Headers({ 'retry-after': inAMinute }))).toBeGreaterThanOrEqual(59);
    expect(waitOf(new Headers({ 'x-business-use-case-usage': 'not json' }))).toBeUndefined();
    expect(waitOf(new Headers())).toBeUndefined();
  });

  it('clamps an absurd advertised wait to MAX_UPSTREAM_PAUSE_SECONDS and says it did', () => {
    const usage = parseUsage(new Headers({ 'retry-after': '99999999999' }), { now: NOW, maxWaitSeconds: 3600 });
    expect(usage).toMatchObject({ waitSeconds: 3600, clampedFromSeconds: 99999999999 });
    const buc = new Headers({ 'x-business-use-case-usage': JSON.stringify({ '1784': [{ estimated_time_to_regain_access: 1e9 }] }) });
    expect(waitOf(buc, 600)).toBe(600);
  });

  it('keeps only known usage keys; reads Instagram\'s call_volume / cpu_time as well as Graph\'s names', () => {
    const usage = parseUsage(
      new Headers({
        'x-app-usage': JSON.stringify({ call_volume: 12, cpu_time: 7, ['x'.repeat(500)]: 99, total_time: 'lots' }),
        'x-business-use-case-usage': JSON.stringify({ '1784': [{ call_count: 3, weird: 80 }], 'not-an-id': [{ call_count: 95 }] }),
      }),
      { now: NOW, maxWaitSeconds: 3600 },
    );
    expect(usage.app).toEqual({ call_volume: 12, cpu_time: 7 });
    expect(usage.business).toEqual([{ businessId: '1784', figures: { call_count: 3 } }]);
    expect(usage.percent).toBe(95);
  });

  it('clips strings taken from Meta: a 100,000-character fbtrace_id or type never reaches an answer whole', () => {
    const error = graphErrorOf({ error: { code: 100, type: 'T'.repeat(100_000), fbtrace_id: 'A'.repeat(100_000), message: 'm'.repeat(100_000) } });
    const failure = classifyGraphError(400, error, undefined);
    expect(failure.graph?.fbtraceId?.length).toBeLessThanOrEqual(201);
    expect(failure.graph?.type?.length).toBeLessThanOrEqual(201);
    expect(graphErrorOf({ error: { code: 'x', message: 5 } })).toEqual({});
  });
});
