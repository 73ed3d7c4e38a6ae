import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { spawnGateway, type GatewayProcess } from './support/process.js';
import { igsids, postGraphQL } from './support/stack.js';

const TOKEN = 'IGQWRsecret-token-DO-NOT-LEAK-7f3a9c';
const APP_SECRET = 'app-secret-DO-NOT-LEAK-52be10';
const PROOF = createHmac('sha256', APP_SECRET).update(TOKEN).digest('hex');
const BUSINESS = '17841400000000777';

describe.each(['batch', 'single', 'ids'] as const)('secrets never leave the gateway (GRAPH_BATCH_STRATEGY=%s)', (strategy) => {
  let sim: Simulator;
  let gateway: GatewayProcess;
  let url: string;
  const answers: string[] = [];

  beforeAll(async () => {
    // `ids` on a host where ?ids= still works, so failing groups are bisected (more calls, more log lines).
    sim = await startSimulator({ tokens: { [TOKEN]: BUSINESS }, appSecrets: { [BUSINESS]: APP_SECRET }, legacyIds: 'working' });
    gateway = spawnGateway({
      INSTAGRAM_ACCESS_TOKEN: TOKEN,
      INSTAGRAM_APP_SECRET: APP_SECRET,
      INSTAGRAM_GRAPH_URL: sim.url,
      GRAPH_BATCH_STRATEGY: strategy,
      LOG_LEVEL: 'trace',
      GRAPH_RETRY_BASE_MS: '5',
    });
    url = await gateway.ready;
  });
  afterAll(async () => {
    await gateway?.stop();
    await sim?.close();
  });

  it('stay out of logs and answers while errors of every kind are driven', async () => {
    const query = `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id name username profilePic } }`;
    // Meta refusing the token for everything.
    sim.configure({ tokens: { 'another-token': BUSINESS } });
    answers.push(JSON.stringify(await postGraphQL(url, query, { ids: igsids(2, 90) })));
    expect(answers.at(-1)).toContain('ACCESS_TOKEN_INVALID');
    sim.configure({ tokens: { [TOKEN]: BUSINESS } });

    const ids = igsids(8, 40);
    const kinds = ['consent', 'blocked', 'rateLimited', 'tokenInvalid', 'permission', 'transient', 'unknownUser'] as const;
    kinds.forEach((kind, i) => sim.setScenario(ids[i]!, { kind } as never));
    const answer = await postGraphQL(url, query, { ids: [...ids, 'bad-id'] });
    answers.push(JSON.stringify(answer));
    // One error per failing id (7) and the malformed one. Legacy ?ids= fails a whole sub-group on a
    // token or permission error (not bisected), so it may report more.
    if (strategy === 'ids') expect(answer.errors?.length).toBeGreaterThanOrEqual(8);
    else expect(answer.errors?.length).toBe(8);
    expect(sim.calls.some((call) => call.kind === strategy)).toBe(true);
    // A request that breaks GraphQL itself, and one for an unknown route.
    answers.push(JSON.stringify(await postGraphQL(url, '{ instagramUser(id: ) }')));
    answers.push(await (await fetch(`${url}/nope?access_token=${TOKEN}`)).text());

    await gateway.stop();
    const everything = gateway.output() + answers.join('\n');
    expect(gateway.output().length).toBeGreaterThan(1000);
    for (const secret of [TOKEN, APP_SECRET, PROOF]) expect(everything).not.toContain(secret);
    // The simulator did see them on the wire, so the check above is not vacuous.
    expect(sim.calls.some((call) => call.token === TOKEN && call.appsecretProof === PROOF)).toBe(true);
  });
});
