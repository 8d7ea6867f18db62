import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HACTL_MAIN, sleep, TestCluster, waitFor } from '@hapg/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The dashboard in a real browser (Debian's chromium, headless) against a real 3-node
 * cluster: every change must reach the open page through its event stream, never a reload.
 * The page is served by a node that stays up (a replica when the test starts), so killing the
 * primary does not kill the page. REST auth is on: the dashboard is a GET, open as /cluster is.
 * Screenshots of each state go to test-results/ui/ (the CI artefact).
 */
// The bodies of page.evaluate/waitForFunction run in the browser; these stand for its globals
// (the tests' tsconfig has no DOM lib, which would clash with node's types elsewhere).
interface BrowserNode {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  querySelector(selector: string): BrowserNode | null;
  querySelectorAll(selector: string): { readonly length: number };
  getElementById(id: string): BrowserNode | null;
  readonly documentElement: { readonly scrollWidth: number };
};
declare const window: Record<string, unknown>;

const TTL_S = 4;
const SHOTS = join(process.cwd(), 'test-results', 'ui');
const AUTH = { username: 'admin', password: 'ui-test-secret' };
/** the failover bound the other e2e tests use at this ttl, plus the page's push interval */
const FAILOVER_BUDGET_MS = 30_000;

describe('dashboard', () => {
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;
  let watcherName: string;

  const uiBase = (apiUrl: string) => apiUrl.replace(/\/patroni$/, '');
  const leaseHolder = async () => (await page.locator('#lease-holder').textContent()) ?? '';
  const memberRoles = () =>
    page.$$eval('[data-member]', (els) =>
      Object.fromEntries(els.map((e) => [e.getAttribute('data-member'), e.getAttribute('data-role')])),
    );
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    cluster = await TestCluster.start({
      nodes: 3,
      ttl: TTL_S,
      loopWait: 1,
      retryTimeout: 1,
      primaryStartTimeout: 10,
      restapiAuth: AUTH,
    });
    await cluster.waitHealthy(120_000);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      // the tests run as root, where chromium's sandbox cannot start
      args: ['--no-sandbox'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it('shows the three members with their roles and the lease holder; loads fast; fits a phone', async () => {
    const primary = await cluster.waitHealthy();
    const watcher = cluster.nodes.find((n) => n !== primary)!;
    watcherName = watcher.name;
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    // navigation start → the first state drawn (the page's own mark), cold and then warm
    const loads: string[] = [];
    for (const pass of ['cold', 'warm']) {
      if (pass === 'cold') await page.goto(`${uiBase(watcher.apiUrl)}/ui`);
      else await page.reload();
      await page.waitForFunction(() => document.querySelectorAll('[data-member]').length === 3);
      const t = await page.evaluate(() => {
        const entries = (performance.getEntriesByType as (type: string) => unknown[])('navigation');
        const n = entries[0] as { domContentLoadedEventEnd: number };
        const mark = performance.getEntriesByName('hapg-first-state')[0];
        return { domContentLoadedMs: n.domContentLoadedEventEnd, firstStateMs: mark?.startTime ?? -1 };
      });
      loads.push(
        `${pass}: DOMContentLoaded ${t.domContentLoadedMs.toFixed(0)} ms, cluster drawn ${t.firstStateMs.toFixed(0)} ms`,
      );
    }
    console.log(`dashboard load on loopback (navigation start →): ${loads.join('; ')}`);
    await waitFor(async () => (await leaseHolder()) === primary.name, {
      timeoutMs: 10_000,
      what: 'lease holder',
    });
    const roles = await memberRoles();
    expect(Object.keys(roles).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
    expect(roles[primary.name]).toBe('leader');
    for (const n of cluster.nodes) if (n !== primary) expect(roles[n.name]).toMatch(/replica|sync_standby/);
    expect(await page.locator('#status').textContent()).toBe('live');
    // every replica streams from the primary: the topology nests them under it
    await waitFor(
      async () =>
        (await page.locator(`li:has(> [data-member="${primary.name}"]) [data-member]`).count()) === 3,
      { timeoutMs: 10_000, what: 'replicas drawn under the leader' },
    );
    // the holder's lease as it reports it (the watcher asks its peers every 2 s)
    await waitFor(
      async () => /^\d+\.\d s of 4 s$/.test((await page.locator('#lease-left').textContent()) ?? ''),
      {
        timeoutMs: 10_000,
        what: "the lease's time left",
      },
    );
    const body = (await page.locator('body').textContent()) ?? '';
    expect(body).not.toContain(AUTH.password);
    await shot('1-healthy');
    // hactl ui: the leader's dashboard, which answers
    const hactl = await promisify(execFile)(
      process.execPath,
      [HACTL_MAIN, '--etcd', cluster.etcd.endpoints.join(','), '--scope', cluster.scope, '-o', 'json', 'ui'],
      { timeout: 30_000 },
    );
    expect(JSON.parse(hactl.stdout)).toEqual({ url: `${uiBase(primary.apiUrl)}/ui` });
    // a phone: nothing wider than the screen
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(300);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('1-healthy-phone');
    await page.setViewportSize({ width: 1200, height: 900 });
    // a marker that a reload would lose
    await page.evaluate(() => {
      window.notReloaded = true;
    });
  });

  const stillSamePage = () => page.evaluate(() => window.notReloaded === true);

  it('kill the primary host: the page shows the new leader and a failover event without a reload', async () => {
    const old = await cluster.waitHealthy();
    const killedAt = Date.now();
    await cluster.killHost(old);
    await page.waitForFunction(
      (oldName) => {
        const holder = document.getElementById('lease-holder')?.textContent ?? '';
        const leader = document.querySelector('[data-role="leader"]')?.getAttribute('data-member');
        return (
          holder !== oldName &&
          !holder.startsWith('nobody') &&
          leader === holder &&
          document.querySelector('#events li[data-type="failover"]') !== null
        );
      },
      old.name,
      { timeout: FAILOVER_BUDGET_MS },
    );
    console.log(`dashboard showed the new leader ${Date.now() - killedAt} ms after the kill`);
    const next = await cluster.waitForPrimary(10_000, old);
    expect(await leaseHolder()).toBe(next.name);
    expect(await page.locator('#events li[data-type="failover"]').first().textContent()).toContain(next.name);
    expect(await stillSamePage()).toBe(true);
    await shot('2-after-failover');
    await old.start();
    await cluster.waitHealthy(60_000);
    await waitFor(async () => (await page.locator('[data-member]').count()) === 3, {
      timeoutMs: 20_000,
      what: 'the old primary back on the page',
    });
  });

  it('a switchover shows the same way', async () => {
    const old = await cluster.waitHealthy();
    const candidate =
      cluster.nodes.find((n) => n !== old && n.name !== watcherName) ?? cluster.nodes.find((n) => n !== old)!;
    const res = await fetch(`${uiBase(old.apiUrl)}/switchover`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64')}`,
      },
      body: JSON.stringify({ leader: old.name, candidate: candidate.name }),
    });
    expect([200, 202], await res.text()).toContain(res.status);
    await page.waitForFunction(
      (name) =>
        document.getElementById('lease-holder')?.textContent === name &&
        document.querySelector('[data-role="leader"]')?.getAttribute('data-member') === name &&
        document.querySelector('#events li[data-type="switchover"]') !== null,
      candidate.name,
      { timeout: FAILOVER_BUDGET_MS },
    );
    expect(await stillSamePage()).toBe(true);
    await shot('3-after-switchover');
    await cluster.waitHealthy(60_000);
  });

  it('with etcd stopped, the page says "cluster data as of" and keeps the members', async () => {
    for (const m of cluster.etcd.members) await m.stop();
    try {
      await page.waitForFunction(
        () => /cluster data as of \d\d:\d\d:\d\d/.test(document.getElementById('status')?.textContent ?? ''),
        undefined,
        { timeout: 20_000 },
      );
      expect(await page.locator('[data-member]').count()).toBe(3);
      expect(await page.locator('#status').getAttribute('data-state')).toBe('stale');
      expect(await stillSamePage()).toBe(true);
      await shot('4-etcd-stopped');
    } finally {
      for (const m of cluster.etcd.members) await m.start();
    }
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', undefined, {
      timeout: 30_000,
    });
  });
});
