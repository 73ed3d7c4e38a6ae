import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { igsids, startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

const ONE = 'query One($id: ID!) { instagramUser(id: $id) { id username } }';
const FRESH = /^private, max-age=([1-9]\d*)$/;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** A GraphQL GET; `apollo-require-preflight` satisfies Apollo's CSRF prevention. */
function get(params: Record<string, unknown>, headers: Record<string, string> = {}) {
  const search = new URLSearchParams(Object.entries(params).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
  return fetch(`${stack!.url}/graphql?${search}`, { headers: { 'apollo-require-preflight': 'true', ...headers } });
}

describe('HTTP caching of /graphql answers', () => {
  it('a GET answer carries ETag, Cache-Control private max-age (the fresh seconds) and Vary; If-None-Match gets 304', async () => {
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '600' } });
    const [id] = igsids(1, 7100);
    const first = await get({ query: ONE, variables: { id } });
    expect(first.status).toBe(200);
    const maxAge = Number(FRESH.exec(first.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(600);
    expect(first.headers.get('vary')).toMatch(/authorization/);
    expect(first.headers.get('vary')).toMatch(/x-instagram-account/);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect((await first.json()).data.instagramUser.id).toBe(id);

    const again = await get({ query: ONE, variables: { id } }, { 'if-none-match': etag! });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const other = await get({ query: ONE, variables: { id } }, { 'if-none-match': '"something-else"' });
    expect(other.status).toBe(200);
    expect(other.headers.get('etag')).toBe(etag);
  });

  it('POST answers (as a subgraph) carry the same Cache-Control and Vary, no ETag', async () => {
    stack = await startStack();
    const [id] = igsids(1, 7200);
    const answer = await stack.gql(ONE, { id });
    expect(answer.headers.get('cache-control')).toMatch(FRESH);
    expect(answer.headers.get('vary')).toMatch(/x-instagram-account/);
    expect(answer.headers.get('etag')).toBeNull();
    const repeated = await stack.gql(ONE, { id });
    expect(repeated.headers.get('cache-control')).toMatch(FRESH);
  });

  it('errors, refusals and stale answers are no-store', async () => {
    stack = await startStack({
      env: { PROFILE_TTL_SECONDS: '2', STALE_WHILE_REVALIDATE_SECONDS: '0', STALE_IF_ERROR_SECONDS: '60', GRAPH_MAX_RETRIES: '0' },
    });
    const invalid = await stack.gql('{ instagramUser(id: "1") { nope } }');
    expect(invalid.headers.get('cache-control')).toBe('no-store');
    const badId = await stack.gql(ONE, { id: 'not-an-igsid' });
    expect(badId.errors).toBeDefined();
    expect(badId.headers.get('cache-control')).toBe('no-store');
    const refused = await stack.gql(ONE, { id: '1' }, { 'x-instagram-account': '999' });
    expect(refused.headers.get('cache-control')).toBe('no-store');

    const [id] = igsids(1, 7300);
    expect((await stack.gql(ONE, { id })).headers.get('cache-control')).toMatch(FRESH);
    stack.sim.setScenario(id!, { kind: 'transient' });
    let stale: Awaited<ReturnType<Stack['gql']>> | undefined;
    await waitFor(
      async () => {
        const answer = await stack!.gql(ONE, { id });
        stale = answer;
        return (answer as { extensions?: { staleProfiles?: unknown[] } }).extensions?.staleProfiles?.length === 1;
      },
      { what: 'a stale answer once the profile is past its TTL' },
    );
    expect(stale!.headers.get('cache-control')).toBe('no-store');
  });

  it('automatic persisted queries over GET: unknown hash is no-store, then the hash alone gets ETag and 304', async () => {
    stack = await startStack();
    const [id] = igsids(1, 7400);
    const sha256Hash = createHash('sha256').update(ONE).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const unknown = await get({ extensions, variables: { id } });
    expect((await unknown.json()).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(unknown.headers.get('cache-control')).toBe('no-store');
    const registered = await stack.gql(ONE, { id }, {});
    expect(registered.errors).toBeUndefined();
    await fetch(`${stack.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: ONE, variables: { id }, extensions }) });
    const byHash = await get({ extensions, variables: { id } });
    expect(byHash.status).toBe(200);
    expect((await byHash.json()).data.instagramUser.id).toBe(id);
    expect(byHash.headers.get('cache-control')).toMatch(FRESH);
    const etag = byHash.headers.get('etag');
    expect(etag).toBeTruthy();
    expect((await get({ extensions, variables: { id } }, { 'if-none-match': etag! })).status).toBe(304);
  });
});
