import { describe, expect, it } from 'vitest';
import { memoryIo } from '../src/io.js';
import { CLEAR_SCREEN, renderList, runList } from '../src/commands/list/list.js';
import { leaderOptime } from '@hapg/core';
import { lagInMb, listRows } from '../src/commands/list/rows.js';
import { member, OPTIME, threeMembers, viewOf } from './fixtures.js';

const MIB = 1024 * 1024;

describe('hactl list: table', () => {
  it('renders leader, lagging replica with tags and pending restart, stopped member, pause footer', () => {
    const { out, err } = renderList(threeMembers(), 'table');
    expect(out).toBe(
      [
        '+ Cluster: demo (7312345678901234567) ----------+----+-----------+-----------------+---------------------------+',
        '| Member | Host           | Role    | State     | TL | Lag in MB | Pending restart | Tags                      |',
        '+--------+----------------+---------+-----------+----+-----------+-----------------+---------------------------+',
        '| node1  | 127.0.0.1:5432 | Leader  | running   |  2 |           |                 |                           |',
        '| node2  | 127.0.0.1:5433 | Replica | streaming |  2 |         3 | *               | nofailover: true, zone: b |',
        '| node3  | 127.0.0.1:5434 | Replica | stopped   |    |   unknown |                 |                           |',
        '+--------+----------------+---------+-----------+----+-----------+-----------------+---------------------------+',
        ' Maintenance mode: on',
        '',
      ].join('\n'),
    );
    expect(err).toBe('');
  });

  it('leaves out Pending restart and Tags when no member has them, and the footer when not paused', () => {
    const { out } = renderList(
      viewOf({
        initialize: '1',
        leader: 'a',
        'members/a': member(5432, { role: 'primary', timeline: 1, xlog_location: 10 }),
      }),
      'table',
    );
    expect(out).toBe(
      [
        '+ Cluster: demo (1) ------+--------+---------+----+-----------+',
        '| Member | Host           | Role   | State   | TL | Lag in MB |',
        '+--------+----------------+--------+---------+----+-----------+',
        '| a      | 127.0.0.1:5432 | Leader | running |  1 |           |',
        '+--------+----------------+--------+---------+----+-----------+',
        '',
      ].join('\n'),
    );
  });

  it('adds a Reason column when a member reports a status_reason', () => {
    const view = threeMembers({
      'members/node3': member(5434, { state: 'stopped', status_reason: 'rewind failed: diverged' }),
    });
    const lines = renderList(view, 'table').out.split('\n');
    expect(lines[1]).toMatch(/\| Tags +\| Reason +\|$/);
    expect(lines[5]).toMatch(/\| rewind failed: diverged \|$/);
  });

  it("shows a leader whose Postgres refuses its agent: State unreachable, the server's words in Reason", () => {
    const why =
      "Postgres runs as a primary but refuses the agent's connection: connect to 10.0.0.11:5432: " +
      'no pg_hba.conf entry for host "10.0.0.11", user "postgres" (28000)';
    const view = viewOf({
      initialize: '1',
      leader: 'a',
      'members/a': member(5432, { role: 'primary', state: 'unreachable', status_reason: why }),
    });
    expect(renderList(view, 'table').out).toBe(
      [
        `+ Cluster: demo (1) ------+--------+-------------+----+-----------+${'-'.repeat(why.length + 2)}+`,
        `| Member | Host           | Role   | State       | TL | Lag in MB | Reason${' '.repeat(why.length - 5)}|`,
        `+--------+----------------+--------+-------------+----+-----------+${'-'.repeat(why.length + 2)}+`,
        `| a      | 127.0.0.1:5432 | Leader | unreachable |    |           | ${why} |`,
        `+--------+----------------+--------+-------------+----+-----------+${'-'.repeat(why.length + 2)}+`,
        '',
      ].join('\n'),
    );
    expect(JSON.parse(renderList(view, 'json').out)).toEqual([
      {
        member: 'a',
        host: '127.0.0.1:5432',
        role: 'Leader',
        state: 'unreachable',
        tl: null,
        lag_in_mb: null,
        pending_restart: false,
        tags: {},
        reason: why,
      },
    ]);
  });

  it('shows a scheduled switchover under the table', () => {
    const view = threeMembers({
      failover: { leader: 'node1', member: 'node2', scheduled_at: '2030-01-01T10:00:00+00:00' },
    });
    expect(renderList(view, 'table').out).toMatch(
      / Maintenance mode: on\n Switchover scheduled at: 2030-01-01T10:00:00\+00:00\n {20}from: node1\n {22}to: node2\n$/,
    );
  });

  it('names an uninitialized cluster as such', () => {
    expect(renderList(viewOf({}), 'table').out.split('\n')[0]).toMatch(
      /^\+ Cluster: demo \(uninitialized\) -/,
    );
  });

  it('warns on stderr about members whose JSON is malformed, and still lists the others', () => {
    const { out, err } = renderList(threeMembers({ 'members/node4': '{not json' }), 'table');
    expect(err).toMatch(
      /^hactl: warning: ignored malformed keys: \/service\/demo\/members\/node4 \(invalid JSON/,
    );
    expect(err.split('\n')).toHaveLength(2);
    expect(out).toContain('| node2 ');
    expect(out).not.toContain('node4');
  });
});

describe('hactl list: json and yaml', () => {
  it('has patronictl list -f json fields with snake_case keys', () => {
    const rows = JSON.parse(renderList(threeMembers(), 'json').out);
    expect(rows).toEqual([
      {
        member: 'node1',
        host: '127.0.0.1:5432',
        role: 'Leader',
        state: 'running',
        tl: 2,
        lag_in_mb: null,
        pending_restart: false,
        tags: {},
      },
      {
        member: 'node2',
        host: '127.0.0.1:5433',
        role: 'Replica',
        state: 'streaming',
        tl: 2,
        lag_in_mb: 3,
        pending_restart: true,
        tags: { zone: 'b', nofailover: true },
      },
      {
        member: 'node3',
        host: '127.0.0.1:5434',
        role: 'Replica',
        state: 'stopped',
        tl: null,
        lag_in_mb: null,
        pending_restart: false,
        tags: {},
      },
    ]);
  });

  it('adds reason only when set', () => {
    const view = threeMembers({ 'members/node3': member(5434, { state: 'stopped', status_reason: 'why' }) });
    const rows = JSON.parse(renderList(view, 'json').out) as Record<string, unknown>[];
    expect(rows.map((r) => 'reason' in r)).toEqual([false, false, true]);
    expect(rows[2]!.reason).toBe('why');
  });

  it('writes the same rows as YAML', () => {
    const yaml = renderList(threeMembers(), 'yaml').out;
    expect(yaml).toMatch(/^- member: node1\n {2}host: 127\.0\.0\.1:5432\n {2}role: Leader\n/);
    expect(yaml).toContain('  lag_in_mb: 3\n');
  });
});

describe('lag', () => {
  it('is measured against the status optime', () => {
    const rows = listRows(threeMembers({ status: { optime: OPTIME + 10 * MIB } }));
    expect(rows.map((r) => r.lagBytes)).toEqual([null, BigInt(13 * MIB), null]);
  });

  it('falls back to the leader member xlog_location without a status key', () => {
    const view = threeMembers({ status: {} });
    expect(leaderOptime(view)).toBe(BigInt(OPTIME));
    expect(listRows(view)[1]!.lagBytes).toBe(BigInt(3 * MIB));
  });

  it('is unknown without the leader position or the member position', () => {
    const view = threeMembers({ status: {}, leader: 'nobody' });
    expect(leaderOptime(view)).toBeNull();
    const rows = listRows(view);
    expect(rows.every((r) => r.lagBytes === null && r.lagUnknown)).toBe(true);
    expect(renderList(view, 'table').out.match(/unknown/g)).toHaveLength(3);
  });

  it('is never negative: a replica ahead of a stale status is 0 behind', () => {
    const view = threeMembers({
      status: { optime: OPTIME - 10 * MIB },
    });
    expect(listRows(view)[1]!.lagBytes).toBe(0n);
  });

  it('rounds to whole MB as patronictl does', () => {
    expect(lagInMb(0n)).toBe(0);
    expect(lagInMb(BigInt(MIB / 2 - 1))).toBe(0);
    expect(lagInMb(BigInt(MIB / 2))).toBe(1);
    expect(lagInMb(BigInt(5 * MIB + 100))).toBe(5);
  });
});

describe('order and roles', () => {
  it('puts the leader first, then sorts by name', () => {
    const view = viewOf({
      leader: 'm',
      'members/z': member(1, {}),
      'members/a': member(2, {}),
      'members/m': member(3, { role: 'primary' }),
      'members/b': member(4, {}),
    });
    expect(listRows(view).map((r) => r.member)).toEqual(['m', 'a', 'b', 'z']);
  });

  it('sorts by name without a leader', () => {
    const view = viewOf({ 'members/b': member(1, {}), 'members/a': member(2, {}) });
    expect(listRows(view).map((r) => [r.member, r.role])).toEqual([
      ['a', 'Replica'],
      ['b', 'Replica'],
    ]);
  });

  it('names sync and quorum standbys from the sync key, only in synchronous mode', () => {
    const base = {
      leader: 'a',
      sync: { leader: 'a', sync_standby: 'b' },
      'members/a': member(1, { role: 'primary' }),
      'members/b': member(2, {}),
      'members/c': member(3, {}),
    };
    const roles = (config: unknown) => listRows(viewOf({ ...base, config })).map((r) => r.role);
    expect(roles({ synchronous_mode: true })).toEqual(['Leader', 'Sync Standby', 'Replica']);
    expect(roles({ synchronous_mode: 'quorum' })).toEqual(['Leader', 'Quorum Standby', 'Replica']);
    expect(roles({ synchronous_mode: false })).toEqual(['Leader', 'Replica', 'Replica']);
    // the config as the agents read it (core's effectiveDynamicConfig): an invalid key is not
    // half-read; without a previous config hactl shows what a fresh agent runs on, the defaults
    expect(roles({ synchronous_mode: 'on' })).toEqual(['Leader', 'Sync Standby', 'Replica']);
    expect(roles({ synchronous_mode: true, ttl: -5 })).toEqual(['Leader', 'Replica', 'Replica']);
  });

  it('calls a standby cluster leader Standby Leader and shows a running replica state as is without streaming', () => {
    const view = viewOf({
      leader: 'a',
      'members/a': member(1, { role: 'standby_leader', replication_state: 'streaming' }),
      'members/b': member(2, { replication_state: 'in archive recovery' }),
      'members/c': member(3, { state: 'starting', replication_state: 'streaming' }),
    });
    expect(listRows(view).map((r) => [r.role, r.state])).toEqual([
      ['Standby Leader', 'running'],
      ['Replica', 'in archive recovery'],
      ['Replica', 'starting'],
    ]);
  });

  it('takes host:port from conn_url, with the default port, and keeps an unparsable one raw', () => {
    const view = viewOf({
      'members/a': { ...member(1, {}), conn_url: 'postgres://db.example:6543/postgres' },
      'members/b': { ...member(1, {}), conn_url: 'postgres://[::1]/postgres' },
      'members/c': { ...member(1, {}), conn_url: 'garbage' },
    });
    expect(listRows(view).map((r) => r.host)).toEqual(['db.example:6543', '[::1]:5432', 'garbage']);
  });
});

describe('runList', () => {
  it('prints once without --watch', async () => {
    const io = memoryIo();
    const code = await runList({ readView: async () => threeMembers(), io, format: 'json', watch: null });
    expect(code).toBe(0);
    expect(JSON.parse(io.stdout())).toHaveLength(3);
  });

  it('lets a read error of a one-shot list propagate', async () => {
    const io = memoryIo();
    const readView = () => Promise.reject(new Error('boom'));
    await expect(runList({ readView, io, format: 'table', watch: null })).rejects.toThrow('boom');
  });

  it('redraws every interval until aborted, clearing a TTY, and survives a failed read', async () => {
    const io = memoryIo(true);
    const controller = new AbortController();
    const sleeps: number[] = [];
    let reads = 0;
    const code = await runList({
      readView: async () => {
        reads++;
        if (reads === 2) throw new Error('etcd blip');
        return threeMembers();
      },
      io,
      format: 'table',
      watch: {
        intervalMs: 1500,
        signal: controller.signal,
        wallMs: () => Date.UTC(2030, 0, 1),
        sleep: async (ms) => {
          sleeps.push(ms);
          if (sleeps.length === 3) controller.abort();
        },
      },
    });
    expect(code).toBe(0);
    expect(reads).toBe(3);
    expect(sleeps).toEqual([1500, 1500, 1500]);
    expect(io.stdout().split(CLEAR_SCREEN)).toHaveLength(4);
    expect(io.stdout()).toContain('2030-01-01T00:00:00.000Z (every 1.5 s)\n+ Cluster: demo');
    expect(io.stderr()).toBe('hactl: etcd blip\n');
  });

  it('separates frames by a blank line and never clears when stdout is not a TTY', async () => {
    const io = memoryIo(false);
    const controller = new AbortController();
    await runList({
      readView: async () => threeMembers(),
      io,
      format: 'table',
      watch: {
        intervalMs: 10,
        signal: controller.signal,
        wallMs: () => 0,
        sleep: async () => controller.abort(),
      },
    });
    expect(io.stdout()).not.toContain(CLEAR_SCREEN);
    expect(io.stdout().endsWith(' Maintenance mode: on\n\n')).toBe(true);
  });
});

describe('hactl list -e', () => {
  const view = () =>
    threeMembers({
      'members/node2': member(5433, {
        timeline: 2,
        xlog_location: OPTIME - MIB,
        receive_lsn: OPTIME - MIB,
        replay_lsn: OPTIME - 4 * MIB,
        replication_state: 'streaming',
      }),
    });

  it('adds receive and replay positions and lags', () => {
    const lines = renderList(view(), 'table', { extended: true }).out.split('\n');
    expect(lines[1]).toBe(
      '| Member | Host           | Role    | State     | TL | Lag in MB | Receive LSN | Receive Lag | Replay LSN | Replay Lag |',
    );
    expect(lines[3]).toBe(
      '| node1  | 127.0.0.1:5432 | Leader  | running   |  2 |           |             |             |            |            |',
    );
    expect(lines[4]).toBe(
      '| node2  | 127.0.0.1:5433 | Replica | streaming |  2 |         1 |   0/6300000 |           1 |  0/6000000 |          4 |',
    );
    expect(lines[5]).toBe(
      '| node3  | 127.0.0.1:5434 | Replica | stopped   |    |   unknown |             |     unknown |            |    unknown |',
    );
  });

  it('adds the same fields to JSON, and only with -e', () => {
    const rows = JSON.parse(renderList(view(), 'json', { extended: true }).out);
    expect(rows[1]).toMatchObject({
      receive_lsn: '0/6300000',
      receive_lag_in_mb: 1,
      replay_lsn: '0/6000000',
      replay_lag_in_mb: 4,
    });
    expect(rows[2]).toMatchObject({ receive_lsn: null, receive_lag_in_mb: null });
    expect('receive_lsn' in JSON.parse(renderList(view(), 'json').out)[1]).toBe(false);
  });
});

describe('empty scope', () => {
  it('warns that nothing was found, which is usually a wrong scope', () => {
    expect(renderList(viewOf({}), 'table').err).toBe(
      'hactl: warning: no keys found for scope "demo": is the scope or namespace right?\n',
    );
    expect(renderList(viewOf({ config: {} }), 'table').err).toBe('');
  });
});

describe('hactl list: synchronous mode footer', () => {
  const base = {
    initialize: '1',
    leader: 'a',
    'members/a': member(5432, { role: 'primary', timeline: 1, xlog_location: 10 }),
    'members/b': member(5433, { timeline: 1, xlog_location: 10 }),
  };
  it('marks the sync standby and says nothing more when the key names one', () => {
    const { out } = renderList(
      viewOf({
        ...base,
        config: { synchronous_mode: true },
        sync: { leader: 'a', sync_standby: 'b', quorum: 0 },
      }),
      'table',
    );
    expect(out).toContain('| Sync Standby |');
    expect(out).not.toContain('Synchronous mode:');
  });
  it('says when the leader runs without a synchronous standby, and how strict mode differs', () => {
    const degraded = viewOf({
      ...base,
      config: { synchronous_mode: true },
      sync: { leader: 'a', sync_standby: null },
    });
    expect(renderList(degraded, 'table').out).toContain(
      ' Synchronous mode: on, no synchronous standby (degraded: commits are asynchronous, only a can be promoted)',
    );
    const strict = viewOf({
      ...base,
      config: { synchronous_mode: 'quorum', synchronous_mode_strict: true },
      sync: { leader: 'a', sync_standby: null },
    });
    expect(renderList(strict, 'table').out).toContain(
      ' Synchronous mode: quorum, no synchronous standby (strict: commits wait for one)',
    );
  });
});

describe('hactl list: fast failover footer', () => {
  const promised = member(5432, { role: 'primary', timeline: 1, xlog_location: 10, sync_promise: 1 });
  const base = {
    initialize: '1',
    leader: 'a',
    'members/b': member(5433, { timeline: 1, xlog_location: 10 }),
    sync: { leader: 'a', sync_standby: 'b', quorum: 0 },
  };
  const ON = { synchronous_mode: true, fast_failover: true };
  /** the table of a cluster whose leader `a` has this member key, under this config */
  const table = (leader: unknown, config: Record<string, unknown>) =>
    renderList(viewOf({ ...base, 'members/a': leader, config }), 'table').out;
  it('says nothing while the switch is off, or in asynchronous mode (the switch is on by default)', () => {
    expect(table(promised, { synchronous_mode: true, fast_failover: false })).not.toContain('Fast failover');
    expect(table(promised, { synchronous_mode: false })).not.toContain('Fast failover');
    expect(table(promised, { synchronous_mode: true })).toContain(' Fast failover: ready');
  });
  it('names who may take over when the cluster is ready', () => {
    expect(table(promised, ON)).toContain(
      ' Fast failover: ready (b may take over from a before its lease expires)',
    );
  });
  it('in quorum mode, says how many of the other standbys must release their stream first', () => {
    const quorum = renderList(
      viewOf({
        ...base,
        'members/a': promised,
        'members/c': member(5434, { timeline: 1, xlog_location: 10 }),
        sync: { leader: 'a', sync_standby: 'b,c', quorum: 1 },
        config: { synchronous_mode: 'quorum' },
      }),
      'table',
    ).out;
    expect(quorum).toContain(
      ' Fast failover: ready (b, c may take over from a before its lease expires, once 1 of the others released their stream)',
    );
  });
  it('says why not when the leader withholds its promise', () => {
    const withheld = member(5432, {
      role: 'primary',
      timeline: 1,
      xlog_location: 10,
      sync_promise_withheld: 'synchronous_commit=local for role app',
    });
    expect(table(withheld, ON)).toContain(
      ' Fast failover: unavailable (a withholds its sync promise: synchronous_commit=local for role app)',
    );
  });
});
