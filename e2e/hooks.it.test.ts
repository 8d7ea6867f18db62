import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdStore } from '@hapg/dcs';
import { type AgentNode, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 14 #5 on a real cluster: callbacks with Patroni's arguments, a failing pre_promote that
 * hands the promotion to another member, a hanging callback that delays nothing, and the
 * typed events on a webhook and on GET /events, after a switchover and a host death.
 */
const TTL_S = 4;

interface WireEvent {
  readonly type: string;
  readonly member: string;
  readonly old_role: string | null;
  readonly new_role: string | null;
  readonly old_leader: string | null;
  readonly new_leader: string | null;
  readonly reason: { readonly code: string; readonly text: string };
}

describe('hooks, callbacks and events (issue 14)', () => {
  let cluster: TestCluster;
  let store: EtcdStore;
  let receiver: Server;
  const received: WireEvent[] = [];
  const authSeen = new Set<string>();
  // agents run as the postgres user: a directory anyone may write, outside the clone
  const dir = mkdtempSync(join(tmpdir(), 'hapg-hooks-e2e-'));
  chmodSync(dir, 0o777);
  const callbackLog = (name: string) => join(dir, `${name}.callbacks`);
  const flag = (name: string, what: string) => join(dir, `${name}.${what}`);
  const calls = (name: string) =>
    existsSync(callbackLog(name)) ? readFileSync(callbackLog(name), 'utf8').trim().split('\n') : [];

  const script = (file: string, body: string) => {
    writeFileSync(join(dir, file), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, file), 0o755);
    return join(dir, file);
  };
  // <action> <role> <scope> appended; then it hangs while the node's `hang` flag exists
  const callback = script(
    'callback.sh',
    `echo "$@" >> "${dir}/$HOOK_NODE.callbacks"\n[ -f "${dir}/$HOOK_NODE.hang" ] && echo $$ >> "${dir}/hanging.pids" && exec sleep 300\nexit 0`,
  );
  // fails while the node's `fail` flag exists, and says so
  const prePromote = script(
    'pre-promote.sh',
    `echo pre_promote >> "${dir}/$HOOK_NODE.pre"\nif [ -f "${dir}/$HOOK_NODE.fail" ]; then echo "fencing failed" >&2; exit 1; fi\nexit 0`,
  );

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        authSeen.add(String(req.headers.authorization));
        received.push(JSON.parse(body) as WireEvent);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    cluster = await TestCluster.start({
      nodes: 3,
      ttl: TTL_S,
      loopWait: 1,
      retryTimeout: 1,
      // node1 ranks first among equally advanced replicas, node3 last
      tags: {
        node1: { failover_priority: 3 },
        node2: { failover_priority: 2 },
        node3: { failover_priority: 1 },
      },
      nodeYaml: (name, yaml) => {
        const pg = yaml.postgresql as Record<string, unknown>;
        // one script for all: env says which node runs it (`env` is argv-only, no shell)
        const wrap = (s: string) => `env HOOK_NODE=${name} ${s}`;
        pg.callbacks = Object.fromEntries(
          ['on_start', 'on_stop', 'on_restart', 'on_role_change'].map((a) => [a, wrap(callback)]),
        );
        pg.pre_promote = wrap(prePromote);
        return { ...yaml, events: { webhook: { url, headers: { Authorization: 'Bearer t0ken' } } } };
      },
    });
    await cluster.waitHealthy(120_000);
    store = await EtcdStore.open({ hosts: cluster.etcd.endpoints, scope: cluster.scope, watch: false });
  });
  afterAll(async () => {
    await store?.close();
    await cluster?.close();
    receiver?.close();
    // the hanging callbacks run in process groups of their own (they outlive their agents)
    const pids = existsSync(join(dir, 'hanging.pids')) ? readFileSync(join(dir, 'hanging.pids'), 'utf8') : '';
    for (const pid of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(-Number(pid), 'SIGKILL');
      } catch {
        // already gone (replaced by a newer callback)
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const byName = (name: string) => cluster.nodes.find((n) => n.name === name)!;
  const eventsOf = (type: string) => received.filter((e) => e.type === type);

  it('a switchover: on_role_change on both sides, on_stop on the old primary, switchover and role_change events', async () => {
    const switchTo = async (from: AgentNode, to: AgentNode) => {
      const view = await store.readView();
      await store.casFailover(
        { leader: from.name, member: to.name, scheduledAt: null },
        view.failover?.modRevision ?? null,
      );
    };
    const target = byName('node3');
    let old = await cluster.waitHealthy();
    if (old === target) {
      // node3 won the bootstrap: move the primary away first, so node3 is the switchover target
      await switchTo(old, byName('node1'));
      await cluster.waitForPrimary(30_000, old);
      old = await cluster.waitHealthy(60_000);
      await waitFor(() => eventsOf('switchover').length === 1, {
        timeoutMs: 10_000,
        what: 'first switchover event',
      });
      received.length = 0;
    }
    const seenBefore = received.length;
    await switchTo(old, target);
    expect((await cluster.waitForPrimary(30_000, old)).name).toBe('node3');
    await cluster.waitHealthy(60_000);
    await waitFor(
      () =>
        eventsOf('switchover').length === 1 &&
        calls(old.name).includes(`on_role_change replica ${cluster.scope}`),
      {
        timeoutMs: 10_000,
        what: 'the switchover event and the old primary back as a replica',
      },
    );
    expect(eventsOf('switchover')[0]).toMatchObject({
      member: 'node3',
      old_leader: old.name,
      new_leader: 'node3',
      new_role: 'primary',
    });
    const roleChanges = received.slice(seenBefore).filter((e) => e.type === 'role_change');
    expect(roleChanges).toContainEqual(
      expect.objectContaining({ member: 'node3', old_role: 'replica', new_role: 'primary' }),
    );
    expect(roleChanges).toContainEqual(expect.objectContaining({ member: old.name, old_role: 'primary' }));
    // Patroni's arguments, in Patroni's order of calls
    expect(calls('node3')).toContain(`on_role_change primary ${cluster.scope}`);
    const oldCalls = calls(old.name);
    expect(oldCalls.indexOf(`on_stop primary ${cluster.scope}`)).toBeGreaterThan(-1);
    expect(oldCalls.lastIndexOf(`on_role_change replica ${cluster.scope}`)).toBeGreaterThan(
      oldCalls.indexOf(`on_stop primary ${cluster.scope}`),
    );
    expect(authSeen).toEqual(new Set(['Bearer t0ken']));
    // GET /events answers the same documents
    const local = (await cluster.api(target, '/events'))?.body as { events: WireEvent[] };
    expect(local.events.map((e) => e.type)).toContain('switchover');
  });

  it('host death of the primary: node1 (ranked first) fails its pre_promote and hands over; node2 takes over although its callbacks hang', async () => {
    const primary = await cluster.waitHealthy();
    expect(primary.name).toBe('node3');
    writeFileSync(flag('node1', 'fail'), '');
    writeFileSync(flag('node2', 'hang'), '');
    // a hanging callback is running on node2 before the failure: restart it in place
    const restarted = await fetch(`http://${byName('node2').host}:${byName('node2').restPort}/restart`, {
      method: 'POST',
      body: '{}',
    });
    expect(restarted.status).toBe(200);
    await waitFor(() => calls('node2').at(-1) === `on_restart replica ${cluster.scope}`, {
      timeoutMs: 10_000,
      what: 'node2 on_restart (hanging)',
    });
    const t0 = performance.now();
    await cluster.killHost(primary);
    const next = await cluster.waitForPrimary(60_000, primary);
    const tookMs = performance.now() - t0;
    expect(next.name).toBe('node2');
    // node1 tried first and gave the promotion up; node2 was not slowed by its hanging callback:
    // the key expires (ttl), one election, node1's attempt, node2's — well within 3 × ttl
    expect(readFileSync(flag('node1', 'pre'), 'utf8')).toContain('pre_promote');
    expect(tookMs).toBeLessThan(3 * TTL_S * 1000);
    const node1 = (await cluster.patroni(byName('node1'))) as unknown as Record<string, unknown>;
    expect(node1.role).not.toBe('primary');
    await waitFor(() => eventsOf('failover').length === 1, { timeoutMs: 10_000, what: 'the failover event' });
    expect(eventsOf('failover')[0]).toMatchObject({
      member: 'node2',
      old_leader: 'node3',
      new_leader: 'node2',
    });
    // the running callback was replaced by node2's on_role_change (Patroni's one-at-a-time rule)
    await waitFor(() => calls('node2').at(-1) === `on_role_change primary ${cluster.scope}`, {
      timeoutMs: 10_000,
      what: 'node2 on_role_change',
    });
  });
});
