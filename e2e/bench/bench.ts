/**
 * The side-by-side benchmark (by hand, not CI):
 *   npm run bench -- [--vs patroni] [--runs 3] [--out e2e/bench/RESULTS.md]
 * Every setup runs a 3-node cluster with 3 etcd members, each its own namespaced host, from
 * the same YAML file per node; with `--vs patroni` the same files start Debian's `patroni`
 * (at hapg's timing, and at Patroni's own defaults). Figures per setup (median, min–max):
 *   host death        SIGKILL of every process of the primary host → first write on the new primary
 *   Postgres crash    SIGKILL of the primary's postmaster → first write acknowledged again
 *   rejoin            the dead host's manager restarted → it streams from the new primary
 *   switchover        write gap, writer on every node (direct) and through the shipped HAProxy config
 *   isolation         the async primary cut off from etcd and replicas (packets dropped, clients
 *                     still reach it), about 10 commits/s: acknowledged after the cut, and lost
 *   REST              wrk, 50 connections, 10 s, GET /primary on the primary: req/s and p99 (runs times)
 *   etcd at rest      gRPC messages received per second by all etcd members, 60 s idle
 *   memory            manager processes per node (hapg: agent + fence; Patroni: patroni): RSS summed,
 *                     and resident with each page once (both hapg processes map node's text)
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  type AgentNode,
  cliArg,
  etcdMessagesReceived,
  residentUnionKiB,
  runMain,
  sleep,
  startHaproxy,
  TestCluster,
  timeToWrite,
  waitFor,
  Writer,
  writeGapMs,
  TEST_SUPERUSER,
} from '@hapg/testkit';

const run = promisify(execFile);
const runs = Number(cliArg('--runs')) || 3;
const vsPatroni = cliArg('--vs') === 'patroni';
const out = cliArg('--out');

interface Setup {
  readonly label: string;
  readonly manager: 'hapg' | 'patroni';
  readonly ttl: number;
  readonly loopWait: number;
  readonly retryTimeout: number;
}

const SETUPS: Setup[] = [
  {
    label: 'hapg (defaults: ttl 10, loop_wait 2, retry_timeout 3)',
    manager: 'hapg',
    ttl: 10,
    loopWait: 2,
    retryTimeout: 3,
  },
  ...(vsPatroni
    ? [
        { label: 'Patroni, same timing', manager: 'patroni' as const, ttl: 10, loopWait: 2, retryTimeout: 3 },
        {
          label: 'Patroni defaults (ttl 30, loop_wait 10, retry_timeout 10)',
          manager: 'patroni' as const,
          ttl: 30,
          loopWait: 10,
          retryTimeout: 10,
        },
      ]
    : []),
];

type Figures = Record<string, number[]>;

const FIGURES: { key: string; label: string; unit: string; lowerIsBetter: boolean }[] = [
  {
    key: 'hostDeathMs',
    label: 'host death → first write on the new primary',
    unit: 'ms',
    lowerIsBetter: true,
  },
  { key: 'pgCrashMs', label: 'Postgres crash → writable again', unit: 'ms', lowerIsBetter: true },
  {
    key: 'rejoinMs',
    label: 'old primary streaming again after host death (from its restart)',
    unit: 'ms',
    lowerIsBetter: true,
  },
  { key: 'switchDirectMs', label: 'switchover write gap, direct', unit: 'ms', lowerIsBetter: true },
  { key: 'switchHaproxyMs', label: 'switchover write gap, through HAProxy', unit: 'ms', lowerIsBetter: true },
  {
    key: 'isoAckAfterCutMs',
    label: 'isolated async primary: last ack after the cut',
    unit: 'ms',
    lowerIsBetter: true,
  },
  {
    key: 'isoLost',
    label: 'isolated async primary: acknowledged writes lost',
    unit: '',
    lowerIsBetter: true,
  },
  { key: 'restRps', label: 'REST GET /primary, 50 connections: req/s', unit: '', lowerIsBetter: false },
  { key: 'restP99Ms', label: 'REST GET /primary, 50 connections: p99', unit: 'ms', lowerIsBetter: true },
  {
    key: 'etcdMsgPerS',
    label: 'etcd gRPC messages received per second at rest (cluster)',
    unit: '/s',
    lowerIsBetter: true,
  },
  {
    key: 'rssMiB',
    label: 'manager RSS per node (hapg: agent + fence, summed)',
    unit: 'MiB',
    lowerIsBetter: true,
  },
  {
    key: 'residentMiB',
    label: 'manager memory resident per node, each page once (hapg: agent + fence)',
    unit: 'MiB',
    lowerIsBetter: true,
  },
];

async function binDir(): Promise<string> {
  const { stdout } = await run('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1']);
  return stdout.trim();
}

async function startCluster(s: Setup): Promise<TestCluster> {
  const bin = await binDir();
  return TestCluster.start({
    nodes: 3,
    etcdMembers: 3,
    network: 'netns',
    manager: s.manager,
    ttl: s.ttl,
    loopWait: s.loopWait,
    retryTimeout: s.retryTimeout,
    dcs: { postgresql: { use_pg_rewind: true, use_slots: true } },
    // what Patroni needs that hapg finds by itself; both read the very same file
    nodeYaml: (_name, yaml) => {
      const pgc = yaml.postgresql as Record<string, unknown>;
      return { ...yaml, postgresql: { ...pgc, bin_dir: bin, pgpass: `${String(pgc.data_dir)}.pgpass` } };
    },
  });
}

async function main(): Promise<void> {
  const results: { setup: Setup; figures: Figures }[] = [];
  for (const s of SETUPS) {
    console.log(`\n== ${s.label}`);
    const cluster = await startCluster(s);
    const figures: Figures = {};
    const add = (k: string, v: number) => {
      figures[k] = [...(figures[k] ?? []), v];
      console.log(`  ${k}: ${v}`);
    };
    try {
      const first = await cluster.waitHealthy(240_000);
      await cluster.prepareWriterTable(first);
      await sleep(5000);
      await atRest(cluster, add);
      for (let i = 0; i < runs; i++) await rest(cluster, add);
      for (let i = 0; i < runs; i++) await hostDeath(cluster, add);
      for (let i = 0; i < runs; i++) await pgCrash(cluster, add);
      for (let i = 0; i < runs; i++) await switchover(cluster, add);
      for (let i = 0; i < runs; i++) await isolation(cluster, add);
    } finally {
      await cluster.close();
    }
    results.push({ setup: s, figures });
  }
  const table = render(results);
  console.log(`\n${table}`);
  if (out) {
    const argv = process.argv.slice(2);
    const args = argv.filter((a, i) => a !== '--out' && argv[i - 1] !== '--out').join(' ');
    const header = `# Benchmarks\n\n\`npm run bench -- ${args}\`, ${new Date().toISOString().slice(0, 10)}, this machine: 2 cores, 24 GiB, Debian bookworm, PostgreSQL 15, etcd 3.4, Patroni 3.0.2 (Debian). Each cluster: 3 nodes and 3 etcd members, each its own network namespace; faults drop packets. Median (min–max) of ${runs} runs; ratio = Patroni at the same timing ÷ hapg.\n\n`;
    const before = await readFile(out, 'utf8').catch(() => '');
    const notes = before.includes('\n## Notes') ? before.slice(before.indexOf('\n## Notes')) : '';
    await writeFile(out, `${header}${table}\n${notes}`);
  }
}

async function atRest(cluster: TestCluster, add: (k: string, v: number) => void): Promise<void> {
  const before = await etcdMessagesReceived(cluster.etcd.endpoints);
  const t0 = Date.now();
  await sleep(60_000);
  const after = await etcdMessagesReceived(cluster.etcd.endpoints);
  add('etcdMsgPerS', round((after - before) / ((Date.now() - t0) / 1000), 2));
  let rss = 0;
  let resident = 0;
  for (const n of cluster.nodes) {
    const m = await managerMemory(n);
    rss += m.rssKiB;
    resident += m.residentKiB;
  }
  add('rssMiB', round(rss / cluster.nodes.length / 1024, 1));
  add('residentMiB', round(resident / cluster.nodes.length / 1024, 1));
}

/**
 * The manager's own processes on a node (not Postgres, not `ip`/`setpriv` shims): their RSS
 * summed, and their resident set with each page once (two node processes share node's text).
 */
async function managerMemory(node: AgentNode): Promise<{ rssKiB: number; residentKiB: number }> {
  let rssKiB = 0;
  const pids: number[] = [];
  for (const pid of (await node.netHost?.pids()) ?? []) {
    try {
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      if (!/agent\/dist\/main\.js|fence|patroni/.test(cmd) || /postgres:|bin\/postgres/.test(cmd)) continue;
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      rssKiB += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      pids.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return { rssKiB, residentKiB: await residentUnionKiB(pids) };
}

async function rest(cluster: TestCluster, add: (k: string, v: number) => void): Promise<void> {
  const primary = await cluster.waitHealthy();
  const { stdout } = await run('wrk', ['-t2', '-c50', '-d10s', '--latency', `${primary.apiUrl}/primary`]);
  add('restRps', Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN)));
  add('restP99Ms', wrkMs(/99%\s+([\d.]+)(us|ms|s)/.exec(stdout)));
}

function wrkMs(m: RegExpExecArray | null): number {
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return round(m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v, 2);
}

async function hostDeath(cluster: TestCluster, add: (k: string, v: number) => void): Promise<void> {
  const primary = await cluster.waitHealthy(240_000);
  const writer = cluster.writer({ intervalMs: 10 });
  writer.start();
  await sleep(1000 + Math.random() * 1000); // a random phase against keepalives and loops
  const t0 = Date.now();
  await cluster.killHost(primary);
  add('hostDeathMs', await timeToWrite(t0, writer, primary));
  await writer.stop();
  const next = await cluster.waitForPrimary(120_000, primary);
  const t1 = Date.now();
  await primary.start();
  await waitFor(
    async () =>
      (
        await cluster.sql<{ n: string }>(
          next,
          "SELECT application_name AS n FROM pg_stat_replication WHERE state = 'streaming'",
        )
      ).some((r) => r.n === primary.name),
    { timeoutMs: 300_000, intervalMs: 100, what: `${primary.name} streaming again` },
  );
  add('rejoinMs', Date.now() - t1);
}

async function pgCrash(cluster: TestCluster, add: (k: string, v: number) => void): Promise<void> {
  const primary = await cluster.waitHealthy(240_000);
  const writer = cluster.writer({ intervalMs: 10 });
  writer.start();
  await sleep(1000);
  const pid = await primary.postmasterPid();
  const t0 = Date.now();
  if (pid !== null) process.kill(pid, 'SIGKILL');
  add('pgCrashMs', await timeToWrite(t0, writer, null));
  await writer.stop();
}

async function switchover(cluster: TestCluster, add: (k: string, v: number) => void): Promise<void> {
  const primary = await cluster.waitHealthy(240_000);
  const candidate = cluster.nodes.find((n) => n !== primary)!;
  const haproxy = await startHaproxy(cluster.nodes, cluster.baseDir);
  const direct = cluster.writer({ intervalMs: 10 });
  const viaProxy = new Writer({
    targets: [{ name: 'haproxy', host: '127.0.0.1', port: haproxy.primaryPort }],
    user: TEST_SUPERUSER.username,
    password: TEST_SUPERUSER.password,
    intervalMs: 10,
  });
  try {
    await sleep(2000); // HAProxy's first checks
    direct.start();
    viaProxy.start();
    await sleep(1000);
    const res = await fetch(`${primary.apiUrl}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: primary.name, candidate: candidate.name }),
      signal: AbortSignal.timeout(60_000),
    });
    if (!res.ok) throw new Error(`switchover: ${res.status} ${await res.text()}`);
    await waitFor(() => direct.acks.some((a) => a.target === candidate.name), {
      timeoutMs: 60_000,
      what: 'a write on the new primary',
    });
    await sleep(3000);
    await direct.stop();
    await viaProxy.stop();
    add('switchDirectMs', writeGapMs(direct.acks, primary.name, candidate.name));
    add('switchHaproxyMs', maxGapMs(viaProxy.acks.map((a) => a.atMs)));
  } finally {
    await direct.stop();
    await viaProxy.stop();
    await haproxy.close();
  }
}

async function isolation(cluster: TestCluster, add: (k: string, v: number) => void): Promise<void> {
  const old = await cluster.waitHealthy(240_000);
  const writer = cluster.writer({ intervalMs: 100 });
  writer.start();
  await sleep(2000);
  const cutAt = Date.now();
  await cluster.net!.isolate(old.name);
  try {
    const next = await cluster.waitForPrimary(180_000, old);
    await waitFor(() => writer.acks.some((a) => a.target === next.name), {
      timeoutMs: 30_000,
      what: 'a write on the new primary',
    });
    await writer.stop();
    const last = Math.max(...writer.acks.filter((a) => a.target === old.name).map((a) => a.atMs));
    add('isoAckAfterCutMs', Math.max(0, last - cutAt));
    add('isoLost', (await cluster.checkAcks(writer.acks, next)).lost.length);
  } finally {
    await writer.stop();
    await cluster.net!.heal();
  }
}

function maxGapMs(times: readonly number[]): number {
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return gap;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]!;
}

function cell(xs: readonly number[] | undefined): string {
  if (!xs || xs.length === 0) return '–';
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 1 ? String(s[0]) : `${median(s)} (${s[0]}–${s.at(-1)})`;
}

function render(results: { setup: Setup; figures: Figures }[]): string {
  const head = ['figure', ...results.map((r) => r.setup.label), ...(results.length > 1 ? ['ratio'] : [])];
  const rows = FIGURES.map((f) => {
    const cells = results.map((r) => cell(r.figures[f.key]));
    const ratio =
      results.length > 1
        ? [ratioOf(median(results[1]!.figures[f.key] ?? []), median(results[0]!.figures[f.key] ?? []))]
        : [];
    return [`${f.label}${f.unit ? ` (${f.unit})` : ''}`, ...cells, ...ratio];
  });
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function ratioOf(patroni: number, hapg: number): string {
  if (!Number.isFinite(patroni) || !Number.isFinite(hapg)) return '–';
  if (hapg === 0) return patroni === 0 ? '1' : '∞';
  return `${round(patroni / hapg, 2)}×`;
}

runMain(main);
