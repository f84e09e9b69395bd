// `npm start` (examples/demo.js) in a real browser: Debian's headless chromium
// driven by puppeteer-core. Two browser contexts (two users: separate cookies
// and connections) land on different workers under the demo's routing 'sid';
// a message typed in one appears in the other through @socket.io/cluster-adapter,
// and the page's balancer stats change as connections are routed and a worker
// is respawned. A screenshot of the page is written to the test's temp dir.
// The control (DEMO_ADAPTER=none) must keep the message on its own worker.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, startFixture, stopAll, type Fixture } from '../helpers/harness';
import { waitUntil } from '../helpers/chat-clients';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let tmp = '';
let browser: Browser | null = null;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-demo-browser-'));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    ignoreDefaultArgs: true, // exactly these flags; puppeteer adds only its debugging pipe/port
    args: [...FLAGS, `--user-data-dir=${path.join(tmp, 'profile')}`, 'about:blank'],
    timeout: 30_000,
  });
}, 40_000);

afterAll(async () => {
  if (browser) await browser.close();
  await stopAll();
  // The screenshots stay (their paths are printed); the profile goes.
  if (tmp) {
    fs.rmSync(path.join(tmp, 'profile'), { recursive: true, force: true });
    if (fs.readdirSync(tmp).length === 0) fs.rmdirSync(tmp);
  }
});

async function startDemo(env: Record<string, string> = {}): Promise<{ fx: Fixture; url: string }> {
  const port = await freePort();
  const fx = await startFixture('examples/demo.js', { env: { PORT: String(port), ...env }, timeoutMs: 20_000 });
  return { fx, url: `http://127.0.0.1:${port}/` };
}

interface Shown { worker: number; pid: number; transport: string; stats: string; routed: number; respawns: number }

/** What the page shows: its worker, transport and the stats table's totals. */
async function shown(page: Page): Promise<Shown | null> {
  return page.evaluate(() => {
    const who = /^worker (\d+) \(pid (\d+)\)$/.exec(document.getElementById('who')!.textContent ?? '');
    const rows = [...document.querySelectorAll('#stats table tr')].slice(1).map((r) => [...r.children].map((c) => c.textContent));
    if (!who || rows.length === 0) return null;
    return {
      worker: Number(who[1]),
      pid: Number(who[2]),
      transport: document.getElementById('transport')!.textContent ?? '',
      stats: document.getElementById('stats')!.textContent ?? '',
      routed: rows.reduce((n, r) => n + Number(r[3]), 0),
      respawns: rows.reduce((n, r) => n + Number(r[4]), 0),
    };
  });
}

async function waitShown(page: Page, ok: (s: Shown) => boolean, what: string, ms = 10_000): Promise<Shown> {
  let last: Shown | null = null;
  const held = await waitUntilAsync(async () => { last = await shown(page); return last !== null && ok(last); }, ms);
  if (!held) {
    const body = await page.evaluate(() => document.body.innerText).catch((e: Error) => `(no body: ${e.message})`);
    throw new Error(`page never showed ${what} within ${ms} ms; last: ${JSON.stringify(last)}; page text: ${body}`);
  }
  return last!;
}

async function waitUntilAsync(done: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

const logText = (page: Page): Promise<string> => page.$eval('#log', (e) => e.textContent ?? '');

/**
 * Two contexts' pages on different workers. Chromium keeps the page's
 * connection alive and sends the Socket.IO handshake on it, so a context's
 * first connection decides its worker: a context that lands on A's worker is
 * closed and a new one tried (bounded).
 */
async function twoWorkers(url: string): Promise<{ a: Page; b: Page; contexts: BrowserContext[]; shownA: Shown; shownB: Shown }> {
  const contexts = [await browser!.createBrowserContext()];
  const a = await contexts[0].newPage();
  await a.goto(url, { timeout: 10_000 });
  const shownA = await waitShown(a, () => true, 'its worker and stats');
  for (let attempt = 0; attempt < 8; attempt++) {
    const context = await browser!.createBrowserContext();
    const b = await context.newPage();
    await b.goto(url, { timeout: 10_000 });
    const shownB = await waitShown(b, () => true, 'its worker and stats');
    if (shownB.worker !== shownA.worker) return { a, b, contexts: [...contexts, context], shownA, shownB };
    await context.close();
  }
  for (const c of contexts) await c.close();
  throw new Error(`8 contexts in a row landed on worker ${shownA.worker}, like the first`);
}

async function say(page: Page, text: string): Promise<void> {
  await page.type('#text', text);
  await page.keyboard.press('Enter');
}

describe('examples/demo.js in headless chromium', () => {
  test('a message crosses workers, the stats on the page follow the balancer, a screenshot is written', async ({ skip }) => {
    if (!browser) skip(`${CHROMIUM} is not installed (apt-get install chromium)`);
    const { fx, url } = await startDemo();
    let contexts: BrowserContext[] = [];
    try {
      const two = await twoWorkers(url);
      contexts = two.contexts;
      const { a, b, shownA } = two;
      // The routed counts on page A grow: B's connections were routed after A's stats came.
      await waitShown(a, (s) => s.routed > shownA.routed && s.stats !== shownA.stats, 'more connections routed');

      const text = `hello from worker ${shownA.worker} ${Date.now()}`;
      await say(a, text);
      expect(await waitUntilAsync(async () => (await logText(b)).includes(text), 10_000), 'the message reached the other worker\'s page').toBe(true);
      expect(await logText(a)).toContain(text);

      // B's worker dies and is respawned: page A (another worker) shows the respawn.
      const victim = (await shown(b))!.pid;
      process.kill(victim, 'SIGKILL');
      const after = await waitShown(a, (s) => s.respawns === 1 && s.stats.includes('workers live 2/2'), 'one respawn, every worker live', 15_000);
      expect(after.stats).not.toContain(`${victim}`);
      await waitShown(a, (s) => s.transport === 'websocket', 'the websocket transport');

      const file = path.join(tmp, `demo-${process.env.STICKY_NATIVE || 'native'}-${process.env.STICKY_TRANSPORT || 'auto'}.png`);
      await a.screenshot({ path: file, fullPage: true });
      expect(fs.statSync(file).size).toBeGreaterThan(1000);
      console.log(`demo screenshot: ${file}`);
    } finally {
      for (const c of contexts) await c.close();
      await fx.stop();
    }
  });

  test('control: with DEMO_ADAPTER=none the message stays on its own worker', async ({ skip }) => {
    if (!browser) skip(`${CHROMIUM} is not installed (apt-get install chromium)`);
    const { fx, url } = await startDemo({ DEMO_ADAPTER: 'none' });
    let contexts: BrowserContext[] = [];
    try {
      const two = await twoWorkers(url);
      contexts = two.contexts;
      const text = `hello from worker ${two.shownA.worker} ${Date.now()}`;
      await say(two.a, text);
      expect(await waitUntilAsync(async () => (await logText(two.a)).includes(text), 10_000), 'the sender\'s page shows it').toBe(true);
      // Bounded: a crossing message arrives within milliseconds with the adapter.
      expect(await waitUntilAsync(async () => (await logText(two.b)).includes(text), 2_000)).toBe(false);
    } finally {
      for (const c of contexts) await c.close();
      await fx.stop();
    }
  });
});
