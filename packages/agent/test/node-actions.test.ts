import { describe, expect, it } from 'vitest';
import type { NodeSnapshot } from '../src/api/snapshot.js';
import { NodeActions, restartFilterMiss, versionNum } from '../src/node-actions.js';

const snap = (over: Partial<NodeSnapshot>): NodeSnapshot =>
  ({
    role: 'replica',
    pendingRestart: false,
    serverVersion: 150018,
    holdsLeaderKey: false,
    leaderName: 'n2',
    pgState: 'running',
    inRecovery: true,
    ...over,
  }) as NodeSnapshot;
const req = {
  restartPending: false,
  role: null,
  postgresVersion: null,
  timeoutMs: null,
  scheduleAtMs: null,
} as const;

describe('restart filters', () => {
  it('skips a node without a pending restart when only pending ones are asked for', () => {
    expect(restartFilterMiss({ ...req, restartPending: true }, snap({}))).toBe('no restart is pending');
    expect(restartFilterMiss({ ...req, restartPending: true }, snap({ pendingRestart: true }))).toBeNull();
  });
  it('filters by role and by version', () => {
    expect(restartFilterMiss({ ...req, role: 'primary' }, snap({}))).toBe('role is replica, not primary');
    expect(restartFilterMiss({ ...req, postgresVersion: '15.4' }, snap({}))).toMatch(/not older than 15.4/);
    expect(restartFilterMiss({ ...req, postgresVersion: '16' }, snap({}))).toBeNull();
    expect(versionNum('15.4')).toBe(150004);
    expect(versionNum('x')).toBeNull();
  });
});

describe('reinitialize', () => {
  const actions = (s: NodeSnapshot) =>
    new NodeActions({ ha: { snapshot: () => s, reinitialize: async () => {} } } as never);
  it('is refused on the leader', async () => {
    const r = await actions(snap({ holdsLeaderKey: true, role: 'primary', inRecovery: false })).reinitialize({
      force: true,
    });
    expect(r.status).toBe(503);
    expect(JSON.stringify(r.body)).toMatch(/leader/);
  });
  it('is refused without a leader to clone from', async () => {
    expect((await actions(snap({ leaderName: null })).reinitialize({ force: false })).status).toBe(503);
  });
  it('starts on a replica', async () => {
    expect((await actions(snap({})).reinitialize({ force: false })).status).toBe(200);
  });
});

describe('restart', () => {
  const log = { info: () => {}, error: () => {}, warn: () => {} };
  const actions = (restartInPlace: () => Promise<void>) =>
    new NodeActions({ ha: { snapshot: () => snap({}), restartInPlace }, log } as never);

  it('answers 503 once the request’s timeout passes, while Postgres keeps starting (issue 11: ignored)', async () => {
    let finish = () => {};
    const starting = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const r = await actions(() => starting).restart({ ...req, timeoutMs: 30 });
    expect(r.status).toBe(503);
    expect(JSON.stringify(r.body)).toMatch(/did not complete within 30 ms/);
    finish();
  });

  it('quotes a failed start’s error briefly, not the server’s whole log tail (issue 11: ~3 KB)', async () => {
    const tail = Array.from({ length: 60 }, (_, i) => `2026-12-01 LOG:  line ${i} of the server log`).join(
      '\n',
    );
    const r = await actions(async () => {
      throw new Error(`postgres exited with code 1\n${tail}`);
    }).restart(req);
    expect(r.status).toBe(503);
    const text = JSON.stringify(r.body);
    expect(text.length).toBeLessThan(600);
    expect(text).toMatch(/postgres exited with code 1/);
    expect(text).toMatch(/line 59 of the server log/);
  });
});
