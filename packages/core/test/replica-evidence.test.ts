import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  evidenceBounds,
  evidenceBoundsFor,
  leaderRenewal,
  ReplicaEvidence,
  type ReplicationSample,
  replicationSampleMs,
  replicationTimingParameters,
  toLsn,
} from '../src/index.js';

const BOUNDS = { idleBoundMs: 1500, ackBoundMs: 750 };

function row(name: string, replyTime: string | null, o: Partial<ReplicationSample> = {}): ReplicationSample {
  return {
    applicationName: name,
    state: 'streaming',
    replyTime,
    sentLsn: toLsn(100),
    writeLsn: toLsn(100),
    ...o,
  };
}

describe('quiet samples (the leader renews slowly only while nothing could be lost)', () => {
  it('is quiet only when a standby streams, has all we sent, and the WAL sent did not move', () => {
    const e = new ReplicaEvidence();
    expect(e.quietSampleMs(BOUNDS)).toBeNull(); // no sample yet
    e.update([row('a', 't1')], 0);
    expect(e.quietSampleMs(BOUNDS)).toBeNull(); // the first sample moved sent from nothing
    e.update([row('a', 't2')], 250);
    expect(e.quietSampleMs(BOUNDS)).toBe(250);
    // a commit: sent moved, even though the standby already wrote it
    e.update([row('a', 't3', { sentLsn: toLsn(200), writeLsn: toLsn(200) })], 500);
    expect(e.quietSampleMs(BOUNDS)).toBeNull();
    e.update([row('a', 't3', { sentLsn: toLsn(200), writeLsn: toLsn(200) })], 750);
    expect(e.quietSampleMs(BOUNDS)).toBe(750);
    // sent but not written (a cut standby): outstanding, not quiet
    e.update([row('a', 't3', { sentLsn: toLsn(300), writeLsn: toLsn(200) })], 1000);
    e.update([row('a', 't3', { sentLsn: toLsn(300), writeLsn: toLsn(200) })], 1250);
    expect(e.quietSampleMs(BOUNDS)).toBeNull();
    // nobody provably streams any more: not quiet however still the WAL is
    const idle = new ReplicaEvidence();
    idle.update([row('a', 't1')], 0);
    idle.update([row('a', 't1')], 250);
    expect(idle.quietSampleMs(BOUNDS)).toBe(250);
    idle.update([row('a', 't1')], 2000);
    expect(idle.quietSampleMs(BOUNDS)).toBeNull();
    idle.update([], 2250);
    expect(idle.quietSampleMs(BOUNDS)).toBeNull();
  });

  it('renews every ttl/3 while quiet, every quarter of the grace otherwise, the grace counting from the last quiet sample', () => {
    const base = { ttlMs: 10_000, primaryIsolationTimeoutMs: 1000 };
    expect(leaderRenewal({ ...base, quiet: true, lastQuietAtMs: 5000 })).toEqual({
      intervalMs: 3333,
      overdueMs: 250,
      failingNotBeforeMs: null,
    });
    expect(leaderRenewal({ ...base, quiet: false, lastQuietAtMs: 5000 })).toEqual({
      intervalMs: 250,
      overdueMs: 250,
      failingNotBeforeMs: 5000,
    });
    expect(
      leaderRenewal({ ttlMs: 2000, primaryIsolationTimeoutMs: 0, quiet: false, lastQuietAtMs: null }),
    ).toEqual({
      intervalMs: 100,
      overdueMs: 100,
      failingNotBeforeMs: null,
    });
  });
});

describe('ReplicaEvidence', () => {
  it('a row whose reply_time stops changing ages out after the idle bound', () => {
    const e = new ReplicaEvidence();
    e.update([row('a', 't1')], 0);
    e.update([row('a', 't2')], 1000);
    expect(e.streaming(2500, BOUNDS)).toEqual(['a']);
    e.update([row('a', 't2')], 2500); // same reply: no news
    expect(e.streaming(2500, BOUNDS)).toEqual(['a']);
    expect(e.streaming(2501, BOUNDS)).toEqual([]);
    // still listed as streaming by Postgres, as with dropped packets: the row proves nothing
    e.update([row('a', 't2')], 3000);
    expect(e.streaming(3000, BOUNDS)).toEqual([]);
  });

  it('with WAL sent and not reported written, silence counts after the shorter ack bound', () => {
    const e = new ReplicaEvidence();
    e.update([row('a', 't1')], 0);
    e.update([row('a', 't1', { sentLsn: toLsn(200) })], 500);
    expect(e.streaming(750, BOUNDS)).toEqual(['a']);
    expect(e.streaming(751, BOUNDS)).toEqual([]);
  });

  it('a reply is fresh evidence again at once; a standby gone from the view is forgotten', () => {
    const e = new ReplicaEvidence();
    e.update([row('a', 't1'), row('b', 'u1')], 0);
    e.update([row('a', 't1'), row('b', 'u1')], 5000);
    expect(e.streaming(5000, BOUNDS)).toEqual([]);
    e.update([row('a', 't2')], 5100);
    expect(e.streaming(5100, BOUNDS)).toEqual(['a']);
    expect(Object.keys(e.replyAgesMs(5100))).toEqual(['a']);
  });

  it('only the change of reply_time matters, not its value (a stepped standby clock)', () => {
    const e = new ReplicaEvidence();
    e.update([row('a', '2026-12-01 10:00:00+00')], 0);
    e.update([row('a', '2020-01-01 00:00:00+00')], 1000); // stepped back by years
    expect(e.streaming(2400, BOUNDS)).toEqual(['a']);
    e.update([row('a', '2099-01-01 00:00:00+00')], 2000); // and forward
    expect(e.streaming(3400, BOUNDS)).toEqual(['a']);
    expect(e.streaming(3600, BOUNDS)).toEqual([]);
  });

  it('a state other than streaming never counts; a first row without any reply does not either', () => {
    const e = new ReplicaEvidence();
    e.update([row('a', 't1', { state: 'catchup' }), row('b', null)], 0);
    expect(e.streaming(0, BOUNDS)).toEqual([]);
  });

  it('property: a standby counts only within the bound after a sample that saw its reply change', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dtMs: fc.integer({ min: 1, max: 800 }), replied: fc.boolean() }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 0, max: 3000 }),
        (steps, probeAfterMs) => {
          const e = new ReplicaEvidence();
          let now = 0;
          let reply = 0;
          let lastChange = 0;
          e.update([row('a', 'r0')], 0);
          for (const s of steps) {
            now += s.dtMs;
            if (s.replied) {
              reply++;
              lastChange = now;
            }
            e.update([row('a', `r${reply}`)], now);
          }
          const at = now + probeAfterMs;
          const fresh = e.streaming(at, BOUNDS).includes('a');
          return fresh === at - lastChange <= BOUNDS.idleBoundMs;
        },
      ),
    );
  });
});

describe('replication timing', () => {
  it('hapg sets a 1 s status interval and closes silent connections after the ttl (at least 5 s)', () => {
    expect(replicationTimingParameters(10_000)).toEqual({
      wal_receiver_status_interval: '1s',
      wal_sender_timeout: '10s',
      wal_receiver_timeout: '10s',
      wal_retrieve_retry_interval: '1s',
    });
    expect(replicationTimingParameters(2000).wal_sender_timeout).toBe('5s');
  });

  it('bounds follow the parameters in force, in each GUC unit', () => {
    // defaults: 1 s interval, 250 ms samples, half of a 1 s isolation grace to acknowledge
    expect(evidenceBoundsFor(replicationTimingParameters(10_000), 1000)).toEqual({
      idleBoundMs: 1500,
      ackBoundMs: 750,
    });
    // an operator's 10 s interval: the bound grows with it (no false isolation)
    expect(evidenceBoundsFor({ wal_receiver_status_interval: 10 }, 1000).idleBoundMs).toBe(10_500);
    // interval 0: only the walsender's keepalive at half of wal_sender_timeout (a bare number is ms)
    expect(
      evidenceBoundsFor({ wal_receiver_status_interval: 0, wal_sender_timeout: 20_000 }, 1000).idleBoundMs,
    ).toBe(10_500);
    expect(
      evidenceBounds({ statusIntervalS: 0, senderTimeoutS: 0, sampleMs: 100, ackBoundMs: 50 }).idleBoundMs,
    ).toBe(Number.POSITIVE_INFINITY);
    // Postgres's own default when nothing is set
    expect(evidenceBoundsFor({}, 1000).idleBoundMs).toBe(10_500);
  });

  it('the leader samples at a quarter of the isolation grace, within limits', () => {
    expect(replicationSampleMs(1000)).toBe(250);
    expect(replicationSampleMs(10_000)).toBe(250);
    expect(replicationSampleMs(0)).toBe(50);
  });
});
