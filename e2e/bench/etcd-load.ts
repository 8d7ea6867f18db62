/**
 * What an idle hapg cluster costs etcd, per gRPC method (by hand, not CI):
 *   npm run bench:etcd-load -- [--seconds 60] [--ttl 10]
 * A 3-node cluster with 3 etcd members on namespaced hosts (ttl 10, loop_wait 2,
 * retry_timeout 3: the timing of the Patroni figure), healthy and idle; etcd's own
 * /metrics before and after the window: unary requests and stream messages received
 * (`grpc_server_msg_received_total`) and streams opened (`grpc_server_started_total` of the
 * streaming methods), per second, for all members together.
 */
import { cliArg, sleep, startIdleBenchCluster, type TestCluster } from '@hapg/testkit';

const seconds = Number(cliArg('--seconds')) || 60;
const ttl = Number(cliArg('--ttl')) || 10;

type Counts = Map<string, number>;

/** `grpc_server_<kind>_total{grpc_method="X",...} N`, summed per method over every member. */
async function counters(cluster: TestCluster, kind: 'msg_received' | 'started'): Promise<Counts> {
  const out: Counts = new Map();
  for (const m of cluster.etcd.members) {
    const text = await (await fetch(`http://${m.endpoint}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`grpc_server_${kind}_total{`)) continue;
      const method = /grpc_method="([^"]+)"/.exec(line)?.[1] ?? '?';
      out.set(method, (out.get(method) ?? 0) + Number(line.split(' ').at(-1)));
    }
  }
  return out;
}

function rates(before: Counts, after: Counts, s: number): [string, number][] {
  return [...after]
    .map(([k, v]): [string, number] => [k, (v - (before.get(k) ?? 0)) / s])
    .filter(([, r]) => r > 0)
    .sort((a, b) => b[1] - a[1]);
}

async function main(): Promise<void> {
  const { cluster } = await startIdleBenchCluster(ttl);
  try {
    await sleep(10_000);
    const [msg0, st0] = [await counters(cluster, 'msg_received'), await counters(cluster, 'started')];
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const [msg1, st1] = [await counters(cluster, 'msg_received'), await counters(cluster, 'started')];
    const s = (Date.now() - t0) / 1000;
    const received = rates(msg0, msg1, s);
    const total = received.reduce((a, [, r]) => a + r, 0);
    console.log(`\nidle 3-node cluster, ttl ${ttl}, ${s.toFixed(0)} s, all etcd members together:`);
    console.log(`  requests + stream messages received: ${total.toFixed(2)}/s`);
    for (const [k, r] of received) console.log(`    ${k.padEnd(16)} ${r.toFixed(2)}/s`);
    console.log('  streams opened:');
    for (const [k, r] of rates(st0, st1, s).filter(([k]) => k === 'LeaseKeepAlive' || k === 'Watch'))
      console.log(`    ${k.padEnd(16)} ${r.toFixed(2)}/s`);
  } finally {
    await cluster.close();
  }
}

await main();
