import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { documentStore, responseStore } from '../../src/http/apollo-caches.js';

describe("Apollo's caches, bounded by bytes", () => {
  it('the document store keeps what DOCUMENT_CACHE_MAX_BYTES allows at 100 bytes per query character, least recently used going first', async () => {
    const store = documentStore(1_048_576);
    const query = (n: number) => `query Q${String(n).padStart(6, '0')}($id: ID!) { instagramUser(id: $id) { id username name followerCount } }`;
    for (let n = 0; n < 1_000; n++) await store.set(`k${n}`, parse(query(n)));
    const kept = (await Promise.all(Array.from({ length: 1_000 }, (_, n) => store.get(`k${n}`)))).filter(Boolean).length;
    // 86 characters → 8.6 KB each plus the entry's overhead: about 119 fit in 1 MiB.
    expect(kept).toBeGreaterThan(100);
    expect(kept).toBeLessThan(130);
    expect(await store.get('k999')).toBeDefined();
    expect(await store.get('k0')).toBeUndefined();
  });

  it('the response store counts keys and answers in bytes and honours Apollo ttl seconds', async () => {
    const store = responseStore(1_048_576);
    for (let n = 0; n < 100; n++) await store.set(`k${n}`, 'x'.repeat(52_000));
    const kept = (await Promise.all(Array.from({ length: 100 }, (_, n) => store.get(`k${n}`)))).filter(Boolean).length;
    expect(kept).toBe(10);
    await store.set('short', 'v', { ttl: 60 });
    expect(await store.get('short')).toBe('v');
  });
});
