import { writeFileSync } from 'node:fs';
import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { startOtlpReceiver, renderTree, type OtlpReceiver } from './support/otlp-receiver.js';
import { igsids, startStack, TEST_TOKEN, type Stack } from './support/stack.js';
import { metric, waitForMetric } from './support/metrics.js';
import { postSigned } from './support/webhook.js';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const SECRET = 'app-secret-for-tracing-9d1e';
const HEADER_KEY = 'collector-api-key-5b7a0c';

let stack: Stack | undefined;
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await stack?.close();
  await receiver?.close();
  stack = undefined;
  receiver = undefined;
});

describe('OpenTelemetry traces', () => {
  it('one instagramUsers query of 70 ids: HTTP → GraphQL → one CLIENT span per Graph round trip, continuing the client traceparent', async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${HEADER_KEY}`,
        INSTAGRAM_APP_SECRET: SECRET,
      },
    });
    const ids = igsids(70, 5000);
    const answer = await stack.gql<{ instagramUsers: Array<{ id: string }> }>(
      'query Inbox($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }',
      { ids },
      { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
    );
    expect(answer.data?.instagramUsers).toHaveLength(70);
    await stack.close(); // flushes the exporter
    stack = undefined;

    const spans = receiver.spans.filter((s) => s.traceId === CLIENT_TRACE);
    const http = spans.find((s) => s.parentSpanId === CLIENT_SPAN)!;
    expect(http).toMatchObject({ name: 'POST /graphql', kind: 2 });
    expect(http.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/graphql', 'http.response.status_code': 200 });
    expect(http.resource['service.name']).toBe('ig-profile-gateway');
    const operation = spans.find((s) => s.parentSpanId === http.spanId)!;
    expect(operation.name).toBe('query Inbox');
    expect(operation.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Inbox', 'instagram.account.id': '17841400000000001' });
    const calls = spans.filter((s) => s.kind === 3);
    expect(calls.map((s) => s.parentSpanId)).toEqual([operation.spanId, operation.spanId]);
    expect(calls.map((s) => s.attributes['instagram.ids.count']).sort()).toEqual([20, 50]);
    for (const call of calls) {
      expect(call.attributes).toMatchObject({ 'instagram.strategy': 'batch', 'instagram.account.id': '17841400000000001', 'http.response.status_code': 200 });
    }
    // Nothing secret in any span, any attribute, anywhere in the export.
    const exported = receiver.requests.map((r) => r.body.toString('utf8')).join('\n');
    for (const secret of [TEST_TOKEN, SECRET, HEADER_KEY]) expect(exported).not.toContain(secret);
    expect(exported).not.toContain('appsecret_proof');
    // Start-up's /me call is background work: a trace of its own.
    expect(receiver.spans.some((s) => s.name === 'graph me' && s.parentSpanId === '' && s.traceId !== CLIENT_TRACE)).toBe(true);

    const tree = renderTree(spans, CLIENT_SPAN);
    if (process.env.TRACE_TREE_OUT) writeFileSync(process.env.TRACE_TREE_OUT, `${tree}\n`);
    expect(tree.split('\n')).toHaveLength(4);
  });

  it('a hot repeat, answered before Fastify and Apollo, is still one SERVER span continuing the client traceparent', async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } });
    const query = 'query One($id: ID!) { instagramUser(id: $id) { id username } }';
    const [id] = igsids(1, 5100);
    const hits = () => metric(stack!.url, 'igpg_cache_lookups_total', { layer: 'response', result: 'hit' });
    // Kept from the second sighting on: the third is answered by the hot path.
    for (const n of [1, 2, 3]) {
      const answer = await stack.gql(query, { id }, { traceparent: `00-${CLIENT_TRACE.slice(0, -1)}${n}-${CLIENT_SPAN}-01` });
      expect(answer.errors).toBeUndefined();
    }
    expect(await hits()).toBe(1);
    await stack.close();
    stack = undefined;
    const hot = receiver.spans.filter((s) => s.traceId === `${CLIENT_TRACE.slice(0, -1)}3`);
    expect(hot).toHaveLength(1);
    expect(hot[0]).toMatchObject({ name: 'POST /graphql', kind: 2, parentSpanId: CLIENT_SPAN });
    expect(hot[0]!.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/graphql', 'url.path': '/graphql', 'http.response.status_code': 200 });
  });

  it('a Graph error code is on its round-trip span', async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', GRAPH_BATCH_STRATEGY: 'single' } });
    const answer = await stack.gql('{ instagramUser(id: "99900001") { id } }');
    expect(answer.errors?.[0]?.extensions?.code).toBe('CONSENT_REQUIRED');
    await stack.close();
    stack = undefined;
    expect(receiver.requests.every((r) => r.path === '/custom/traces')).toBe(true);
    const call = receiver.spans.find((s) => s.name === 'graph single')!;
    expect(call.attributes).toMatchObject({ 'instagram.graph.error_code': 230, 'http.response.status_code': 400, 'instagram.ids.count': 1 });
    expect(call.status.code).toBe(2);
  });

  it('http/protobuf is the default protocol', async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
    await stack.gql('{ instagramUser(id: "1784140000000001") { id } }');
    await stack.close();
    stack = undefined;
    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const request of receiver.requests) {
      expect(request.path).toBe('/v1/traces');
      expect(request.contentType).toBe('application/x-protobuf');
      expect(request.body.length).toBeGreaterThan(0);
      expect(request.body.includes(Buffer.from('ig-profile-gateway'))).toBe(true);
      expect(request.body.includes(Buffer.from(TEST_TOKEN))).toBe(false);
    }
  });

  it('background work is a trace of its own: webhook processing, each prefetch group and each refresh-ahead read, with their Graph round trips under them', { timeout: 60_000 }, async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', INSTAGRAM_APP_SECRET: SECRET, PROFILE_TTL_SECONDS: '2' },
      sim: { appSecrets: {} },
    });
    const [sender] = igsids(1, 6000);
    const body = JSON.stringify({
      object: 'instagram',
      entry: [{ id: '17841400000000001', time: Date.now(), messaging: [{ sender: { id: sender }, recipient: { id: '17841400000000001' }, timestamp: Date.now(), message: { mid: 'mid-trace-1', text: 'hello' } }] }],
    });
    expect(await postSigned(stack.url, body, SECRET)).toBe(200);
    // The sender's profile is prefetched, then re-read by refresh-ahead before its 2 s of freshness end.
    await waitForMetric(stack.url, 'igpg_refresh_ahead_profiles_total', { result: 'ok' }, 1, { timeout: 30_000 });
    await stack.close(); // waits for background work in flight, then flushes the exporter
    stack = undefined;
    const processing = receiver.spans.find((s) => s.name === 'webhook.process')!;
    expect(processing.parentSpanId).toBe('');
    expect(processing.attributes['webhook.entries.count']).toBe(1);
    const http = receiver.spans.find((s) => s.name === 'POST /webhooks/instagram')!;
    expect(http.traceId).not.toBe(processing.traceId);
    for (const name of ['webhook.prefetch', 'refresh_ahead.read']) {
      const root = receiver.spans.find((s) => s.name === name);
      expect(root, name).toBeDefined();
      expect(root!.parentSpanId, name).toBe('');
      expect(root!.attributes['instagram.ids.count'], name).toBe(1);
      expect([processing.traceId, http.traceId], name).not.toContain(root!.traceId);
      const calls = receiver.spans.filter((s) => s.traceId === root!.traceId && s.kind === 3);
      expect(calls.length, name).toBeGreaterThan(0);
      for (const call of calls) {
        expect(call.parentSpanId, name).toBe(root!.spanId);
        expect(call.attributes, name).toMatchObject({ 'instagram.account.id': '17841400000000001', 'instagram.ids.count': 1, 'http.response.status_code': 200 });
      }
    }
  });

  it('is off without an endpoint: no SDK registered, spans are not recorded', async () => {
    stack = await startStack();
    await stack.gql('{ instagramUser(id: "1784140000000001") { id } }');
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
  });
});
