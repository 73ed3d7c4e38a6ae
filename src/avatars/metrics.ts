import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../metrics.js';

/** The avatar figures, registered in the gateway's own registry beside the profile metrics. */
export class AvatarMetrics {
  readonly lookups: Counter<'account' | 'result'>;
  readonly placeholders: Counter<'account' | 'reason'>;
  readonly bytesServed: Counter<'account' | 'source'>;
  readonly cdnFetches: Counter<'account' | 'outcome'>;
  readonly warms: Counter<'account' | 'result'>;

  constructor(metrics: Metrics, memoryBytes: () => number) {
    const registers = [metrics.registry];
    this.lookups = new Counter({
      name: 'igpg_avatar_lookups_total',
      help: 'Avatar requests by picture cache result (hit: served from cache; miss: profile and CDN asked).',
      labelNames: ['account', 'result'],
      registers,
    });
    this.placeholders = new Counter({
      name: 'igpg_avatar_placeholders_total',
      help: 'Placeholders generated instead of a picture, by reason (no_picture, unreadable, host_refused, cdn_failed, not_image, too_large, busy, error).',
      labelNames: ['account', 'reason'],
      registers,
    });
    this.bytesServed = new Counter({
      name: 'igpg_avatar_bytes_served_total',
      help: 'Avatar body bytes sent to clients (304 answers send none), by source (instagram, placeholder).',
      labelNames: ['account', 'source'],
      registers,
    });
    this.cdnFetches = new Counter({
      name: 'igpg_avatar_cdn_fetches_total',
      help: 'Picture fetches from the CDN by outcome (ok, forbidden, not_found, http_error, network_error, timeout, too_large, not_image, redirect_refused, host_refused: never requested).',
      labelNames: ['account', 'outcome'],
      registers,
    });
    this.warms = new Counter({
      name: 'igpg_avatar_warms_total',
      help: 'Pictures of profiles refresh-ahead re-read, by what warming did (fetched: new bytes cached ahead; failed: the CDN fetch failed, the cached picture stays; current: nothing to do; not_cached: nobody asked for the picture; busy: AVATAR_MAX_CONCURRENT_FETCHES reached; dropped: over the warm queue limit; paused, usage: no headroom, like the profile refresh).',
      labelNames: ['account', 'result'],
      registers,
    });
    new Gauge({
      name: 'igpg_avatar_cache_bytes',
      help: 'Picture bytes held in the in-memory avatar cache (bounded by AVATAR_CACHE_MAX_BYTES).',
      registers,
      collect() {
        this.set(memoryBytes());
      },
    });
  }
}
