import { describe, expect, it } from 'vitest';
import { parseScheduled } from '../src/actions/scheduled.js';
import { newLeaderRunning, waitingText } from '../src/actions/wait-leader.js';
import { UsageError } from '../src/errors.js';
import { planFailover, runFailover } from '../src/commands/failover/failover.js';
import { planSwitchover, runSwitchover } from '../src/commands/switchover/switchover.js';
import { fakeDeps, outcome } from './action-fakes.js';
import { cluster } from './cluster-fixture.js';
import { member, OPTIME, viewOf } from './fixtures.js';

const WAIT = { timeoutMs: 10_000, pollIntervalMs: 1000 };

describe('planSwitchover refusals', () => {
  const refusal = (opts: { leader?: string; candidate?: string }, view = cluster()) => {
    try {
      planSwitchover(view, { leader: opts.leader ?? null, candidate: opts.candidate ?? null });
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  };
  it('names each reason', () => {
    expect(refusal({ leader: 'node2' })).toBe(
      'node2 is not the leader of cluster demo (the leader is node1)',
    );
    expect(refusal({ candidate: 'node1' })).toBe('node1 is already the leader');
    expect(refusal({ candidate: 'node9' })).toBe(
      'node9 is not a member of cluster demo (members: node1, node2, node3, node4, node5)',
    );
    expect(refusal({ candidate: 'node4' })).toBe(
      'cannot switch over to node4: node4 is not running (state: stopped)',
    );
    expect(refusal({ candidate: 'node5' })).toBe('cannot switch over to node5: node5 is tagged nofailover');
    expect(refusal({ candidate: 'node3' })).toMatch(
      /^cannot switch over to node3: node3 is 3145728 bytes behind the leader's last optime \(maximum_lag_on_failover 1048576\)$/,
    );
    const archive = cluster('node1', {
      'members/node2': member(5433, { xlog_location: OPTIME, replication_state: 'in archive recovery' }),
    });
    // the REST API's and the leader's rule (core's switchoverAdmission), as Patroni: a replica
    // within the lag limit that restores from the archive is admitted, not refused as "not streaming"
    expect(refusal({ candidate: 'node2' }, archive)).toBeNull();
    expect(refusal({}, viewOf({ 'members/node1': member(5432, {}) }))).toBe(
      'cluster demo has no leader: use hactl failover',
    );
    expect(refusal({ leader: 'node1', candidate: 'node2' })).toBeNull();
  });

  it('a scheduled switchover is vetted now only for what cannot change by then, as the REST API', () => {
    const plan = (candidate: string | null, scheduledAt: string | null) => () =>
      planSwitchover(cluster(), { leader: null, candidate, scheduledAt });
    expect(plan('node4', null)).toThrow('cannot switch over to node4: node4 is not running (state: stopped)');
    expect(plan('node4', '2030-01-01T00:00:00.000Z')().candidate).toBe('node4');
    expect(plan('node1', '2030-01-01T00:00:00.000Z')).toThrow('node1 is already the leader');
    expect(plan('node9', '2030-01-01T00:00:00.000Z')).toThrow('node9 is not a member of cluster demo');
  });
});

describe('runSwitchover', () => {
  it('posts to the leader, shows progress lines, then the list', async () => {
    const { deps, io, api } = fakeDeps({
      views: [cluster(), cluster(), cluster('node2')],
      routes: { 'POST /switchover@8432': { status: 202, body: { message: 'switchover started' } } },
    });
    const code = await runSwitchover(deps, {
      leader: 'node1',
      candidate: 'node2',
      scheduledAt: null,
      force: true,
      wait: WAIT,
    });
    expect(code).toBe(0);
    expect(api.calls).toEqual([
      {
        apiUrl: 'http://127.0.0.1:8432/patroni',
        method: 'POST',
        path: '/switchover',
        body: { leader: 'node1', candidate: 'node2' },
      },
    ]);
    const out = io.stdout();
    expect(out).toContain('waiting for node2 to become leader (0 s)\n');
    expect(out).toContain('switched over from node1 to node2\n');
    expect(out).toMatch(/\| node2 {2}\| 127\.0\.0\.1:5433 \| Leader/);
  });

  it('on a terminal, progress is one updating line', async () => {
    const { deps, io } = fakeDeps({
      views: [cluster(), cluster(), cluster(), cluster('node2')],
      routes: { 'POST /switchover': { status: 202 } },
      tty: true,
    });
    await runSwitchover(deps, {
      leader: null,
      candidate: 'node2',
      scheduledAt: null,
      force: true,
      wait: WAIT,
    });
    expect(io.stdout()).toContain(
      '\rwaiting for node2 to become leader (0 s)\rwaiting for node2 to become leader (1 s)\nswitched over',
    );
  });

  it('falls back to the failover key when the leader API does not answer', async () => {
    const { deps, store, io } = fakeDeps({
      views: [cluster(), cluster('node2')],
      routes: { 'POST /switchover': 'down' },
    });
    await runSwitchover(deps, {
      leader: null,
      candidate: 'node2',
      scheduledAt: null,
      force: true,
      wait: WAIT,
    });
    expect(store.writes).toEqual([
      { op: 'failover', value: { leader: 'node1', member: 'node2', scheduledAt: null }, rev: null },
    ]);
    expect(io.stderr()).toMatch(/node1's API does not answer .*: writing the failover key instead/);
    expect(io.stdout()).toContain('switched over from node1 to node2 (through the failover key)\n');
  });

  it('scheduled: says when and returns at once', async () => {
    const { deps, io, api } = fakeDeps({
      views: [cluster()],
      routes: { 'POST /switchover': { status: 202 } },
    });
    const at = '2026-01-01T10:00:00.000Z';
    await runSwitchover(deps, { leader: null, candidate: null, scheduledAt: at, force: true, wait: WAIT });
    expect(api.calls[0]!.body).toEqual({ leader: 'node1', scheduled_at: at });
    expect(io.stdout()).toBe(`switchover scheduled at ${at}\n`);
  });

  it('a 412 from the leader is the refusal, exit 1 with its reason', async () => {
    const { deps } = fakeDeps({
      views: [cluster()],
      routes: { 'POST /switchover': { status: 412, body: 'candidate lags too far behind' } },
    });
    const r = await outcome(() =>
      runSwitchover(deps, { leader: null, candidate: 'node2', scheduledAt: null, force: true, wait: WAIT }),
    );
    expect(r.error).toBe('switchover refused by node1: candidate lags too far behind');
  });

  it('confirmation: asked on a terminal, refused without one, declined aborts', async () => {
    const asked = fakeDeps({
      views: [cluster(), cluster('node2')],
      routes: { 'POST /switchover': { status: 200 } },
      interactive: true,
      answers: ['y'],
    });
    await runSwitchover(asked.deps, {
      leader: null,
      candidate: 'node2',
      scheduledAt: null,
      force: false,
      wait: WAIT,
    });
    expect(asked.prompt.asked).toEqual(['Switch over cluster demo from node1 to node2 now?']);

    const script = fakeDeps({ views: [cluster()], interactive: false });
    const r = await outcome(() =>
      runSwitchover(script.deps, {
        leader: null,
        candidate: 'node2',
        scheduledAt: null,
        force: false,
        wait: WAIT,
      }),
    );
    expect(r.error).toBe('not asking for confirmation without a terminal: use --force');
    expect(script.api.calls).toEqual([]);

    const no = fakeDeps({ views: [cluster()], interactive: true, answers: ['n'] });
    const r2 = await outcome(() =>
      runSwitchover(no.deps, {
        leader: null,
        candidate: 'node2',
        scheduledAt: null,
        force: false,
        wait: WAIT,
      }),
    );
    expect(r2.error).toBe('aborted, nothing changed');
    expect(no.api.calls).toEqual([]);
  });

  it('times out when the new leader never runs', async () => {
    const { deps } = fakeDeps({ views: [cluster()], routes: { 'POST /switchover': { status: 202 } } });
    const r = await outcome(() =>
      runSwitchover(deps, {
        leader: null,
        candidate: 'node2',
        scheduledAt: null,
        force: true,
        wait: { timeoutMs: 3000, pollIntervalMs: 1000 },
      }),
    );
    expect(r.error).toBe('timed out after 3 s waiting for node2: see hactl list');
  });
});

describe('failover', () => {
  const leaderless = () =>
    cluster('node1', {
      leader: undefined,
      'members/node1': member(5432, { state: 'stopped', role: 'primary' }),
    });
  const noLeader = () => {
    const v = leaderless();
    return { ...v, leader: null };
  };

  it('refuses a healthy leader, an unhealthy candidate without --force', () => {
    expect(() => planFailover(cluster(), { candidate: 'node2', force: false })).toThrow(
      'cluster demo has a healthy leader (node1): use hactl switchover',
    );
    expect(() => planFailover(noLeader(), { candidate: 'node4', force: false })).toThrow(
      'cannot fail over to node4: node4 is not running (state: stopped) (--force promotes it anyway)',
    );
    expect(planFailover(noLeader(), { candidate: 'node4', force: true }).problem).toBe(
      'node4 is not running (state: stopped)',
    );
    expect(planFailover(noLeader(), { candidate: null, force: false }).candidate.name).toBe('node2');
  });

  it("posts to the candidate's API and waits for it", async () => {
    const { deps, api, io } = fakeDeps({
      views: [noLeader(), cluster('node2')],
      routes: { 'POST /failover@8433': { status: 200 } },
    });
    expect(await runFailover(deps, { candidate: 'node2', force: true, wait: WAIT })).toBe(0);
    expect(api.calls[0]).toMatchObject({ method: 'POST', path: '/failover', body: { candidate: 'node2' } });
    expect(io.stdout()).toContain('failed over to node2\n');
  });
});

describe('wait and schedule helpers', () => {
  it('newLeaderRunning needs the key and a running primary', () => {
    expect(newLeaderRunning(cluster(), 'node1', 'node2')).toBeNull();
    expect(newLeaderRunning(cluster('node2'), 'node1', 'node2')).toBe('node2');
    expect(newLeaderRunning(cluster('node2'), 'node1', 'node3')).toBeNull();
    expect(waitingText('node2', 3400)).toBe('waiting for node2 to become leader (3 s)');
    expect(waitingText(null, 0)).toBe('waiting for a new leader (0 s)');
  });

  it('parseScheduled', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseScheduled('now', now, 'u')).toBeNull();
    expect(parseScheduled('2026-01-02T10:00+02:00', now, 'u')).toBe('2026-01-02T08:00:00.000Z');
    expect(parseScheduled('2026-01-02 10:00Z', now, 'u')).toBe('2026-01-02T10:00:00.000Z');
    expect(() => parseScheduled('tomorrow', now, 'u')).toThrow(UsageError);
    expect(() => parseScheduled('2025-01-01T00:00Z', now, 'u')).toThrow(
      '--scheduled: "2025-01-01T00:00Z" is in the past',
    );
  });

  it("parseScheduled reads with core's parser: a zoneless time is local, the REST API's limits hold", () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    // local time: whatever the host's zone, the same instant Date reads for those fields
    expect(parseScheduled('2026-01-02T10:00', now, 'u')).toBe(new Date(2026, 0, 2, 10, 0).toISOString());
    expect(parseScheduled('2026-01-02 10:00:30.25', now, 'u')).toBe(
      new Date(2026, 0, 2, 10, 0, 30, 250).toISOString(),
    );
    // Date.parse rolled an impossible day over to March
    expect(() => parseScheduled('2026-02-30T10:00Z', now, 'u')).toThrow(
      '--scheduled: not a date and time: "2026-02-30T10:00Z"',
    );
    expect(() => parseScheduled('2026-01-01T00:00Z', now, 'u')).toThrow('is in the past');
    expect(() => parseScheduled('2030-01-01T00:00Z', now, 'u')).toThrow(
      '--scheduled: "2030-01-01T00:00Z" is more than 366 days ahead',
    );
  });
});
