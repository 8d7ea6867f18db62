import { type ConnectOptions, probeStreamSilence, SqlSession } from '@hapg/postgres';
import { PgHarness, type PgInstance, TEST_SUPERUSER, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Condition (c) of docs/fast-failover.md on real servers: the standby's walreceiver silence. */

let h: PgHarness;
let p: PgInstance;
let s: PgInstance;
const sessions: SqlSession[] = [];

const sessionOn = (inst: PgInstance): SqlSession => {
  const opts: ConnectOptions = {
    host: '127.0.0.1',
    port: inst.port,
    user: TEST_SUPERUSER.username,
    password: TEST_SUPERUSER.password,
    connectTimeoutMs: 3000,
    queryTimeoutMs: 5000,
  };
  const session = new SqlSession(opts);
  sessions.push(session);
  return session;
};

/** SIGSTOP/SIGCONT to the primary's process group: its walsender with it, as on a frozen host */
const signalGroup = (inst: PgInstance, signal: NodeJS.Signals) => process.kill(-inst.node.pid!, signal);

beforeAll(async () => {
  h = await PgHarness.create({ count: 2 });
  p = h.instances[0]!;
  s = h.instances[1]!;
  await h.startPrimary(p);
  await h.cloneReplica(p, s, { slot: true });
});

afterAll(async () => {
  if (p?.node.pid) signalGroup(p, 'SIGCONT');
  for (const session of sessions) session.close();
  await h?.teardown();
});

describe('probeStreamSilence', () => {
  it('a primary has no walreceiver', async () => {
    expect(await probeStreamSilence(sessionOn(p))).toEqual({ silenceMs: null, status: null });
  });

  it('a streaming standby: a fresh message after a write; silence grows while the primary is frozen', async () => {
    const standby = sessionOn(s);
    await h.sql(p, 'CREATE TABLE t (id int)');
    await h.sql(p, 'INSERT INTO t VALUES (1)');
    const fresh = await waitFor(
      async () => {
        const r = await probeStreamSilence(standby);
        return r.status === 'streaming' && r.silenceMs !== null && r.silenceMs < 1000 ? r : null;
      },
      { timeoutMs: 10_000, what: 'a recent message from the primary' },
    );
    expect(fresh.silenceMs).toBeGreaterThanOrEqual(0);

    signalGroup(p, 'SIGSTOP');
    try {
      const startedMs = performance.now();
      await new Promise((r) => setTimeout(r, 1500));
      const frozen = await probeStreamSilence(standby);
      const waitedMs = performance.now() - startedMs;
      // the TCP connection is still up: the walreceiver streams on, hearing nothing
      expect(frozen.status).toBe('streaming');
      expect(frozen.silenceMs).not.toBeNull();
      expect(frozen.silenceMs!).toBeGreaterThanOrEqual(1400);
      expect(frozen.silenceMs!).toBeLessThan(waitedMs + 1000 + 200);
    } finally {
      signalGroup(p, 'SIGCONT');
    }
  });

  it('after the primary is gone the walreceiver exits: no row', async () => {
    await p.node.stop('immediate');
    const standby = sessionOn(s);
    const r = await waitFor(
      async () => {
        const x = await probeStreamSilence(standby);
        return x.status === null ? x : null;
      },
      { timeoutMs: 15_000, what: 'walreceiver gone' },
    );
    expect(r).toEqual({ silenceMs: null, status: null });
  });
});
