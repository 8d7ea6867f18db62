import { malformedKey } from '@hapg/core';
import { clusterKeys } from '../src/keys.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Kv } from '../src/backend.js';
import { parseFailover, parseHistory, parseMember, parseStatus, parseSync } from '../src/parse.js';
import { serializeFailover, serializeHistory, serializeStatus, serializeSync } from '../src/serialize.js';
import { buildView, fingerprint } from '../src/view.js';

const meta = { modRevision: '42', lease: '7587' };

describe('parse (etcd values → records)', () => {
  it('parses a Patroni member JSON', () => {
    const p = parseMember(
      'n1',
      JSON.stringify({
        conn_url: 'postgres://10.0.0.1:5432/postgres',
        api_url: 'http://10.0.0.1:8008/patroni',
        state: 'running',
        role: 'replica',
        version: '3.3.0',
        xlog_location: 67108960,
        receive_lsn: 67108960,
        replay_lsn: 67108000,
        replication_state: 'streaming',
        timeline: 3,
        tags: { nofailover: true },
        pending_restart: true,
        unknown_field: 1,
      }),
      meta,
    );
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.value).toMatchObject({
      name: 'n1',
      connUrl: 'postgres://10.0.0.1:5432/postgres',
      role: 'replica',
      timeline: 3,
      xlogLocation: 67108960n,
      replayLsn: 67108000n,
      replicationState: 'streaming',
      pendingRestart: true,
      tags: { nofailover: true },
      leaseId: '7587',
      modRevision: '42',
    });
    expect((p.value.raw as unknown as Record<string, unknown>).unknown_field).toBe(1);
  });

  it.each([
    ['not JSON', '{nope'],
    ['not an object', '[1]'],
    ['missing conn_url', '{"api_url":"x","state":"running","role":"replica"}'],
    ['bad timeline', '{"conn_url":"c","api_url":"a","state":"s","role":"r","timeline":0}'],
    ['negative LSN', '{"conn_url":"c","api_url":"a","state":"s","role":"r","xlog_location":-5}'],
    ['tags not an object', '{"conn_url":"c","api_url":"a","state":"s","role":"r","tags":3}'],
  ])('rejects a member that is %s, without throwing', (_why, text) => {
    const p = parseMember('n', text, meta);
    expect(p.ok).toBe(false);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        for (const p of [
          parseMember('n', text, meta),
          parseSync(text, meta),
          parseFailover(text, meta),
          parseHistory(text),
          parseStatus(text),
        ]) {
          expect(typeof p.ok).toBe('boolean');
        }
      }),
    );
  });

  it('sync, failover, history and status round-trip through serialize', () => {
    const sync = { leader: 'a', syncStandbys: ['b', 'c'], quorum: 1 };
    expect(parseSync(serializeSync({ ...sync, syncStandbys: ['c', 'b'] }), meta)).toEqual({
      ok: true,
      value: { ...sync, modRevision: '42' },
    });
    expect(JSON.parse(serializeSync({ leader: 'a', syncStandbys: [], quorum: null }))).toEqual({
      leader: 'a',
      sync_standby: null,
    });
    const fo = { leader: 'a', member: null, scheduledAt: '2026-01-01T00:00:00Z' };
    expect(JSON.parse(serializeFailover(fo))).toEqual({ leader: 'a', scheduled_at: '2026-01-01T00:00:00Z' });
    expect(parseFailover(serializeFailover(fo), meta)).toEqual({
      ok: true,
      value: { ...fo, modRevision: '42' },
    });
    const hist = [{ timeline: 1, switchLsn: 100, reason: 'switchover', time: 't', newLeader: 'b' }];
    expect(parseHistory(serializeHistory(hist))).toEqual({ ok: true, value: hist });
    // five elements as Patroni writes them, never a 6th (patronictl 3.0.2's history table fails on it)
    const withOld = [{ ...hist[0]!, oldLeader: 'a' }];
    expect(JSON.parse(serializeHistory(withOld))).toEqual([[1, 100, 'switchover', 't', 'b']]);
    expect(parseHistory('[[1, 100, "switchover", "t", "b", "a"]]')).toEqual({ ok: true, value: withOld });
    const status = { optime: 5, slots: { a: 1 }, retainSlots: ['a'] };
    expect(parseStatus(serializeStatus(status))).toEqual({ ok: true, value: status });
  });

  it('accepts Patroni history entries of 3 items', () => {
    expect(parseHistory('[[1, 25165984, "no recovery target specified"]]')).toEqual({
      ok: true,
      value: [
        {
          timeline: 1,
          switchLsn: 25165984,
          reason: 'no recovery target specified',
          time: '',
          newLeader: null,
        },
      ],
    });
    expect(parseHistory('[[1]]').ok).toBe(false);
  });
});

describe('buildView', () => {
  const keys = clusterKeys('/service', 'demo');
  const kv = (suffix: string, value: string, extra: Partial<Kv> = {}): Kv => ({
    key: `/service/demo/${suffix}`,
    value,
    createRevision: '5',
    modRevision: '9',
    lease: '0',
    ...extra,
  });
  const good = JSON.stringify({
    conn_url: 'c',
    api_url: 'a',
    state: 'running',
    role: 'primary',
    version: '1',
  });

  it('assembles every key and records malformed ones instead of failing', () => {
    const v = buildView(keys, 'demo', '12', [
      kv('leader', 'n1', { lease: '77' }),
      kv('members/n1', good, { lease: '77' }),
      kv('members/n2', 'garbage'),
      kv('config', '{"ttl":30}'),
      kv('initialize', '6999'),
      kv('sync', '{"leader":"n1","sync_standby":null}'),
      kv('status', 'nope'),
      kv('unknown', 'whatever'),
    ]);
    expect(v.revision).toBe('12');
    expect(v.leader).toEqual({ name: 'n1', leaseId: '77', modRevision: '9', createRevision: '5' });
    expect([...v.members.keys()]).toEqual(['n1']);
    expect(v.config).toEqual({ value: { ttl: 30 }, modRevision: '9' });
    expect(v.initialize).toBe('6999');
    expect(v.sync?.syncStandbys).toEqual([]);
    expect(v.status).toBeNull();
    expect(v.malformed.map((m) => m.key)).toEqual(['/service/demo/members/n2', '/service/demo/status']);
    expect(Object.isFrozen(v)).toBe(true);
  });

  it("keeps the leader key's lease: 0 (or none) is no lease, so core can tell a key no agent wrote (issue 11)", () => {
    const leased = buildView(keys, 'demo', '12', [kv('leader', 'n1', { lease: '77' })]);
    expect(leased.leader?.leaseId).toBe('77');
    for (const lease of ['0', '']) {
      const v = buildView(keys, 'demo', '12', [kv('leader', 'ghost', { lease, modRevision: '11' })]);
      expect(v.leader).toEqual({ name: 'ghost', leaseId: null, modRevision: '11', createRevision: '5' });
    }
    const empty = buildView(keys, 'demo', '12', [kv('leader', '')]);
    expect(empty.leader).toEqual({ name: '', leaseId: null, modRevision: '9', createRevision: '5' });
    // a member key without a lease is parsed as such (slots and elections skip it)
    const fake = buildView(keys, 'demo', '12', [kv('members/junk4', good)]);
    expect(fake.members.get('junk4')?.leaseId).toBeNull();
  });

  it('records each malformed key with its kind and mod revision, so it can be cleared by CAS', () => {
    const v = buildView(keys, 'demo', '12', [
      kv('failover', '{"leader":', { modRevision: '20' }),
      kv('sync', '[1,2]', { modRevision: '21' }),
      kv('history', '{"a":1}', { modRevision: '22' }),
      kv('config', 'null', { modRevision: '23' }),
      kv('members/n9', '{}', { modRevision: '24' }),
    ]);
    expect(v.failover).toBeNull();
    expect(v.sync).toBeNull();
    expect(v.history).toBeNull();
    expect(v.config).toBeNull();
    expect(v.malformed.map(({ kind, modRevision }) => [kind, modRevision])).toEqual([
      ['failover', '20'],
      ['sync', '21'],
      ['history', '22'],
      ['config', '23'],
      ['member', '24'],
    ]);
    expect(malformedKey(v, 'failover')?.modRevision).toBe('20');
    expect(malformedKey(v, 'status')).toBeNull();
  });

  it('a failover key whose scheduled_at no reader understands is malformed (issue 11: it never ran and blocked every switchover)', () => {
    const v = buildView(keys, 'demo', '12', [
      kv('failover', '{"leader":"n1","scheduled_at":"tomorrow"}', { modRevision: '30' }),
    ]);
    expect(v.failover).toBeNull();
    expect(malformedKey(v, 'failover')?.modRevision).toBe('30');
    const ok = buildView(keys, 'demo', '12', [
      kv('failover', '{"leader":"n1","scheduled_at":"2030-01-01T00:00+01"}', { modRevision: '31' }),
    ]);
    expect(ok.failover?.scheduledAt).toBe('2030-01-01T00:00+01');
  });

  it('fingerprints change with any write', () => {
    const a = [kv('leader', 'n1')];
    expect(fingerprint(a)).toBe(fingerprint([kv('leader', 'n2')]));
    expect(fingerprint(a)).not.toBe(fingerprint([kv('leader', 'n1', { modRevision: '10' })]));
  });
});
