import type { PgObservation } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { FRESH_MEMORY, observed, released } from '../src/loop/memory.js';
import { viewChangeWakes } from '../src/loop/wake.js';
import { EMPTY_PG_OBSERVATION } from '../src/snapshot-build.js';
import { member, viewOf, withMembers } from './cluster-ops-fixtures.js';

const stopped: PgObservation = { ...EMPTY_PG_OBSERVATION, dataDir: 'initialized' };
const leaderKey = (name: string, leaseId = '7') => ({ name, leaseId, modRevision: '5', createRevision: '5' });

describe('agent memory (loop/memory.ts)', () => {
  it('remembers when we released the key', () => {
    expect(released(FRESH_MEMORY, 1234).releasedLeaderAtMs).toBe(1234);
  });

  it('holding the key without a running primary counts as down from the first loop that saw it', () => {
    const view = viewOf({ leader: leaderKey('a') });
    const o = { view, self: 'a', holdsLeaderKey: true, pg: stopped, paused: false };
    const first = observed(FRESH_MEMORY, { ...o, nowMs: 100 });
    expect(first.pg.crashedAtMs).toBe(100);
    const later = observed(first.memory, { ...o, nowMs: 900 });
    expect(later.pg.crashedAtMs).toBe(100); // primary_start_timeout runs from the first sighting
    const running: PgObservation = { ...stopped, process: 'running', inRecovery: false };
    const up = observed(later.memory, { ...o, pg: running, nowMs: 1000 });
    expect(up.memory.downUnderKeySinceMs).toBeNull();
    // a crash time the probe knows wins over ours
    expect(
      observed(FRESH_MEMORY, { ...o, pg: { ...stopped, crashedAtMs: 42 }, nowMs: 500 }).pg.crashedAtMs,
    ).toBe(42);
  });

  it('without the key nothing is down, and the view is not changed', () => {
    const r = observed(FRESH_MEMORY, {
      view: viewOf(),
      self: 'a',
      holdsLeaderKey: false,
      pg: stopped,
      paused: false,
      nowMs: 5,
    });
    expect(r.pg).toBe(stopped);
    expect(r.memory.downUnderKeySinceMs).toBeNull();
  });
});

describe('which view changes wake the loop (loop/wake.ts)', () => {
  const base = withMembers(viewOf({ leader: leaderKey('a') }), member('a'), member('b'));
  it('the first view, the leader key, failover, config and initialize wake it', () => {
    expect(viewChangeWakes(null, base)).toBe(true);
    expect(viewChangeWakes(base, { ...base, leader: null })).toBe(true);
    expect(viewChangeWakes(base, { ...base, leader: leaderKey('a', '8') })).toBe(true);
    expect(viewChangeWakes(base, { ...base, initialize: 'other' })).toBe(true);
  });
  it('a stream release put or withdrawn wakes it (the furthest standby takes over on it)', () => {
    const rel = {
      member: 'b',
      leader: 'a',
      leaderRevision: '5',
      timeline: null,
      flushLsn: 10n as never,
      modRevision: '9',
    };
    const released = { ...base, releases: new Map([['b', rel]]) };
    expect(viewChangeWakes(base, released)).toBe(true);
    expect(viewChangeWakes(released, { ...base, releases: new Map() })).toBe(true);
    expect(
      viewChangeWakes(released, { ...released, releases: new Map([['b', { ...rel, modRevision: '11' }]]) }),
    ).toBe(true);
    expect(viewChangeWakes(released, released)).toBe(false);
  });
  it('a member key of a non-leader does not', () => {
    const b = base.members.get('b')!;
    expect(viewChangeWakes(base, withMembers(base, { ...b, xlogLocation: b.xlogLocation }))).toBe(false);
    expect(viewChangeWakes(base, base)).toBe(false);
  });
});
