import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterView, HapgError, type Member } from '@hapg/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AgentFailsafe,
  answerFailsafe,
  type AnswerDeps,
  type FailsafeAnswer,
  failsafeKeyDuty,
  failsafeMembers,
  FailsafePromises,
  type FailsafeRequest,
  FailsafeRounds,
  LongestPromiseFile,
  type RoundInput,
} from '../src/failsafe/index.js';
import { buildApi } from '../src/api/build.js';
import { createMetrics } from '../src/metrics.js';
import { clockAtNow, primaryHealthy } from './api-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'hapg-failsafe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const silent = { info() {}, warn() {}, error() {}, debug() {}, child: () => silent } as never;

describe('FailsafePromises (M2–M4)', () => {
  const fresh = () => new FailsafePromises({ startedAtMs: 0, longestPromiseMs: 10_000 });

  it('a promise holds leadership back until it ends, and a later one never shortens it', () => {
    const p = fresh();
    expect(p.accept('b', 10_000, 1_000)).toEqual({ ok: true });
    expect(p.hold(5_000)?.code).toBe('FAILSAFE_PROMISED');
    expect(p.beginLeadership(10_999)?.code).toBe('FAILSAFE_PROMISED');
    expect(p.accept('b', 5_000, 2_000)).toEqual({ ok: true }); // ends at 7 000: earlier, ignored
    expect(p.hold(10_999)).not.toBeNull();
    expect(p.beginLeadership(11_000)).toBeNull();
  });

  it('once leadership began, no promise is given until it ended', () => {
    const p = fresh();
    expect(p.beginLeadership(10_000)).toBeNull(); // after the startup hold
    expect(p.accept('b', 10_000, 10_001)).toEqual({ ok: false, why: 'Running as a leader' });
    p.endLeadership();
    expect(p.accept('b', 10_000, 10_002)).toEqual({ ok: true });
  });

  it('a promise longer than the recorded longest is refused until recorded', () => {
    const p = fresh();
    expect(p.accept('b', 20_000, 0).ok).toBe(false);
    p.recorded(20_000);
    expect(p.accept('b', 20_000, 0).ok).toBe(true);
  });

  it('the startup hold lasts the longest promise recorded by an earlier run, from the start', () => {
    const p = new FailsafePromises({ startedAtMs: 100, longestPromiseMs: 10_000 });
    expect(p.hold(10_099)?.code).toBe('FAILSAFE_STARTUP_HOLD');
    expect(p.hold(10_100)).toBeNull();
    expect(new FailsafePromises({ startedAtMs: 100, longestPromiseMs: 0 }).hold(100)).toBeNull();
  });
});

describe('LongestPromiseFile', () => {
  it('round-trips; absent is 0; unreadable counts as the fallback', async () => {
    const f = new LongestPromiseFile(join(dir, 'data1'));
    expect(await f.load(300_000)).toBe(0);
    await f.save(12_000);
    expect(await f.load(300_000)).toBe(12_000);
    expect(JSON.parse(readFileSync(f.path, 'utf8'))).toEqual({ longestPromiseMs: 12_000 });
    writeFileSync(f.path, '{not json');
    expect(await f.load(300_000)).toBe(300_000);
    writeFileSync(f.path, '{"longestPromiseMs":-3}');
    expect(await f.load(300_000)).toBe(300_000);
  });
});

/** Rounds driven by a manual clock; each member answers what `answers` says, after `latencyMs`. */
function roundsWith(answers: Record<string, FailsafeAnswer>, latencyMs = 50) {
  let now = 1_000;
  const sent: { url: string; body: FailsafeRequest; timeoutMs: number; atMs: number }[] = [];
  const rounds = new FailsafeRounds({
    monotonicMs: () => now,
    post: async (url, body, timeoutMs) => {
      sent.push({ url, body, timeoutMs, atMs: now });
      now += latencyMs;
      return answers[body.hapg.to] ?? 'failed';
    },
  });
  const input = (w: number | null = 100_000): RoundInput => ({
    self: 'a',
    scope: 'demo',
    ttlMs: 10_000,
    timeoutMs: 2_000,
    connUrl: 'postgres://a:5432/postgres',
    apiUrl: 'http://a:8008/patroni',
    writableUntilMs: () => w,
  });
  return { rounds, sent, input, now: () => now, setNow: (ms: number) => (now = ms) };
}
const key = (...names: string[]) => new Map(names.map((n) => [n, `http://${n}:8008/patroni`]));

describe('FailsafeRounds (P1–P3)', () => {
  it('a round every member answered extends F to t0 + ttl − margin, t0 read before any request', async () => {
    const r = roundsWith({ b: 'accepted', c: 'accepted' });
    r.rounds.keyAt(key('a', 'b', 'c'), '1');
    const out = await r.rounds.round(r.input());
    expect(out).toEqual({ kind: 'extended', deadlineMs: 1_000 + 10_000 - 2_000 });
    expect(r.sent.map((s) => s.body.hapg.to).sort()).toEqual(['b', 'c']);
    expect(r.sent[0]!.body).toMatchObject({ name: 'a', hapg: { scope: 'demo', ttl: 10 } });
    expect(r.sent.every((s) => s.timeoutMs === 2_000)).toBe(true);
    expect(r.rounds.deadlineMs()).toBe(9_000);
  });

  it('one member missing extends nothing; a later complete round does; F never moves back', async () => {
    const answers: Record<string, FailsafeAnswer> = { b: 'accepted', c: 'failed' };
    const r = roundsWith(answers);
    r.rounds.keyAt(key('a', 'b', 'c'), '2');
    expect(await r.rounds.round(r.input())).toEqual({ kind: 'incomplete', missing: ['c'] });
    expect(r.rounds.deadlineMs()).toBeNull();
    answers.c = 'accepted';
    await r.rounds.round(r.input());
    const first = r.rounds.deadlineMs()!;
    r.setNow(500); // a clock that could only go back in a test: F still never shrinks
    await r.rounds.round(r.input());
    expect(r.rounds.deadlineMs()).toBe(first);
  });

  it('a round ending after W came too late and extends nothing (P2)', async () => {
    const r = roundsWith({ b: 'accepted' }, 500);
    r.rounds.keyAt(key('a', 'b'), '3');
    expect((await r.rounds.round(r.input(1_200))).kind).toBe('incomplete');
    expect(r.rounds.deadlineMs()).toBeNull();
  });

  it('a member that answers it leads ends the failsafe deadline and is reported (P3)', async () => {
    const answers: Record<string, FailsafeAnswer> = { b: 'accepted' };
    const r = roundsWith(answers);
    r.rounds.keyAt(key('a', 'b'), '4');
    await r.rounds.round(r.input());
    answers.b = 'leader';
    expect(await r.rounds.round(r.input())).toEqual({ kind: 'refused', by: 'b' });
    expect(r.rounds.deadlineMs()).toBeNull();
    expect(r.rounds.refused()).toContain('b');
  });

  it('no key naming us: no round', async () => {
    const r = roundsWith({});
    expect((await r.rounds.round(r.input())).kind).toBe('not-listed');
    r.rounds.keyAt(key('b', 'c'), '5');
    expect((await r.rounds.round(r.input())).kind).toBe('not-listed');
  });

  it('a value at an older revision (a lagging view) does not replace a newer one', () => {
    const r = roundsWith({});
    r.rounds.keyAt(key('a', 'b'), '20');
    r.rounds.keyAt(key('a', 'c'), '19');
    expect([...r.rounds.failsafeSet()!.keys()]).toEqual(['a', 'b']);
    r.rounds.keyAt(key('a', 'c'), '21');
    expect([...r.rounds.failsafeSet()!.keys()]).toEqual(['a', 'c']);
  });

  it('FS: the last acknowledged value plus every write of unknown outcome; us alone answers by itself', async () => {
    const r = roundsWith({ b: 'accepted', c: 'accepted' });
    r.rounds.keyAt(key('a', 'b'), '6');
    r.rounds.keyMaybeWritten(key('a', 'c'));
    expect([...r.rounds.failsafeSet()!.keys()].sort()).toEqual(['a', 'b', 'c']);
    r.rounds.keyAt(key('a'), '7');
    expect([...r.rounds.failsafeSet()!.keys()].sort()).toEqual(['a', 'c']); // c may still be in etcd
    r.rounds.leadershipEnded();
    r.rounds.keyAt(key('a'), '8');
    expect(r.rounds.alone('a')).toBe(true);
    expect((await r.rounds.round(r.input())).kind).toBe('extended');
    expect(r.sent).toHaveLength(0);
  });
});

describe('answerFailsafe (M1)', () => {
  const body = { name: 'b', conn_url: 'x', api_url: 'y', hapg: { to: 'a', scope: 'demo', ttl: 10 } };
  const deps = (over: Partial<AnswerDeps> = {}) => {
    const recorded: number[] = [];
    const promises = new FailsafePromises({ startedAtMs: 0, longestPromiseMs: 0 });
    const d: AnswerDeps = {
      self: 'a',
      scope: 'demo',
      promises,
      monotonicMs: () => 1_000,
      failsafeMode: () => true,
      ttlMs: () => 10_000,
      writable: () => false,
      freshView: () => null,
      walPosition: () => 12_345n,
      recordLongest: async (ms) => {
        recorded.push(ms);
      },
      ...over,
    };
    return { d, promises, recorded };
  };

  it('accepts: 200 Accepted with the lsn header, a promise recorded first and given', async () => {
    const { d, promises, recorded } = deps();
    expect(await answerFailsafe(body, d)).toEqual({ status: 200, body: 'Accepted', lsn: '12345' });
    expect(recorded).toEqual([10_000]);
    expect(promises.hold(10_999)?.code).toBe('FAILSAFE_PROMISED');
  });

  it('the longer ttl of the two sets the promise', async () => {
    const { d, promises } = deps();
    await answerFailsafe({ ...body, hapg: { ...body.hapg, ttl: 30 } }, d);
    expect(promises.hold(30_999)).not.toBeNull();
  });

  it.each([
    ['not an object', [1], 400, 'the body must be a JSON object'],
    ['no name', { api_url: 'y' }, 400, 'name must be a non-empty string'],
    [
      'a bad hapg.ttl',
      { ...body, hapg: { ...body.hapg, ttl: -1 } },
      400,
      'hapg.ttl must be a number of seconds between 0 and 86400',
    ],
  ])('refuses %s with 400', async (_what, b, status, text) => {
    expect(await answerFailsafe(b, deps().d)).toEqual({ status, body: text });
  });

  it('502 with the mode off; 500 "Running as a leader" while writable or leading', async () => {
    expect((await answerFailsafe(body, deps({ failsafeMode: () => false }).d)).status).toBe(502);
    expect(await answerFailsafe(body, deps({ writable: () => true }).d)).toEqual({
      status: 500,
      body: 'Running as a leader',
    });
    const { d, promises } = deps();
    promises.beginLeadership(0);
    expect(await answerFailsafe(body, d)).toEqual({ status: 500, body: 'Running as a leader' });
  });

  it('500 (not "Running as a leader") for another member, another scope, or another live leader key', async () => {
    const other = (v: Partial<ClusterView>) => ({ freshView: () => v as ClusterView });
    expect((await answerFailsafe({ ...body, hapg: { ...body.hapg, to: 'c' } }, deps().d)).body).toMatch(
      /not c/,
    );
    expect((await answerFailsafe({ ...body, hapg: { ...body.hapg, scope: 'x' } }, deps().d)).body).toMatch(
      /not x/,
    );
    const leader = { name: 'c', leaseId: '9', modRevision: '1', createRevision: '1' };
    expect(await answerFailsafe(body, deps(other({ leader })).d)).toEqual({
      status: 500,
      body: 'etcd says c holds the leader key',
    });
    // the sender's own key, still under its lease: fine
    expect((await answerFailsafe(body, deps(other({ leader: { ...leader, name: 'b' } })).d)).status).toBe(
      200,
    );
  });

  it('a promise that cannot be recorded is not given', async () => {
    const { d, promises } = deps({
      recordLongest: async () => {
        throw new Error('EACCES');
      },
    });
    expect((await answerFailsafe(body, d)).status).toBe(500);
    expect(promises.hold(1_001)).toBeNull();
  });
});

describe('failsafeKeyDuty (K1, K2)', () => {
  const m = (name: string, over: Partial<Member> = {}) =>
    ({ name, leaseId: '1', apiUrl: `http://${name}:8008/patroni`, ...over }) as Member;
  const view = (failsafe: ClusterView['failsafe']) =>
    ({
      members: new Map([
        ['a', m('a')],
        ['b', m('b')],
        ['ghost', m('ghost', { leaseId: null })],
        ['noapi', m('noapi', { apiUrl: '' })],
      ]),
      failsafe,
      malformed: [],
    }) as unknown as ClusterView;
  const run = async (v: ClusterView, failsafeMode: boolean, write: () => Promise<string>) => {
    const calls: string[] = [];
    const rounds = new FailsafeRounds({ monotonicMs: () => 0, post: async () => 'failed' });
    const store = {
      writeFailsafe: async (members: ReadonlyMap<string, string>) => {
        calls.push(`write ${[...members.keys()].join(',')}`);
        return write();
      },
      deleteFailsafe: async () => {
        calls.push('delete');
      },
    };
    await failsafeKeyDuty(
      { store, rounds, log: silent },
      { view: v, self: 'a', selfApiUrl: 'http://a:8008/patroni', failsafeMode },
    );
    return { calls, set: rounds.failsafeSet() };
  };

  it('names every member with a lease-bound key and an api_url, and us', () => {
    expect([...failsafeMembers(view(null), 'a', 'http://a:8008/patroni').keys()]).toEqual(['a', 'b']);
  });

  it('writes a changed set; the acknowledged write becomes FS', async () => {
    const { calls, set } = await run(view(null), true, async () => '9');
    expect(calls).toEqual(['write a,b']);
    expect([...set!.keys()]).toEqual(['a', 'b']);
  });

  it('a write of unknown outcome counts in FS; a refused one (not the leader) does not', async () => {
    const unknown = await run(view(null), true, async () => {
      throw new HapgError('DCS_UNAVAILABLE', 'timeout');
    });
    expect([...unknown.set!.keys()]).toEqual(['a', 'b']);
    const refused = await run(view(null), true, async () => {
      throw new HapgError('DCS_CAS_CONFLICT', 'not the leader');
    });
    expect(refused.set).toBeNull();
  });

  it("FS starts from the previous leader's value in the view until our write is acknowledged", async () => {
    const old = { members: key('a', 'c'), modRevision: '4' };
    const lost = await run(view(old), true, async () => {
      throw new HapgError('DCS_UNAVAILABLE', 'timeout');
    });
    expect([...lost.set!.keys()].sort()).toEqual(['a', 'b', 'c']);
    const written = await run(view(old), true, async () => '9');
    expect([...written.set!.keys()]).toEqual(['a', 'b']);
  });

  it('with the mode off an unparsable key is deleted too', async () => {
    const v = {
      ...view(null),
      malformed: [{ key: '/service/demo/failsafe', kind: 'failsafe', error: 'x', modRevision: '3' }],
    };
    expect((await run(v as unknown as ClusterView, false, async () => '9')).calls).toEqual(['delete']);
  });

  it('an unchanged key is not rewritten, and is FS; with the mode off the key is deleted', async () => {
    const current = { members: failsafeMembers(view(null), 'a', 'http://a:8008/patroni'), modRevision: '4' };
    const same = await run(view(current), true, async () => '9');
    expect(same.calls).toEqual([]);
    expect([...same.set!.keys()]).toEqual(['a', 'b']);
    expect((await run(view(current), false, async () => '9')).calls).toEqual(['delete']);
    expect((await run(view(null), false, async () => '9')).calls).toEqual([]);
  });
});

describe('GET and POST /failsafe', () => {
  const app = (failsafe?: Parameters<typeof buildApi>[0]['failsafe']) =>
    buildApi({
      snapshot: () => primaryHealthy,
      metrics: createMetrics(),
      clock: clockAtNow(),
      ...(failsafe === undefined ? {} : { failsafe }),
    });

  it('GET: the key as JSON, 502 without one', async () => {
    const members = { a: 'http://a:8008/patroni', b: 'http://b:8008/patroni' };
    const withKey = await app({
      key: () => members,
      answer: async () => ({ status: 200, body: 'Accepted' }),
    }).inject({
      method: 'GET',
      url: '/failsafe',
    });
    expect(withKey.statusCode).toBe(200);
    expect(withKey.json()).toEqual(members);
    expect((await app().inject({ method: 'GET', url: '/failsafe' })).statusCode).toBe(502);
  });

  it("POST: Patroni's plain-text answers, the lsn header, and the body as sent", async () => {
    const seen: unknown[] = [];
    const a = app({
      key: () => null,
      answer: async (b) => {
        seen.push(b);
        return { status: 200, body: 'Accepted', lsn: '4242' };
      },
    });
    // patronictl-style: JSON without a Content-Type
    const r = await a.inject({ method: 'POST', url: '/failsafe', payload: JSON.stringify({ name: 'b' }) });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('Accepted');
    expect(r.headers.lsn).toBe('4242');
    expect(seen).toEqual([{ name: 'b' }]);
    const off = await app().inject({ method: 'POST', url: '/failsafe', payload: { name: 'b' } });
    expect(off.statusCode).toBe(502);
  });
});

describe('a restarted agent over a running primary', () => {
  it('rebinds its key through the startup hold: nothing it promised can still run', () => {
    const p = new FailsafePromises({ startedAtMs: 0, longestPromiseMs: 10_000 });
    expect(p.beginLeadership(5_000)?.code).toBe('FAILSAFE_STARTUP_HOLD');
    expect(p.beginLeadership(5_000, { writable: true })).toBeNull();
    expect(p.accept('b', 10_000, 5_001).ok).toBe(false);
  });
});

describe('AgentFailsafe: the glue the agent runs', () => {
  /** A primary whose renewals fail: view shows our key under lease `L1`, members b and c. */
  function rig() {
    const state = {
      leaseId: 'L1' as string | null,
      leaseDeadlineMs: performance.now() + 1_000,
      keyLease: 'L1',
      reachable: false,
      failingSinceMs: 0 as number | null,
    };
    const view = () =>
      ({
        leader: { name: 'a', leaseId: state.keyLease, modRevision: '5', createRevision: '5' },
        members: new Map(),
        failsafe: { members: key('a', 'b', 'c'), modRevision: '7' },
        malformed: [],
      }) as unknown as ClusterView;
    const pg = { process: 'running', inRecovery: false, flushLsn: 1n } as never;
    const f = new AgentFailsafe({
      name: 'a',
      scope: 'demo',
      store: {
        view,
        reachable: () => state.reachable,
        leaseId: () => state.leaseId,
        leaseDeadlineMs: () => state.leaseDeadlineMs,
        renewFailingSinceMs: () => state.failingSinceMs,
        writeFailsafe: async () => '8',
        deleteFailsafe: async () => {},
      },
      promises: new FailsafePromises({ startedAtMs: 0, longestPromiseMs: 0 }),
      promiseFile: { save: async () => {} },
      monotonicMs: () => performance.now(),
      post: async () => 'accepted',
      log: silent,
      dyn: () => ({ failsafeMode: true, ttlMs: 2_000, failsafeTimeoutMs: 400 }) as never,
      lastPg: () => pg,
      urls: () => ({ connUrl: 'postgres://a:5432/postgres', apiUrl: 'http://a:8008/patroni' }),
      onExtended: () => {},
      onRefused: () => {},
    });
    return { f, state, view };
  }

  it('rounds extend F while renewals fail; after the lease is lost, the new lease counts only once the key is under it (G1)', async () => {
    const { f, state, view } = rig();
    // FS comes from the view while we hold the key (the key duty, etcd reachable, renewing)
    Object.assign(state, { reachable: true, failingSinceMs: null });
    await f.afterIteration(view(), { process: 'running', inRecovery: false } as never);
    Object.assign(state, { reachable: false, failingSinceMs: 0 });
    f.start();
    try {
      await new Promise((r) => setTimeout(r, 350));
      const fDeadline = f.observation().failsafeDeadlineMs;
      expect(fDeadline).not.toBeNull();
      expect(f.deadlineAhead()).toBe(true);
      // etcd back without the old lease: a new one, ahead, bound to no key of ours
      f.leaseLost();
      state.leaseId = 'L2';
      state.leaseDeadlineMs = performance.now() + 60_000;
      expect(f.observation().leaseDeadlineMs).toBeNull();
      expect(f.writableUntilMs()).toBeLessThan(state.leaseDeadlineMs);
      // the key re-acquired under the new lease: L counts again
      state.keyLease = 'L2';
      expect(f.observation()).not.toHaveProperty('leaseDeadlineMs');
      expect(f.writableUntilMs()).toBe(state.leaseDeadlineMs);
    } finally {
      f.stop();
    }
  });

  it('the executor port: refused while a promise runs; a running primary passes the startup hold', () => {
    const { f } = rig();
    expect(f.port.beginLeadership()).toBeNull(); // writable primary, no promise
  });
});
