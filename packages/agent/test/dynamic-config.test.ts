import { type ClusterView, defaultDynamicConfig } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { DynamicConfigReader } from '../src/dynamic-config.js';
import { viewOf } from './cluster-ops-fixtures.js';
import { apiRig } from './api-rig.js';

/** `n` JSON objects inside each other (the root is level 1), as text: JSON.parse copes, recursion may not. */
const nestedJson = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

function recordingLog() {
  const lines: { obj: unknown; msg: string }[] = [];
  return {
    lines,
    log: { warn: (obj: unknown, msg?: string) => lines.push({ obj, msg: msg ?? '' }) } as never,
  };
}

const withConfig = (value: Record<string, unknown>, modRevision: string): ClusterView =>
  viewOf({ config: { value, modRevision } });

describe('DynamicConfigReader: problems of the config key are logged once per write', () => {
  const bootstrap = defaultDynamicConfig();

  it('an invalid config: one warning for as many loops as it stays, the previous config kept', () => {
    const { lines, log } = recordingLog();
    const reader = new DynamicConfigReader({ log, bootstrap });
    const good = reader.read(withConfig({ ttl: 30, loop_wait: 10 }, '2'), null);
    expect(good.ttlMs).toBe(30_000);
    const bad = withConfig({ ttl: 'thirty' }, '3');
    for (let loop = 0; loop < 50; loop++) expect(reader.read(bad, good)).toBe(good);
    expect(lines.map((l) => l.msg)).toEqual(['invalid dynamic config in etcd: keeping the previous one']);
    // written again (even with the same bad value): a new write, one more warning
    reader.read(withConfig({ ttl: 'thirty' }, '4'), good);
    reader.read(withConfig({ ttl: 'thirty' }, '4'), good);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.obj).toMatchObject({ modRevision: '4', err: expect.stringContaining('ttl') });
  });

  it('unknown keys: warned once per write, not every loop', () => {
    const { lines, log } = recordingLog();
    const reader = new DynamicConfigReader({ log, bootstrap });
    const view = withConfig({ ttl: 30, loop_wait: 10, tll: 5 }, '7');
    for (let loop = 0; loop < 20; loop++) reader.read(view, null);
    expect(lines.map((l) => l.msg)).toEqual([
      'etcd config key: tll: unknown key, kept as is; did you mean "ttl"?',
    ]);
  });

  it('an invalid config before any valid one falls back to bootstrap.dcs, and says so naming the key', () => {
    const { lines, log } = recordingLog();
    const reader = new DynamicConfigReader({ log, bootstrap });
    expect(reader.read(withConfig({ ttl: [] }, '2'), null)).toBe(bootstrap);
    expect(reader.read(viewOf({ config: null }), null)).toBe(bootstrap);
    expect(lines.map((l) => l.msg)).toEqual([
      'invalid dynamic config in etcd: running on bootstrap.dcs until it is fixed',
    ]);
    expect(lines[0]!.obj).toMatchObject({ modRevision: '2', err: expect.stringContaining('ttl') });
  });
});

describe('PATCH/PUT /config: nesting depth', () => {
  const rig = () => apiRig({ clusterOps: { switchWaitMs: () => 5 } });

  it.each(['PATCH', 'PUT'] as const)(
    '%s of 5 000 levels → 400 naming the bound, nothing written',
    async (method) => {
      const { app, store } = rig();
      const r = await app.inject({
        method,
        url: '/config',
        headers: { 'content-type': 'application/json' },
        payload: `{"ttl":30,"loop_wait":10,"x":${nestedJson(5000)}}`,
      });
      expect(r.statusCode).toBe(400);
      expect(r.body).toContain('x.a.a: nested more than 32 levels deep');
      expect(r.body).not.toContain('call stack');
      expect(store.writes).toEqual([]);
      await app.close();
    },
  );

  it('30 levels are stored', async () => {
    const { app, store } = rig();
    const r = await app.inject({
      method: 'PATCH',
      url: '/config',
      headers: { 'content-type': 'application/json' },
      payload: `{"x":${nestedJson(29)}}`,
    });
    expect(r.statusCode).toBe(200);
    expect(store.writes).toHaveLength(1);
    await app.close();
  });
});
