/**
 * How many clusters one etcd serves (by hand, not CI):
 *   npm run bench:fleet -- [--clusters 50,100,200] [--seconds 60] [--ttl 10] [--workers 2]
 *
 * One 3-member etcd on loopback, and for each fleet size N, N clusters' worth of hapg's store
 * clients (the `dcs` package as the agent runs it: one client, lease, keepalive stream and prefix
 * watch per member; 3 members per cluster; Postgres not needed). Each cluster's leader holds the
 * leader key, renews as a quiet leader and rewrites its member key every 10 s (a WAL position
 * that moves, as on a lightly used cluster); the replicas renew at rest. Spread over `--workers`
 * processes so that the clients' own event loops are not what is measured.
 *
 * Reported per fleet size: etcd requests + stream messages received per second (all members,
 * `grpc_server_msg_received_total`), etcd CPU (all members, from /proc), keepalive round trip
 * p50/p99, watch-event delay p99 (a member key's write to each other member's view), and the
 * lease deadlines missed (a local deadline that fired: for a leader, a demotion).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { leaderRenewal, type MemberJson } from '@hapg/core';
import { createEtcd3Backend, type EtcdBackend, EtcdStore } from '@hapg/dcs';
import { cliArg, etcdMessagesReceived, quantile, runMain, sleep, startEtcd } from '@hapg/testkit';

const MEMBER_REWRITE_MS = 10_000;

interface WorkerReport {
  keepaliveMs: number[];
  watchDelayMs: number[];
  deadlines: number;
  leasesLost: number;
  errors: number;
}

type FromWorker = { kind: 'ready' } | { kind: 'report'; report: WorkerReport };
type ToWorker = { kind: 'measure' } | { kind: 'stop' };

// ---- worker: a share of the fleet's store clients --------------------------------------------

async function worker(): Promise<void> {
  const hosts = (cliArg('--hosts') ?? '').split(',');
  const from = Number(cliArg('--from'));
  const count = Number(cliArg('--count'));
  const ttl = Number(cliArg('--ttl'));
  const run = cliArg('--run') ?? 'r';
  let measuring = false;
  const report: WorkerReport = { keepaliveMs: [], watchDelayMs: [], deadlines: 0, leasesLost: 0, errors: 0 };

  /** the real etcd3 backend, with each keepalive's round trip timed */
  const timedBackend = (): EtcdBackend => {
    const b = createEtcd3Backend({ hosts, defaultCallTimeoutMs: 1500 });
    return {
      ...b,
      async keepAliveOnce(id, limits) {
        const t0 = performance.now();
        const r = await b.keepAliveOnce(id, limits);
        if (measuring) report.keepaliveMs.push(performance.now() - t0);
        return r;
      },
    };
  };
  const member = (name: string, role: 'primary' | 'replica', xlog: number): MemberJson => ({
    conn_url: `postgres://10.0.0.1:5432/postgres?${name}`,
    api_url: `http://10.0.0.1:8008/patroni?${name}`,
    state: 'running',
    role,
    version: 'bench',
    xlog_location: xlog,
    timeline: 1,
  });

  const stores: EtcdStore[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (let c = from; c < from + count; c++) {
    const scope = `fleet-${run}-${c}`;
    const members: EtcdStore[] = [];
    for (const name of ['n1', 'n2', 'n3']) {
      const store = await EtcdStore.open({
        hosts,
        scope,
        name,
        ttlSeconds: ttl,
        retryTimeoutMs: 3000,
        unwatchedListIntervalMs: 2000,
        backend: timedBackend(),
      });
      store.on('deadline', () => void (measuring && report.deadlines++));
      store.on('lease-lost', () => void (measuring && report.leasesLost++));
      await store.startLease();
      members.push(store);
      stores.push(store);
    }
    const [leader, ...replicas] = members as [EtcdStore, EtcdStore, EtcdStore];
    await leader.acquireLeader();
    leader.setRenewal(
      leaderRenewal({ ttlMs: ttl * 1000, primaryIsolationTimeoutMs: 1000, quiet: true, lastQuietAtMs: null }),
    );
    for (const [i, s] of members.entries())
      await s.writeMember(member(s.name!, i === 0 ? 'primary' : 'replica', 0));
    // each replica notes how long the leader's member write took to reach its view
    for (const r of replicas) {
      let last = 0;
      r.on('change', (view) => {
        const sent = view.members.get('n1')?.xlogLocation ?? null;
        if (sent === null || Number(sent) === last) return;
        last = Number(sent);
        if (measuring && last > 0) report.watchDelayMs.push(Date.now() - last);
      });
    }
    // spread the rewrites over the period so the fleet does not write in one burst
    const first = setTimeout(() => {
      const tick = () =>
        leader.writeMember(member('n1', 'primary', Date.now())).catch(() => void report.errors++);
      tick();
      timers.push(setInterval(tick, MEMBER_REWRITE_MS));
    }, Math.random() * MEMBER_REWRITE_MS);
    timers.push(first);
  }
  process.send?.({ kind: 'ready' } satisfies FromWorker);
  process.on('message', async (m: ToWorker) => {
    if (m.kind === 'measure') measuring = true;
    if (m.kind === 'stop') {
      measuring = false;
      for (const t of timers) clearTimeout(t);
      process.send?.({ kind: 'report', report } satisfies FromWorker);
      await Promise.allSettled(stores.map((s) => s.close({ revoke: true })));
      process.exit(0);
    }
  });
}

// ---- main: one etcd, fleets of growing size --------------------------------------------------

/** user + system CPU seconds of the given processes */
async function cpuSeconds(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  }
  return ticks / 100; // USER_HZ
}

async function fleet(
  endpoints: readonly string[],
  etcdPids: readonly number[],
  n: number,
  o: { seconds: number; ttl: number; workers: number; baselineCpu: number },
): Promise<string> {
  const self = fileURLToPath(import.meta.url);
  const per = Math.ceil(n / o.workers);
  const run = `${Date.now().toString(36)}`;
  const children: ChildProcess[] = [];
  for (let from = 0; from < n; from += per) {
    const count = Math.min(per, n - from);
    const args = [
      '--worker',
      '--hosts',
      endpoints.join(','),
      '--from',
      String(from),
      '--count',
      String(count),
    ];
    children.push(fork(self, [...args, '--ttl', String(o.ttl), '--run', run], { stdio: 'inherit' }));
  }
  const next = (c: ChildProcess, kind: FromWorker['kind']) =>
    new Promise<FromWorker>((resolve) => {
      const on = (m: FromWorker) => {
        if (m.kind !== kind) return;
        c.off('message', on);
        resolve(m);
      };
      c.on('message', on);
    });
  await Promise.all(children.map((c) => next(c, 'ready')));
  await sleep(Math.max(10_000, o.ttl * 1000)); // every lease renewed at its rest period at least once
  for (const c of children) c.send({ kind: 'measure' } satisfies ToWorker);
  const [msg0, cpu0, t0] = [
    await etcdMessagesReceived(endpoints),
    await cpuSeconds(etcdPids),
    performance.now(),
  ];
  await sleep(o.seconds * 1000);
  const [msg1, cpu1, t1] = [
    await etcdMessagesReceived(endpoints),
    await cpuSeconds(etcdPids),
    performance.now(),
  ];
  const reports = await Promise.all(
    children.map(async (c) => {
      const r = next(c, 'report');
      c.send({ kind: 'stop' } satisfies ToWorker);
      return ((await r) as { report: WorkerReport }).report;
    }),
  );
  await Promise.all(
    children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))),
  );
  const s = (t1 - t0) / 1000;
  const all = (k: 'keepaliveMs' | 'watchDelayMs') => reports.flatMap((r) => r[k]);
  const sum = (k: 'deadlines' | 'leasesLost' | 'errors') => reports.reduce((a, r) => a + r[k], 0);
  const rate = (msg1 - msg0) / s;
  const cpu = (cpu1 - cpu0) / s;
  const ka = all('keepaliveMs');
  const wd = all('watchDelayMs');
  return [
    String(n),
    rate.toFixed(0),
    (rate / n).toFixed(2),
    `${(cpu * 100).toFixed(0)} %`,
    `${(((cpu - o.baselineCpu) * 100) / n).toFixed(2)} %`,
    `${quantile(ka, 0.5).toFixed(1)} / ${quantile(ka, 0.99).toFixed(1)}`,
    quantile(wd, 0.99).toFixed(0),
    String(sum('deadlines')),
    String(sum('leasesLost') + sum('errors')),
  ].join(' | ');
}

async function main(): Promise<void> {
  const sizes = (cliArg('--clusters') ?? '50,100,200').split(',').map(Number);
  const seconds = Number(cliArg('--seconds')) || 60;
  const ttl = Number(cliArg('--ttl')) || 10;
  const workers = Number(cliArg('--workers')) || 2;
  const etcd = await startEtcd({ members: 3 });
  try {
    const pids = etcd.members.map((m) => m.process()!.child.pid!);
    // what the idle etcd costs by itself (raft heartbeats, its own timers): not the fleet's
    const [cpu0, t0] = [await cpuSeconds(pids), performance.now()];
    await sleep(Math.min(seconds, 30) * 1000);
    const idleCpu = (await cpuSeconds(pids)) - cpu0;
    const baselineCpu = idleCpu / ((performance.now() - t0) / 1000);
    console.log(`etcd with no clients: ${(baselineCpu * 100).toFixed(1)} % CPU`);
    const rows: string[] = [];
    for (const n of sizes) {
      console.log(`fleet of ${n} clusters (${n * 3} agents' store clients), ${seconds} s…`);
      rows.push(await fleet(etcd.endpoints, pids, n, { seconds, ttl, workers, baselineCpu }));
      console.log(`  ${rows.at(-1)}`);
    }
    const head = [
      'clusters',
      'etcd msgs/s',
      'per cluster',
      'etcd CPU (all 3 members)',
      'CPU per cluster (above idle)',
      'keepalive RTT p50 / p99 ms',
      'watch delay p99 ms',
      'deadlines missed',
      'leases lost + errors',
    ];
    console.log(
      `\none 3-member etcd on loopback (idle: ${(baselineCpu * 100).toFixed(1)} % CPU), ttl ${ttl}, ${seconds} s per fleet:\n`,
    );
    console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
    for (const r of rows) console.log(`| ${r} |`);
  } finally {
    await etcd.close();
  }
}

if (process.argv.includes('--worker')) void worker();
else runMain(main);
