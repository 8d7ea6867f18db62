import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createMetrics } from '../src/metrics.js';
import { snapshots } from './api-fixtures.js';
import {
  ALERTS_PATH,
  ALERTS_TEST_PATH,
  alertExpressions,
  alertRules,
  DASHBOARD_PATH,
  dashboard,
  dashboardExpressions,
  dashboardPanels,
  type Expression,
  parseExposition,
  plainPromql,
  REPO_ROOT,
  selectors,
} from './monitoring-configs.js';

/** Labels a Prometheus scrape adds to every series; selectors may use them too. */
const TARGET_LABELS = ['instance', 'job'];

/**
 * What the agent serves: every sample name and its label names, from the registry's own
 * exposition (all metrics given samples: a snapshot observed, one decision counted).
 */
async function served(): Promise<Map<string, Set<string>>> {
  const m = createMetrics({ processMetrics: true });
  m.observeSnapshot(snapshots.primaryHealthy);
  m.countDecision('LEADER_RENEWED');
  const { samples, type } = parseExposition(await m.render());
  const out = new Map<string, Set<string>>();
  for (const [name, s] of samples) out.set(name, s.labels);
  // every declared metric is served, even one without samples yet
  for (const name of type.keys()) if (!out.has(name)) out.set(name, new Set());
  return out;
}

async function checkNamesAndLabels(exprs: readonly Expression[]): Promise<string[]> {
  const have = await served();
  const problems: string[] = [];
  for (const e of exprs) {
    const found = selectors(e.expr);
    if (found.length === 0) problems.push(`${e.where}: selects no metric`);
    for (const s of found) {
      const labels = have.get(s.metric);
      if (labels === undefined) {
        problems.push(`${e.where}: ${s.metric} is not served`);
        continue;
      }
      for (const l of s.labels) {
        if (!labels.has(l) && !TARGET_LABELS.includes(l))
          problems.push(`${e.where}: ${s.metric} has no label ${l}`);
      }
    }
  }
  return problems;
}

describe('selectors (the PromQL reader the checks rely on)', () => {
  it('finds metrics and their matcher labels, not functions, keywords or grouping labels', () => {
    expect(
      selectors(
        'max by (scope) (patroni_xlog_location) - on (scope) group_right () patroni_xlog_replayed_location{scope=~"a|b"}' +
          ' > 16 * 1e6 and on (scope, name) (patroni_replica == 1)',
      ),
    ).toEqual([
      { metric: 'patroni_xlog_location', labels: [] },
      { metric: 'patroni_xlog_replayed_location', labels: ['scope'] },
      { metric: 'patroni_replica', labels: [] },
    ]);
    expect(selectors('increase(x_total[15m]) > 0 or (x_total > 0 unless x_total offset 15m)')).toEqual([
      { metric: 'x_total', labels: [] },
      { metric: 'x_total', labels: [] },
      { metric: 'x_total', labels: [] },
    ]);
    expect(selectors('time() - y{name!="a", scope="b"}')).toEqual([
      { metric: 'y', labels: ['name', 'scope'] },
    ]);
    expect(selectors('histogram_quantile(0.99, sum by (le) (rate(h_bucket[1m])))')).toEqual([
      { metric: 'h_bucket', labels: [] },
    ]);
    expect(selectors('{__name__="z", role="x"}')).toEqual([{ metric: 'z', labels: ['__name__', 'role'] }]);
    expect(plainPromql('rate(a{scope=~"$scope"}[$__rate_interval])')).toBe('rate(a{scope=~".+"}[1m])');
  });
});

describe('docs/metrics.md', () => {
  it('documents every metric the registry declares (Node.js process metrics as a family)', async () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/metrics.md'), 'utf8');
    const m = createMetrics({ processMetrics: true });
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
    const missing = names
      .filter((n) => !/^hapg_(process|nodejs)_/.test(n))
      .filter((n) => !doc.includes(`\`${n}\``) && !doc.includes(`\`${n}{`));
    expect(missing).toEqual([]);
    expect(doc).toContain('`hapg_process_*`, `hapg_nodejs_*`');
  });
});

describe('configs/prometheus/alerts.yml', () => {
  it('has the alerts an HA cluster needs', () => {
    expect(alertRules().map((r) => r.alert)).toEqual([
      'HapgNoLeader',
      'HapgTwoLeaders',
      'HapgReplicaLagHigh',
      'HapgFailover',
      'HapgFenceFired',
      'HapgPendingRestart',
      'HapgEtcdUnreachable',
      'HapgSyncStandbyMissing',
      'HapgPostgresNotRunning',
    ]);
    for (const r of alertRules()) {
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning|info)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
    }
  });

  it("uses only metrics (and labels) the agent's registry serves", async () => {
    expect(await checkNamesAndLabels(alertExpressions())).toEqual([]);
  });
});

describe('configs/grafana/hapg.json', () => {
  it('is a dashboard with unique panel ids, every panel on the datasource variable', () => {
    const d = dashboard();
    expect(d.uid).toBe('hapg-cluster');
    const panels = dashboardPanels(d);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels.filter((p) => p.type !== 'row')) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
    expect(d.templating.list.map((v) => v.name)).toEqual(['datasource', 'scope']);
  });

  it('covers members and roles, lag, timeline, leader changes, fence firings and etcd', () => {
    const titles = dashboardPanels().map((p) => p.title);
    for (const t of [
      'Members',
      'Roles',
      'Replay lag behind the leader',
      'Timeline',
      'Leader changes',
      'Fence firings',
      'Since the last etcd contact',
    ]) {
      expect(titles).toContain(t);
    }
  });

  it("uses only metrics (and labels) the agent's registry serves", async () => {
    expect(await checkNamesAndLabels(dashboardExpressions())).toEqual([]);
  });
});

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const PROMTOOL_MISSING =
  'skipped: promtool is not on PATH (Debian: apt-get install prometheus; scripts/setup.sh does)';

const ALLOWED_LINT = [
  /^patroni_(xlog_location|xlog_received_location|xlog_replayed_location|postgres_timeline) counter metrics should have "_total" suffix$/,
  /^hapg_nodejs_\w+_total non-counter metrics should not have "_total" suffix$/,
];

function run(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', input, timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!promtool)(`promtool${promtool ? '' : ` — ${PROMTOOL_MISSING}`}`, () => {
  it('check rules: alerts.yml is valid', () => {
    const r = run(['check', 'rules', ALERTS_PATH]);
    expect(r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('test rules: alerts.test.yml passes', () => {
    const r = run(['test', 'rules', ALERTS_TEST_PATH]);
    expect(r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('every dashboard expression is valid PromQL (checked as recording rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapg-dash-'));
    try {
      const rules = dashboardExpressions().map((e, i) => ({
        record: `hapg_dashboard:expr${i}`,
        expr: e.expr,
      }));
      const file = join(dir, 'dashboard-rules.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = run(['check', 'rules', file]);
      expect(r.out, `${DASHBOARD_PATH}: ${r.out}`).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("check metrics: Prometheus's own parser reads what the agent serves", async () => {
    for (const [name, s] of Object.entries(snapshots)) {
      const m = createMetrics({ processMetrics: true });
      m.observeSnapshot(s);
      const r = run(['check', 'metrics'], await m.render());
      expect(r.out, name).not.toMatch(/error while linting|parsing error/i);
      expect(r.status, `${name}: ${r.out}`).not.toBe(1);
      // The only lint remarks: Patroni's own counter names (kept as Patroni has them) and
      // prom-client's Node.js gauges.
      const remarks = r.out.split('\n').filter((l) => l.trim() !== '');
      expect(
        remarks.filter((l) => !ALLOWED_LINT.some((re) => re.test(l))),
        name,
      ).toEqual([]);
    }
  });
});
