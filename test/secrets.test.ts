import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { spawnGateway, type GatewayProcess } from './support/process.js';
import { igsids, postGraphQL } from './support/stack.js';

const TOKEN = 'IGQWRsecret-token-DO-NOT-LEAK-7f3a9c';
const APP_SECRET = 'app-secret-DO-NOT-LEAK-52be10';
const PROOF = createHmac('sha256', APP_SECRET).update(TOKEN).digest('hex');
const BUSINESS = '17841400000000777';

let sim: Simulator;
let gateway: GatewayProcess;
let url: string;
const answers: string[] = [];

beforeAll(async () => {
  sim = await startSimulator({ tokens: { [TOKEN]: BUSINESS }, appSecrets: { [BUSINESS]: APP_SECRET } });
  gateway = spawnGateway({
    INSTAGRAM_ACCESS_TOKEN: TOKEN,
    INSTAGRAM_APP_SECRET: APP_SECRET,
    INSTAGRAM_GRAPH_URL: sim.url,
    LOG_LEVEL: 'trace',
    GRAPH_RETRY_BASE_MS: '5',
  });
  url = await gateway.ready;
});
afterAll(async () => {
  await gateway?.stop();
  await sim?.close();
});

describe('secrets never leave the gateway', () => {
  it('stay out of logs and answers while errors of every kind are driven', async () => {
    const ids = igsids(8, 40);
    const kinds = ['consent', 'blocked', 'rateLimited', 'tokenInvalid', 'permission', 'transient', 'unknownUser'] as const;
    // The throttle pauses the account (see the usage guard) for the advertised 1 s only.
    kinds.forEach((kind, i) => sim.setScenario(ids[i]!, (kind === 'rateLimited' ? { kind, etaMinutes: 0, retryAfterSeconds: 1 } : { kind }) as never));
    const query = `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id name username profilePic } }`;
    for (const strategy of ['batch', 'single']) {
      const answer = await postGraphQL(url, query, { ids: [...ids, 'bad-id'] });
      answers.push(JSON.stringify(answer));
      expect(answer.errors?.length).toBe(8);
      void strategy;
    }
    // A request that breaks GraphQL itself, and one for an unknown route.
    answers.push(JSON.stringify(await postGraphQL(url, '{ instagramUser(id: ) }')));
    answers.push(await (await fetch(`${url}/nope?access_token=${TOKEN}`)).text());
    // Meta refusing the token for everything (once the throttle pause is over).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    sim.configure({ tokens: { 'another-token': BUSINESS } });
    answers.push(JSON.stringify(await postGraphQL(url, query, { ids: igsids(2, 90) })));
    expect(answers.at(-1)).toContain('ACCESS_TOKEN_INVALID');

    await gateway.stop();
    const everything = gateway.output() + answers.join('\n');
    expect(gateway.output().length).toBeGreaterThan(1000);
    for (const secret of [TOKEN, APP_SECRET, PROOF]) expect(everything).not.toContain(secret);
    // The simulator did see them on the wire, so the check above is not vacuous.
    expect(sim.calls.some((call) => call.token === TOKEN && call.appsecretProof === PROOF)).toBe(true);
  });
});
