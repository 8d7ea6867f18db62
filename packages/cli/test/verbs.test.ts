import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../src/commands/edit-config/diff.js';
import { runEditConfig } from '../src/commands/edit-config/edit-config.js';
import { parseSetting, settingsPatch } from '../src/commands/edit-config/settings.js';
import { flushRestart, flushSwitchover } from '../src/commands/flush/flush.js';
import { membersNotYet, runPause } from '../src/commands/pause/pause.js';
import { runReinit } from '../src/commands/reinit/reinit.js';
import { runReload } from '../src/commands/reload/reload.js';
import { runRemove } from '../src/commands/remove/remove.js';
import { restartBody, restartTargets, runRestart } from '../src/commands/restart/restart.js';
import { renderTopology } from '../src/commands/topology/topology.js';
import { UsageError } from '../src/errors.js';
import { fakeDeps, outcome } from './action-fakes.js';
import { member, OPTIME, viewOf } from './fixtures.js';
import { cluster } from './cluster-fixture.js';

const PAUSE = { wait: false, waitTimeoutMs: 5000, pollIntervalMs: 1000 };

describe('edit-config', () => {
  it('-s/-p values are YAML scalars; dots nest; null deletes', () => {
    expect(parseSetting('ttl=20', '-s', 'u')).toEqual({ path: ['ttl'], value: 20 });
    expect(parseSetting('synchronous_mode=true', '-s', 'u')).toEqual({
      path: ['synchronous_mode'],
      value: true,
    });
    expect(parseSetting('postgresql.use_pg_rewind=false', '-s', 'u').path).toEqual([
      'postgresql',
      'use_pg_rewind',
    ]);
    expect(parseSetting('pause=null', '-s', 'u').value).toBeNull();
    expect(parseSetting('auto_explain.log_min_duration=10s', '-p', 'u')).toEqual({
      path: ['postgresql', 'parameters', 'auto_explain.log_min_duration'],
      value: '10s',
    });
    expect(() => parseSetting('ttl', '-s', 'u')).toThrow(UsageError);
    expect(
      settingsPatch([parseSetting('ttl=20', '-s', 'u'), parseSetting('max_connections=200', '-p', 'u')]),
    ).toEqual({
      ttl: 20,
      postgresql: { parameters: { max_connections: 200 } },
    });
  });

  it('unified diff', () => {
    expect(unifiedDiff('a: 1\nb: 2\n', 'a: 1\nb: 2\n')).toBe('');
    expect(unifiedDiff('a: 1\nb: 2\nc: 3\n', 'a: 1\nb: 5\nc: 3\n', { from: 'x', to: 'y' })).toBe(
      '--- x\n+++ y\n@@ -1,3 +1,3 @@\n a: 1\n-b: 2\n+b: 5\n c: 3\n',
    );
  });

  it('shows the diff and PATCHes the leader', async () => {
    const { deps, io, api } = fakeDeps({
      views: [cluster()],
      routes: { 'PATCH /config@8432': { status: 200 } },
    });
    const code = await runEditConfig(
      { ...deps, editText: async () => 'unused' },
      {
        change: { kind: 'patch', applyText: null, settings: [parseSetting('ttl=40', '-s', 'u')] },
        force: true,
      },
    );
    expect(code).toBe(0);
    expect(api.calls).toEqual([
      { apiUrl: 'http://127.0.0.1:8432/patroni', method: 'PATCH', path: '/config', body: { ttl: 40 } },
    ]);
    expect(io.stdout()).toContain('-ttl: 30\n+ttl: 40\n');
    expect(io.stdout()).toMatch(/config changed\n$/);
  });

  it('editor result is PUT; the fallback is a CAS on the config key', async () => {
    const { deps, store } = fakeDeps({ views: [cluster()], routes: { 'PUT /config': 'down' } });
    await runEditConfig(
      { ...deps, editText: async (t) => t.replace('loop_wait: 10', 'loop_wait: 5') },
      { change: { kind: 'editor' }, force: true },
    );
    expect(store.writes).toEqual([
      {
        op: 'config',
        value: { loop_wait: 5, maximum_lag_on_failover: 1048576, retry_timeout: 10, ttl: 30 },
        rev: '2',
      },
    ]);
  });

  it('an invalid config is refused before anything is written', async () => {
    const { deps, api, store } = fakeDeps({ views: [cluster()] });
    const r = await outcome(() =>
      runEditConfig(
        { ...deps, editText: async () => '' },
        { change: { kind: 'patch', applyText: 'loop_wait: 25\n', settings: [] }, force: true },
      ),
    );
    expect(r.error).toMatch(/^invalid config, nothing written: .*loop_wait/s);
    expect(api.calls).toEqual([]);
    expect(store.writes).toEqual([]);
  });

  it('no change, and a CAS conflict', async () => {
    const same = fakeDeps({ views: [cluster()] });
    await runEditConfig(
      { ...same.deps, editText: async (t) => t },
      { change: { kind: 'editor' }, force: true },
    );
    expect(same.io.stdout()).toBe('no changes\n');
    const clash = fakeDeps({ views: [cluster('nobody')], conflict: true });
    const r = await outcome(() =>
      runEditConfig(
        { ...clash.deps, editText: async (t) => `${t}pause: true\n` },
        { change: { kind: 'editor' }, force: true },
      ),
    );
    expect(r.error).toBe(
      'the config changed while you were editing it: nothing written, run the command again',
    );
  });
});

describe('pause / resume', () => {
  it('PATCHes pause true, or null to resume; refuses a no-op', async () => {
    const p = fakeDeps({ views: [cluster()], routes: { 'PATCH /config': { status: 200 } } });
    expect(await runPause(p.deps, { pause: true, ...PAUSE })).toBe(0);
    expect(p.api.calls[0]!.body).toEqual({ pause: true });
    const paused = cluster('node1', { config: { ttl: 30, pause: true } });
    const r = fakeDeps({ views: [paused], routes: { 'PATCH /config': { status: 200 } } });
    await runPause(r.deps, { pause: false, ...PAUSE });
    expect(r.api.calls[0]!.body).toEqual({ pause: null });
    const again = fakeDeps({ views: [paused] });
    expect((await outcome(() => runPause(again.deps, { pause: true, ...PAUSE }))).error).toBe(
      'cluster demo is already paused',
    );
  });

  it('--wait until every member key says pause', async () => {
    const all = viewOf({
      leader: 'node1',
      'members/node1': member(5432, { pause: true }),
      'members/node2': member(5433, { pause: true }),
    });
    const some = viewOf({
      leader: 'node1',
      'members/node1': member(5432, { pause: true }),
      'members/node2': member(5433, {}),
    });
    expect(membersNotYet(some, true)).toEqual(['node2']);
    const { deps, io } = fakeDeps({ views: [some, some, all], routes: { 'PATCH /config': { status: 200 } } });
    await runPause(deps, { ...PAUSE, pause: true, wait: true });
    expect(io.stdout()).toBe(
      'waiting for node2 (0 s)\nmaintenance mode on: the agents take no automatic action\n',
    );
  });
});

describe('restart / reload / reinit / flush', () => {
  it('restart filters by role and pending, one line per member, exit 1 when one failed', async () => {
    const view = cluster('node1', { 'members/node2': member(5433, { pending_restart: true }) });
    expect(
      restartTargets(view, {
        members: [],
        role: 'replica',
        pending: true,
        scheduledAt: null,
        force: true,
      }).map((m) => m.name),
    ).toEqual(['node2']);
    expect(
      restartBody({ members: [], role: 'primary', pending: true, scheduledAt: 'T', force: true }),
    ).toEqual({
      restart_pending: true,
      role: 'primary',
      schedule: 'T',
    });
    const { deps, io } = fakeDeps({
      views: [view],
      routes: {
        'POST /restart@8432': { status: 200 },
        'POST /restart@8433': { status: 503, body: { error: 'restart failed' } },
      },
    });
    const code = await runRestart(deps, {
      members: ['node1', 'node2'],
      role: 'any',
      pending: false,
      scheduledAt: null,
      force: true,
    });
    expect(code).toBe(1);
    expect(io.stdout()).toBe('node1: restarted\nnode2: failed: restart failed (HTTP 503)\n');
  });

  it('reload posts to every member; -o json lists outcomes', async () => {
    const { deps, io, api } = fakeDeps({
      views: [cluster()],
      routes: { 'POST /reload': { status: 202 }, 'POST /reload@8435': 'down' },
      format: 'json',
    });
    expect(await runReload(deps, [])).toBe(1);
    expect(api.calls.map((c) => c.apiUrl)).toHaveLength(5);
    const rows = JSON.parse(io.stdout()) as { member: string; ok: boolean }[];
    expect(rows.filter((r) => !r.ok).map((r) => r.member)).toEqual(['node4']);
  });

  it('reinit refuses the leader and posts for a replica', async () => {
    const { deps, api, io } = fakeDeps({
      views: [cluster()],
      routes: { 'POST /reinitialize': { status: 200 } },
    });
    expect((await outcome(() => runReinit(deps, 'node1', true))).error).toBe(
      'node1 is the leader: reinit rebuilds a replica from the leader, switch over first',
    );
    expect(await runReinit(deps, 'node2', true)).toBe(0);
    expect(api.calls).toEqual([
      {
        apiUrl: 'http://127.0.0.1:8433/patroni',
        method: 'POST',
        path: '/reinitialize',
        body: { force: true },
      },
    ]);
    expect(io.stdout()).toBe('node2: reinitialize started\n');
  });

  it('flush --switchover: DELETE on the leader, else CAS delete of the failover key', async () => {
    const scheduled = cluster('node1', {
      failover: { leader: 'node1', member: 'node2', scheduled_at: '2026-01-01T10:00:00Z' },
    });
    const viaApi = fakeDeps({ views: [scheduled], routes: { 'DELETE /switchover': { status: 200 } } });
    expect(await flushSwitchover(viaApi.deps)).toBe(0);
    expect(viaApi.io.stdout()).toBe('scheduled switchover cancelled\n');
    const none = fakeDeps({ views: [cluster()], routes: { 'DELETE /switchover': { status: 404 } } });
    expect((await outcome(() => flushSwitchover(none.deps))).error).toBe('no scheduled switchover to cancel');
    const down = fakeDeps({ views: [scheduled], routes: { 'DELETE /switchover': 'down' } });
    await flushSwitchover(down.deps);
    expect(down.store.writes).toEqual([{ op: 'delete failover', value: undefined, rev: '10' }]);
    // a malformed failover key (issue 11) is what blocks switchovers: flush clears it too
    const garbage = fakeDeps({
      views: [cluster('node1', { failover: '{"leader":' })],
      routes: { 'DELETE /switchover': 'down' },
    });
    await flushSwitchover(garbage.deps);
    expect(garbage.store.writes).toEqual([{ op: 'delete failover', value: undefined, rev: '10' }]);
    const restart = fakeDeps({
      views: [cluster()],
      routes: { 'DELETE /restart@8432': { status: 200 }, 'DELETE /restart': { status: 404 } },
    });
    await flushRestart(restart.deps, ['node1', 'node2']);
    expect(restart.io.stdout()).toBe('node1: scheduled restart cancelled\nnode2: no scheduled restart\n');
  });
});

describe('remove', () => {
  const leaderless = viewOf({ initialize: '1', 'members/node1': member(5432, {}) });
  it('asks for the name, then "Yes I am aware"', async () => {
    const { deps, store, prompt } = fakeDeps({ views: [leaderless], answers: ['demo', 'Yes I am aware'] });
    expect(await runRemove(deps, 'demo', false)).toBe(0);
    expect(store.writes).toEqual([{ op: 'remove', rev: null }]);
    expect(prompt.asked).toEqual([
      'Please confirm the cluster name to remove:',
      'You are about to remove all information in etcd for demo, please type: "Yes I am aware":',
    ]);
  });
  it('refuses a leader without --force, a wrong name, a wrong phrase', async () => {
    const withLeader = fakeDeps({ views: [cluster()], answers: ['demo', 'Yes I am aware'] });
    expect((await outcome(() => runRemove(withLeader.deps, 'demo', false))).error).toBe(
      'cluster demo has a leader (node1): stop its agents first, or use --force',
    );
    const wrong = fakeDeps({ views: [leaderless], answers: ['dmeo'] });
    expect((await outcome(() => runRemove(wrong.deps, 'demo', false))).error).toBe(
      'cluster name does not match, nothing removed',
    );
    const phrase = fakeDeps({ views: [leaderless], answers: ['demo', 'yes'] });
    expect((await outcome(() => runRemove(phrase.deps, 'demo', false))).error).toBe(
      'you did not exactly type "Yes I am aware", nothing removed',
    );
    expect(phrase.store.writes).toEqual([]);
  });
});

describe('topology', () => {
  it('indents members under their replicatefrom upstream', () => {
    const view = viewOf({
      initialize: '7',
      leader: 'node1',
      status: { optime: OPTIME },
      'members/node1': member(5432, { role: 'primary', timeline: 2, xlog_location: OPTIME }),
      'members/node2': member(5433, { timeline: 2, xlog_location: OPTIME }),
      'members/node3': member(5434, { timeline: 2, xlog_location: OPTIME, tags: { replicatefrom: 'node2' } }),
    });
    const table = renderTopology(view, 'table');
    expect(table).toMatch(/\| \+ node1 {5}\|/);
    expect(table).toMatch(/\| {3}\+ node2 {3}\|/);
    expect(table).toMatch(/\| {5}\+ node3 \|/);
    const json = JSON.parse(renderTopology(view, 'json')) as {
      member: string;
      replicates_from: string | null;
    }[];
    expect(json.map((n) => [n.member, n.replicates_from])).toEqual([
      ['node1', null],
      ['node2', 'node1'],
      ['node3', 'node2'],
    ]);
  });

  it("draws what streams: the member key's streaming_from wins over the tag; a stopped upstream is not one", () => {
    const rows = (members: Record<string, unknown>) =>
      (
        JSON.parse(
          renderTopology(
            viewOf({ initialize: '7', leader: 'node1', status: { optime: OPTIME }, ...members }),
            'json',
          ),
        ) as { member: string; replicates_from: string | null }[]
      ).map((n) => [n.member, n.replicates_from]);
    const node1 = member(5432, { role: 'primary', timeline: 2, xlog_location: OPTIME });
    // node3 wants node2, but its receiver is still connected to node1
    expect(
      rows({
        'members/node1': node1,
        'members/node2': member(5433, { timeline: 2 }),
        'members/node3': member(5434, {
          timeline: 2,
          tags: { replicatefrom: 'node2' },
          streaming_from: 'node1',
        }),
      }),
    ).toEqual([
      ['node1', null],
      ['node2', 'node1'],
      ['node3', 'node1'],
    ]);
    // no streaming_from published, node2 stopped: the rule says the leader
    expect(
      rows({
        'members/node1': node1,
        'members/node2': member(5433, { timeline: 2, state: 'stopped' }),
        'members/node3': member(5434, { timeline: 2, tags: { replicatefrom: 'node2' } }),
      }),
    ).toEqual([
      ['node1', null],
      ['node2', 'node1'],
      ['node3', 'node1'],
    ]);
  });
});
