import { type DynamicConfig, defaultDynamicConfig, parseDynamicConfig, toLsn } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { checkSwitchover, type SwitchRequest } from '../src/cluster-ops/check-switchover.js';
import { ClusterOps } from '../src/cluster-ops/cluster-ops.js';
import { decideConfig, FakeStore, member, viewOf, WALL_NOW_MS, withMembers } from './cluster-ops-fixtures.js';

const sw = (extra: Partial<SwitchRequest> = {}): SwitchRequest => ({
  kind: 'switchover',
  leader: 'node1',
  candidate: 'node2',
  scheduledAt: null,
  ...extra,
});
const fo = (extra: Partial<SwitchRequest> = {}): SwitchRequest => ({
  kind: 'failover',
  leader: null,
  candidate: 'node2',
  scheduledAt: null,
  ...extra,
});
const FUTURE = '2026-01-01T01:00:00+00:00';
/** what the key holds: the canonical form of FUTURE, readable by Patroni too */
const FUTURE_UTC = '2026-01-01T01:00:00.000Z';
const PAST = '2025-12-31T23:00:00Z';

const lagging = withMembers(
  viewOf({ status: { optime: 1000 + 2 * 1024 * 1024, slots: {}, retainSlots: [] } }),
  member('node2', { xlogLocation: toLsn(1000) }),
);
const syncView = {
  ...viewOf(),
  sync: { leader: 'node1', syncStandbys: ['node3'], quorum: null, modRevision: '4' },
};

describe('checkSwitchover refusals', () => {
  const rows: [
    string,
    ReturnType<typeof viewOf>,
    ReturnType<typeof decideConfig>,
    SwitchRequest,
    number,
    string,
  ][] = [
    ['switchover without leader', viewOf(), decideConfig(), sw({ leader: null }), 400, 'LEADER_REQUIRED'],
    [
      'failover without candidate',
      viewOf(),
      decideConfig(),
      fo({ candidate: null }),
      400,
      'CANDIDATE_REQUIRED',
    ],
    [
      'scheduled failover',
      viewOf(),
      decideConfig(),
      fo({ scheduledAt: FUTURE }),
      400,
      'FAILOVER_CANNOT_BE_SCHEDULED',
    ],
    ['bad time', viewOf(), decideConfig(), sw({ scheduledAt: 'tomorrow' }), 400, 'BAD_SCHEDULED_AT'],
    [
      'time without zone',
      viewOf(),
      decideConfig(),
      sw({ scheduledAt: '2026-01-01T01:00:00' }),
      400,
      'BAD_SCHEDULED_AT',
    ],
    [
      'impossible date',
      viewOf(),
      decideConfig(),
      sw({ scheduledAt: '2026-13-45T01:00:00Z' }),
      400,
      'BAD_SCHEDULED_AT',
    ],
    [
      'scheduled in the past',
      viewOf(),
      decideConfig(),
      sw({ scheduledAt: PAST }),
      400,
      'SCHEDULED_IN_THE_PAST',
    ],
    [
      'scheduled exactly now',
      viewOf(),
      decideConfig(),
      sw({ scheduledAt: '2026-01-01T00:00:00Z' }),
      400,
      'SCHEDULED_IN_THE_PAST',
    ],
    [
      'leader is not the leader',
      viewOf(),
      decideConfig(),
      sw({ leader: 'node2', candidate: 'node3' }),
      412,
      'NOT_THE_LEADER',
    ],
    ['no leader for switchover', viewOf({ leader: null }), decideConfig(), sw(), 412, 'NOT_THE_LEADER'],
    [
      'failover naming a wrong leader',
      viewOf(),
      decideConfig(),
      fo({ leader: 'node3' }),
      412,
      'NOT_THE_LEADER',
    ],
    [
      'request already pending',
      viewOf({ failover: { leader: 'node1', member: 'node3', scheduledAt: FUTURE, modRevision: '7' } }),
      decideConfig(),
      sw(),
      412,
      'ALREADY_PENDING',
    ],
    [
      'paused and scheduled',
      viewOf(),
      decideConfig({ pause: true }),
      sw({ scheduledAt: FUTURE }),
      412,
      'PAUSED_SCHEDULED',
    ],
    [
      'paused without candidate',
      viewOf(),
      decideConfig({ pause: true }),
      sw({ candidate: null }),
      412,
      'PAUSED_NEEDS_CANDIDATE',
    ],
    [
      'candidate is the leader',
      viewOf(),
      decideConfig(),
      sw({ candidate: 'node1' }),
      412,
      'CANDIDATE_IS_LEADER',
    ],
    ['candidate unknown', viewOf(), decideConfig(), sw({ candidate: 'node9' }), 412, 'CANDIDATE_UNKNOWN'],
    [
      'scheduled to unknown candidate',
      viewOf(),
      decideConfig(),
      sw({ candidate: 'node9', scheduledAt: FUTURE }),
      412,
      'CANDIDATE_UNKNOWN',
    ],
    [
      'candidate not running',
      withMembers(viewOf(), member('node2', { state: 'stopped' })),
      decideConfig(),
      sw(),
      412,
      'CANDIDATE_NOT_RUNNING',
    ],
    [
      'candidate nofailover',
      withMembers(viewOf(), member('node2', { tags: { nofailover: true } })),
      decideConfig(),
      sw(),
      412,
      'CANDIDATE_NOT_ELIGIBLE',
    ],
    ['candidate lagging', lagging, decideConfig(), sw(), 412, 'CANDIDATE_LAGGING'],
    [
      'candidate not in the sync key',
      syncView,
      decideConfig({ synchronous_mode: true }),
      sw(),
      412,
      'CANDIDATE_NOT_ELIGIBLE',
    ],
    [
      'failover to a stopped member',
      withMembers(viewOf({ leader: null }), member('node2', { state: 'crashed' })),
      decideConfig(),
      fo(),
      412,
      'CANDIDATE_NOT_RUNNING',
    ],
    [
      'no healthy candidate for any',
      withMembers(
        viewOf(),
        member('node2', { state: 'stopped' }),
        member('node3', { tags: { nofailover: true } }),
      ),
      decideConfig(),
      sw({ candidate: null }),
      412,
      'NO_HEALTHY_CANDIDATE',
    ],
  ];
  it.each(rows)('%s → %i %s', (_name, view, config, req, status, code) => {
    const r = checkSwitchover(view, config, req, WALL_NOW_MS);
    expect(r).toMatchObject({ ok: false, status, code });
    if (!r.ok) expect(r.reason.length).toBeGreaterThan(5);
  });

  it('the lag reason names the member and the bound', () => {
    const r = checkSwitchover(lagging, decideConfig(), sw(), WALL_NOW_MS);
    expect(!r.ok && r.reason).toMatch(/node2: \d+ bytes behind .*maximum_lag_on_failover/);
  });
});

describe('checkSwitchover acceptance', () => {
  it('a switchover to a named healthy candidate writes leader and member', () => {
    const r = checkSwitchover(viewOf(), decideConfig(), sw(), WALL_NOW_MS);
    expect(r).toEqual({
      ok: true,
      failoverValue: { leader: 'node1', member: 'node2', scheduledAt: null },
      target: 'node2',
      fromLeader: 'node1',
    });
  });

  it('"any" picks the best-ranked eligible member (highest WAL position)', () => {
    const view = withMembers(
      viewOf(),
      member('node3', { xlogLocation: toLsn(1000) }),
      member('node2', { xlogLocation: toLsn(950) }),
    );
    const r = checkSwitchover(view, decideConfig(), sw({ candidate: null }), WALL_NOW_MS);
    expect(r).toMatchObject({ ok: true, target: 'node3', failoverValue: { member: 'node3' } });
  });

  it('"any" skips ineligible members even when they are ahead', () => {
    const view = withMembers(
      viewOf(),
      member('node2', { tags: { nofailover: true }, xlogLocation: toLsn(1000) }),
    );
    const r = checkSwitchover(view, decideConfig(), sw({ candidate: null }), WALL_NOW_MS);
    expect(r).toMatchObject({ ok: true, target: 'node3' });
  });

  it('in synchronous mode the listed standby is eligible', () => {
    const r = checkSwitchover(
      syncView,
      decideConfig({ synchronous_mode: true }),
      sw({ candidate: 'node3' }),
      WALL_NOW_MS,
    );
    expect(r.ok).toBe(true);
  });

  it('a scheduled switchover stores its time in UTC and is not vetted for health now', () => {
    const view = withMembers(viewOf(), member('node2', { state: 'stopped' }));
    const r = checkSwitchover(view, decideConfig(), sw({ scheduledAt: FUTURE }), WALL_NOW_MS);
    expect(r).toMatchObject({
      ok: true,
      failoverValue: { leader: 'node1', member: 'node2', scheduledAt: FUTURE_UTC },
    });
  });

  it('a manual failover without a leader names only the member', () => {
    const r = checkSwitchover(viewOf({ leader: null }), decideConfig(), fo(), WALL_NOW_MS);
    expect(r).toMatchObject({ ok: true, failoverValue: { leader: null, member: 'node2' }, fromLeader: null });
  });

  it('a failover while a leader runs becomes a switchover from it (the leader acts only on its own name)', () => {
    const r = checkSwitchover(viewOf(), decideConfig(), fo(), WALL_NOW_MS);
    expect(r).toMatchObject({ ok: true, failoverValue: { leader: 'node1', member: 'node2' } });
  });

  it('paused: a named candidate is still fine', () => {
    expect(checkSwitchover(viewOf(), decideConfig({ pause: true }), sw(), WALL_NOW_MS).ok).toBe(true);
  });
});

const wallClock = { monotonicMs: () => 0, wallMs: () => WALL_NOW_MS };

describe('ClusterOps.switchover', () => {
  it('200 once the target holds the key and runs as primary', async () => {
    const store = new FakeStore(viewOf());
    store.afterFailoverWrite = (s) => {
      setTimeout(() => s.set({ leader: null }), 5);
      setTimeout(
        () => s.set({ leader: { name: 'node2', leaseId: '2', modRevision: '20', createRevision: '20' } }),
        10,
      );
      setTimeout(
        () => s.set({ ...withMembers(s.current, member('node2', { role: 'primary' })), failover: null }),
        15,
      );
    };
    const ops = new ClusterOps({ store, clock: wallClock });
    const r = await ops.switchover(sw());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'done', leader: 'node1', candidate: 'node2' });
    expect(store.writes).toEqual([
      { key: 'failover', value: { leader: 'node1', member: 'node2', scheduledAt: null }, expected: null },
    ]);
  });

  it('202 "in progress" when the switch is merely slow', async () => {
    const store = new FakeStore(viewOf());
    const ops = new ClusterOps({ store, clock: wallClock, switchWaitMs: () => 30 });
    const r = await ops.switchover(sw());
    expect(r).toMatchObject({
      status: 202,
      body: { status: 'in progress', current_leader: 'node1', waited_ms: 30 },
    });
  });

  it('the default wait is ttl + 2*loop_wait', async () => {
    const { defaultSwitchWaitMs } = await import('../src/cluster-ops/cluster-ops.js');
    expect(defaultSwitchWaitMs(decideConfig({ ttl: 30, loop_wait: 10 }))).toBe(50_000);
  });

  it('503 "failed" when the request vanished and the old leader still leads', async () => {
    const store = new FakeStore(viewOf());
    store.afterFailoverWrite = (s) => setTimeout(() => s.set({ failover: null }), 5);
    const ops = new ClusterOps({ store, clock: wallClock, switchWaitMs: () => 5000 });
    const r = await ops.switchover(sw());
    expect(r).toMatchObject({ status: 503, body: { status: 'failed' } });
  });

  it('202 "scheduled" without waiting', async () => {
    const store = new FakeStore(viewOf());
    const r = await new ClusterOps({ store, clock: wallClock }).switchover(sw({ scheduledAt: FUTURE }));
    expect(r).toMatchObject({ status: 202, body: { status: 'scheduled', scheduled_at: FUTURE_UTC } });
    expect(store.current.failover).toMatchObject({ scheduledAt: FUTURE_UTC, member: 'node2' });
  });

  it('412 when another request lands between our read and our write', async () => {
    const store = new FakeStore(viewOf());
    store.beforeCas = () => {
      store.beforeCas = null;
      store.set({ failover: { leader: 'node1', member: 'node3', scheduledAt: null, modRevision: '99' } });
    };
    const r = await new ClusterOps({ store, clock: wallClock }).switchover(sw());
    expect(r).toMatchObject({ status: 412, body: { code: 'ALREADY_PENDING' } });
  });

  it("an invalid stored config: admission runs on the loop's config, else bootstrap.dcs (core's one rule)", async () => {
    const bad = { ...lagging, config: { value: { ttl: -5 }, modRevision: '2' } };
    const tolerant = parseDynamicConfig(
      { maximum_lag_on_failover: 10 * 1024 * 1024 },
      { source: 't' },
    ).config;
    const ask = (dynamicConfig?: { running: () => DynamicConfig | null; bootstrap: DynamicConfig }) =>
      new ClusterOps({
        store: new FakeStore(bad),
        clock: wallClock,
        switchWaitMs: () => 5,
        dynamicConfig,
      }).switchover(sw());
    // without a loop (hactl's view too): the defaults, 1 MB — node2, 2 MB behind, is refused
    expect(await ask()).toMatchObject({ status: 412, body: { code: 'CANDIDATE_LAGGING' } });
    expect(await ask({ running: () => tolerant, bootstrap: defaultDynamicConfig() })).toMatchObject({
      status: 202,
    });
    expect(await ask({ running: () => null, bootstrap: tolerant })).toMatchObject({ status: 202 });
  });

  it('503 when etcd cannot be reached', async () => {
    const store = new FakeStore(viewOf());
    store.unavailable = true;
    const r = await new ClusterOps({ store, clock: wallClock }).switchover(sw());
    expect(r).toMatchObject({ status: 503, body: { code: 'DCS_UNAVAILABLE' } });
  });
});

describe('ClusterOps.cancelSwitchover', () => {
  it('404 when nothing is scheduled, 200 and the key deleted otherwise', async () => {
    const store = new FakeStore(viewOf());
    const ops = new ClusterOps({ store, clock: wallClock });
    expect((await ops.cancelSwitchover()).status).toBe(404);
    store.set({ failover: { leader: 'node1', member: 'node2', scheduledAt: FUTURE, modRevision: '11' } });
    expect((await ops.cancelSwitchover()).status).toBe(200);
    expect(store.current.failover).toBeNull();
    expect(store.writes.at(-1)).toEqual({ key: 'failover', value: null, expected: '11' });
  });
});

describe('ClusterOps config', () => {
  it('PATCH merges (null deletes), validates and writes with the read revision', async () => {
    const store = new FakeStore(
      viewOf({ config: { value: { ttl: 30, loop_wait: 10, pause: true }, modRevision: '2' } }),
    );
    const r = await new ClusterOps({ store }).patchConfig({
      pause: null,
      postgresql: { parameters: { work_mem: '8MB' } },
    });
    expect(r).toEqual({
      status: 200,
      body: { ttl: 30, loop_wait: 10, postgresql: { parameters: { work_mem: '8MB' } } },
    });
    expect(store.writes).toEqual([{ key: 'config', value: r.body, expected: '2' }]);
  });

  it('PATCH whose result breaks a rule → 400 with core text, nothing written', async () => {
    const store = new FakeStore(viewOf());
    const r = await new ClusterOps({ store }).patchConfig({ loop_wait: 29 });
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toMatch(/ttl/);
    expect(store.writes).toEqual([]);
  });

  it('a concurrent write between read and CAS → 409', async () => {
    const store = new FakeStore(viewOf());
    store.beforeCas = () => {
      store.beforeCas = null;
      store.set({ config: { value: { ttl: 40 }, modRevision: '50' } });
    };
    const r = await new ClusterOps({ store }).patchConfig({ loop_wait: 5 });
    expect(r).toMatchObject({ status: 409, body: { code: 'CAS_CONFLICT' } });
  });

  it('PUT replaces; with no config yet it creates the key (expected absent)', async () => {
    const store = new FakeStore(viewOf({ config: null }));
    const r = await new ClusterOps({ store }).replaceConfig({ ttl: 20, loop_wait: 5, retry_timeout: 5 });
    expect(r.status).toBe(200);
    expect(store.writes).toEqual([
      { key: 'config', value: { ttl: 20, loop_wait: 5, retry_timeout: 5 }, expected: null },
    ]);
  });

  it('PUT of a wrong type → 400 naming the key', async () => {
    const r = await new ClusterOps({ store: new FakeStore(viewOf()) }).replaceConfig({ ttl: 'long' });
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toMatch(/ttl/);
  });
});
