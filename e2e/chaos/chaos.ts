/**
 * The chaos run (by hand; a short one is in `npm test`):
 *   npm run chaos -- --faults 200 --seed 7 [--sync off|on|quorum] [--strict] [--fast] [--ttl 6] [--kinds a,b]
 * A seeded schedule of every fault type (testkit `FAULT_KINDS`) on a 3-node cluster with 3
 * etcd members, each its own namespaced host, under a writer and readers on every node. Prints
 * a line per fault and a table per fault type; exits 1 on any write acknowledged by two
 * primaries, any lost commit in synchronous mode, an asynchronous loss outside the design's
 * window, or a cluster that did not converge.
 */
import { readFile, writeFile } from 'node:fs/promises';
import {
  type ChaosReport,
  chaosTable,
  cliArg,
  FAULT_KINDS,
  type FaultKind,
  runChaos,
  runMain,
  type SyncMode,
} from '@hapg/testkit';

async function main(): Promise<void> {
  const sync = (cliArg('--sync') ?? 'off') as SyncMode;
  if (!['off', 'on', 'quorum'].includes(sync))
    throw new Error(`--sync must be off, on or quorum, not ${sync}`);
  const kinds = cliArg('--kinds')?.split(',') as FaultKind[] | undefined;
  for (const k of kinds ?? []) if (!FAULT_KINDS.includes(k)) throw new Error(`unknown fault kind ${k}`);
  const opts = {
    faults: Number(cliArg('--faults') ?? 20),
    seed: Number(cliArg('--seed') ?? 1),
    sync,
    ttlS: Number(cliArg('--ttl') ?? 6),
    fastFailover: process.argv.includes('--fast'),
    strict: process.argv.includes('--strict'),
    ...(kinds ? { kinds } : {}),
  };
  if (opts.fastFailover && sync === 'off')
    throw new Error('--fast needs --sync on or quorum (fast failover is for synchronous mode)');
  const started = Date.now();
  console.log(
    `chaos: ${opts.faults} faults, seed ${opts.seed}, synchronous_mode ${sync}${opts.strict ? ' strict' : ''}${opts.fastFailover ? ', fast_failover' : sync === 'off' ? '' : ', lease path'}, ttl ${opts.ttlS} s`,
  );
  const report = await runChaos(opts);
  console.log(`\n${chaosTable(report)}\n`);
  console.log(
    `${report.results.length} faults in ${Math.round((Date.now() - started) / 1000)} s, ${report.acks} acknowledged commits`,
  );
  const out = cliArg('--out');
  if (out) await appendResults(out, report, process.argv.slice(2), Date.now() - started);
  if (report.failures.length > 0)
    throw new Error(`chaos found ${report.failures.length} problems:\n${report.failures.join('\n')}`);
  console.log(
    'no write acknowledged by two primaries; no loss outside the design bound; every fault converged',
  );
}

/** Appends this run as a section of `out` (e2e/chaos/RESULTS.md): command, date, machine, table. */
async function appendResults(out: string, report: ChaosReport, argv: readonly string[], tookMs: number) {
  const args = argv.filter((a, i) => a !== '--out' && argv[i - 1] !== '--out').join(' ');
  const o = report.options;
  const section = [
    `## \`npm run chaos -- ${args}\``,
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, this machine (2 cores, 24 GiB, Debian bookworm, PostgreSQL 15, etcd 3.4): ${report.results.length} faults in ${Math.round(tookMs / 60_000)} min, ${report.acks} acknowledged commits, synchronous_mode ${o.sync}${o.strict ? ' strict' : ''}${o.fastFailover ? ', fast_failover on' : ''}, ttl ${o.ttlS} s. Times in ms from the fault.`,
    '',
    chaosTable(report),
    '',
    report.failures.length === 0
      ? 'No write acknowledged by two primaries; no loss outside the design window; every fault converged.'
      : `Problems:\n${report.failures.map((f) => `- ${f}`).join('\n')}`,
    '',
  ].join('\n');
  const intro =
    '# Chaos runs\n\nEach section is one `npm run chaos` run, newest last. The faults: `packages/testkit/src/chaos/faults.ts`.\n';
  const before = await readFile(out, 'utf8').catch(() => intro);
  await writeFile(out, `${before.trimEnd()}\n\n${section}`);
}

runMain(main);
