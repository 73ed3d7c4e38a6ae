import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { PLAYGROUND_EXAMPLES } from '../src/http/playground-examples.js';
import { simulatedProfile } from '../src/simulator/index.js';
import { startStack, TEST_TOKEN, type Stack } from './support/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const chromiumRequired = process.env.CI === 'true' || process.env.REQUIRE_CHROMIUM === '1';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !chromiumRequired) {
  console.warn(`\n⚠ SKIPPING the browser playground test: no chromium at ${CHROMIUM} (apt install chromium, or set CHROMIUM_PATH)\n`);
}

const page = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

describe('playground and introspection settings', () => {

  it('are on by default outside production and off by default in production', () => {
    const dev = loadConfig({});
    expect([dev.server.playground, dev.server.introspection]).toEqual([true, true]);
    const prod = loadConfig({ NODE_ENV: 'production', INSTAGRAM_ACCESS_TOKEN: TEST_TOKEN });
    expect([prod.server.playground, prod.server.introspection]).toEqual([false, false]);
    const prodOn = loadConfig({ NODE_ENV: 'production', INSTAGRAM_ACCESS_TOKEN: TEST_TOKEN, PLAYGROUND: 'true', INTROSPECTION: '1' });
    expect([prodOn.server.playground, prodOn.server.introspection]).toEqual([true, true]);
    expect(() => loadConfig({ PLAYGROUND: 'maybe' })).toThrow('PLAYGROUND must be true or false (got "maybe")');
  });

  it('when off: /playground is 404, browsers on /graphql get no page, introspection is refused, queries still work', async () => {
    const stack = await startStack({ env: { PLAYGROUND: 'false', INTROSPECTION: 'false' } });
    try {
      expect((await page(`${stack.url}/playground`)).status).toBe(404);
      expect((await page(`${stack.url}/playground/assets/graphiql.min.js`)).status).toBe(404);
      const browserVisit = await page(`${stack.url}/graphql`, { accept: 'text/html' });
      expect(browserVisit.headers.get('content-type')).not.toContain('text/html');
      const introspection = await stack.gql('{ __schema { queryType { name } } }');
      expect(introspection.errors?.[0]?.message).toMatch(/introspection is not allowed/i);
      const answer = await stack.gql<{ instagramUser: { username: string } }>('{ instagramUser(id: "1784140000000001") { username } }');
      expect(answer.data?.instagramUser.username).toBe(simulatedProfile('1784140000000001').username);
    } finally {
      await stack.close();
    }
  });

  it('when on: the page and its assets come from the gateway itself, with a strict CSP, and /graphql still answers API calls', async () => {
    const stack = await startStack();
    try {
      for (const url of [`${stack.url}/playground`, `${stack.url}/graphql`]) {
        const response = await page(url, { accept: 'text/html,application/xhtml+xml' });
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(response.headers.get('content-security-policy')).toContain("script-src 'self';");
        const html = await response.text();
        const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
        expect(sources.length).toBeGreaterThanOrEqual(6);
        for (const source of sources) {
          expect(source.startsWith('/playground/assets/'), source).toBe(true);
          expect((await page(`${stack.url}${source}`)).status, source).toBe(200);
        }
      }
      const get = await page(`${stack.url}/graphql?query=${encodeURIComponent('{__typename}')}`, {
        accept: 'text/html,application/json;q=0.9',
        'apollo-require-preflight': 'true',
      });
      expect(await get.json()).toEqual({ data: { __typename: 'Query' } });

      // The preloaded examples run as the README says: data, or the typed error they demonstrate.
      const codes: unknown[][] = [];
      for (const example of PLAYGROUND_EXAMPLES) {
        const answer = await stack.gql(example.query);
        expect(answer.data, example.query).toBeTruthy();
        codes.push(answer.errors?.map((error) => error.extensions?.code) ?? []);
      }
      expect(codes).toEqual([[], ['CONSENT_REQUIRED'], ['CONSENT_REQUIRED'], ['BAD_USER_INPUT']]);
    } finally {
      await stack.close();
    }
  });
});

describe.skipIf(!haveChromium && !chromiumRequired)('playground in a real browser (offline)', () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    if (!haveChromium) return; // the test itself fails, so CI counts it as failed
    stack = await startStack();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('loads with no request leaving 127.0.0.1, runs a typed query and shows the simulated profile', { timeout: 60_000 }, async () => {
    if (!haveChromium) throw new Error(`chromium is required (CI / REQUIRE_CHROMIUM=1) but ${CHROMIUM} does not exist`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const blocked: string[] = [];
    const problems: string[] = [];
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      blocked.push(url.href);
      return route.abort();
    });
    const tab = await context.newPage();
    tab.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    tab.on('pageerror', (error) => problems.push(error.message));

    await tab.goto(`${stack.url}/playground`);
    const editor = tab.locator('.graphiql-query-editor .CodeMirror').first();
    await editor.waitFor({ timeout: 20_000 });
    // The README's examples are preloaded as tabs.
    await expect.poll(() => tab.locator('.graphiql-tab').count()).toBeGreaterThanOrEqual(4);

    const id = '1784140000000042';
    await editor.click();
    await tab.keyboard.press('Control+A');
    await tab.keyboard.press('Delete');
    // CodeMirror closes brackets and quotes itself and types over a closing one: the result is exact.
    await tab.keyboard.type(`{ instagramUser(id: "${id}") { username followerCount } }`);
    const typed = await tab.evaluate(() => (document.querySelector('.graphiql-query-editor .CodeMirror') as unknown as { CodeMirror: { getValue(): string } }).CodeMirror.getValue());
    expect(typed.replace(/\s+/g, ' ')).toBe(`{ instagramUser(id: "${id}") { username followerCount } }`);

    // GraphiQL re-parses the editor (and picks the operation to run) 100 ms after the last keystroke.
    await tab.waitForTimeout(300);
    await tab.locator('.graphiql-execute-button').click();
    const expected = simulatedProfile(id);
    const result = tab.locator('.graphiql-response');
    await expect.poll(() => result.innerText(), { timeout: 15_000 }).toContain(expected.username!);
    expect(await result.innerText()).toContain(String(expected.follower_count));

    // The docs explorer works (introspection is on outside production).
    await tab.getByRole('button', { name: /documentation explorer/i }).click();
    await expect.poll(() => tab.locator('.graphiql-doc-explorer').innerText(), { timeout: 10_000 }).toContain('Query');

    mkdirSync('test-artifacts', { recursive: true });
    await tab.screenshot({ path: 'test-artifacts/playground.png' });
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
