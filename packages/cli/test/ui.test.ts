import { describe, expect, it } from 'vitest';
import { reachableDashboard } from '../src/commands/ui/ui.js';
import { fakeApi } from './action-fakes.js';
import { cluster } from './cluster-fixture.js';

describe('hactl ui', () => {
  it("prints the leader's dashboard when it answers", async () => {
    const api = fakeApi({ 'GET /ui/state': { status: 200 } });
    expect(await reachableDashboard(cluster('node2'), api, null)).toBe('http://127.0.0.1:8433/ui');
    expect(api.calls).toHaveLength(1);
  });

  it('skips members that do not answer', async () => {
    const api = fakeApi({ 'GET /ui/state@8432': 'down', 'GET /ui/state': { status: 200 } });
    const url = await reachableDashboard(cluster('node1'), api, null);
    expect(url).not.toBe('http://127.0.0.1:8432/ui');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ui$/);
  });

  it('a named member, or an error naming what failed', async () => {
    const api = fakeApi({ 'GET /ui/state': { status: 200 } });
    expect(await reachableDashboard(cluster(), api, 'node3')).toBe('http://127.0.0.1:8434/ui');
    await expect(reachableDashboard(cluster(), api, 'nope')).rejects.toThrow(/no member "nope"/);
    await expect(reachableDashboard(cluster(), fakeApi({}), null)).rejects.toThrow(
      /no member's dashboard answered \(node1: .*ECONNREFUSED/,
    );
  });
});
