import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { HACTL_MAIN, sleep, TestCluster } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * watchdog.mode on a real cluster whose hosts have no watchdog device: node1 (automatic) warns
 * and carries on, bootstraps and leads; node2 (required) never takes the leader key — not at
 * bootstrap, not when the primary's host dies — and says why in /patroni (watchdog_failed,
 * status_reason) and hactl list.
 */
describe('watchdog required without a device', () => {
  let cluster: TestCluster;
  const device = '/nonexistent/watchdog';

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 2,
      ttl: 4,
      loopWait: 1,
      retryTimeout: 1,
      nodeYaml: (name, yaml) => ({
        ...yaml,
        // node1: automatic, the same missing device: it carries on without one
        watchdog: { mode: name === 'node2' ? 'required' : 'automatic', device },
      }),
    });
    await cluster.waitHealthy(120_000);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('the node reports watchdog_failed and the reason; hactl list shows it', async () => {
    const [node1, node2] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    expect((await cluster.primary())?.name).toBe(node1.name);
    const status = (await cluster.api(node2, '/patroni'))?.body as Record<string, unknown>;
    expect(status.watchdog_failed).toBe(true);
    expect(String(status.status_reason)).toContain(`watchdog required, but ${device} does not exist`);
    const list = await run(process.execPath, [
      HACTL_MAIN,
      '--etcd',
      cluster.etcd.endpoints.join(','),
      '--scope',
      cluster.scope,
      'list',
      '-o',
      'json',
    ]);
    const rows = JSON.parse(list.stdout) as { member: string; reason?: string }[];
    expect(rows.find((r) => r.member === node2.name)?.reason).toContain('watchdog required');
    expect(rows.find((r) => r.member === node1.name)?.reason).toBeUndefined();
    const node1Log = await readFile(node1.logPath, 'utf8');
    expect(node1Log).toContain('watchdog not used (mode automatic, carrying on)');
    expect(await readFile(node2.logPath, 'utf8')).toContain('this node will not take the leader key');
  });

  it('when the primary host dies, the node with no usable watchdog does not take the leader key', async () => {
    const [node1, node2] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    await cluster.killHost(node1);
    // ttl 4 s: a healthy replica would have taken over after about 5 s
    await sleep(12_000);
    expect(await cluster.primary()).toBeNull();
    const status = (await cluster.api(node2, '/patroni'))?.body as Record<string, unknown>;
    expect(status.role).toBe('replica');
    expect(status.watchdog_failed).toBe(true);
  });
});
