import { describe, expect, it } from 'vitest';
import { type EventState, transitions } from '../src/events/index.js';

const base: EventState = {
  role: 'replica',
  leader: 'n1',
  paused: false,
  syncStandbys: null,
  isLeader: false,
  timeline: 2,
  lsn: null,
  reason: { code: 'FOLLOWING', text: 'following n1' },
};
const types = (prev: EventState | null, next: EventState) => transitions(prev, next).map((e) => e.type);

describe('transitions: the events between two published states', () => {
  it('nothing at the first state, nor when nothing changed', () => {
    expect(types(null, base)).toEqual([]);
    expect(types(base, { ...base, lsn: 5n as never })).toEqual([]);
  });

  it('a role change names the old and the new role and leader', () => {
    const next = {
      ...base,
      role: 'primary',
      leader: 'n2',
      isLeader: true,
      reason: { code: 'PROMOTED', text: 'x' },
    };
    expect(transitions(base, next)).toEqual([
      {
        type: 'role_change',
        oldRole: 'replica',
        newRole: 'primary',
        oldLeader: 'n1',
        newLeader: 'n2',
        timeline: 2,
        lsn: null,
        reason: { code: 'PROMOTED', text: 'x' },
      },
    ]);
  });

  it('pause and the synchronous standbys are reported by the leader only, once per change', () => {
    const leader = { ...base, role: 'primary', isLeader: true, syncStandbys: ['n2'] };
    expect(types(leader, { ...leader, paused: true })).toEqual(['paused']);
    expect(types({ ...leader, paused: true }, leader)).toEqual(['resumed']);
    expect(types(base, { ...base, paused: true })).toEqual([]);
    expect(types(leader, { ...leader, syncStandbys: ['n3'] })).toEqual(['sync_standby_changed']);
    expect(types(leader, { ...leader, syncStandbys: ['n2'] })).toEqual([]);
    expect(
      types({ ...leader, syncStandbys: ['n2', 'n3'] }, { ...leader, syncStandbys: ['n3', 'n2'] }),
    ).toEqual([]);
    expect(types({ ...base, syncStandbys: ['n2'] }, { ...base, syncStandbys: ['n3'] })).toEqual([]);
  });
});
