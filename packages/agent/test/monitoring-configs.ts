import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * The Prometheus rules and the Grafana dashboard under configs/, read as data, and the metric
 * names their PromQL uses. Shared by the unit test (names against the agent's registry) and the
 * integration test (names against a real member's /metrics).
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const ALERTS_PATH = resolve(REPO_ROOT, 'configs/prometheus/alerts.yml');
export const ALERTS_TEST_PATH = resolve(REPO_ROOT, 'configs/prometheus/alerts.test.yml');
export const DASHBOARD_PATH = resolve(REPO_ROOT, 'configs/grafana/hapg.json');

/** One PromQL expression and where it came from (an alert name, a panel title). */
export interface Expression {
  readonly where: string;
  readonly expr: string;
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(ALERTS_PATH, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

export function alertExpressions(): Expression[] {
  return alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }));
}

interface Panel {
  readonly id?: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly targets?: readonly { readonly expr: string; readonly refId: string }[];
  readonly panels?: readonly Panel[];
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: {
    readonly list: readonly {
      readonly name: string;
      readonly type: string;
      readonly query?: string | { readonly query: string };
    }[];
  };
}

export function dashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** Every panel, rows' collapsed panels included. */
export function dashboardPanels(d: Dashboard = dashboard()): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/**
 * Panel expressions with Grafana's variables replaced so that they are plain PromQL
 * (`$__rate_interval` → 1m, `$__range` → 1h, `$scope` → `.+`), and the templating queries'
 * `label_values(metric, label)` as the selector `metric`.
 */
export function dashboardExpressions(d: Dashboard = dashboard()): Expression[] {
  const out: Expression[] = [];
  for (const p of dashboardPanels(d)) {
    for (const t of p.targets ?? []) {
      out.push({ where: `panel "${p.title}" ${t.refId}`, expr: plainPromql(t.expr) });
    }
  }
  for (const v of d.templating.list) {
    if (v.type !== 'query' || v.query === undefined) continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\(\s*(.+?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)$/.exec(q);
    out.push({ where: `variable ${v.name}`, expr: plainPromql(m?.[1] ?? q) });
  }
  return out;
}

export function plainPromql(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, '.+');
}

/** A metric a PromQL expression selects, with the label names its matchers name. */
export interface Selector {
  readonly metric: string;
  readonly labels: readonly string[];
}

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'atan2', ...LABEL_LIST_KEYWORDS]);

const TOKEN =
  /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|\[[^\]]*\]|\{[^}]*\}|[0-9][0-9.]*(?:[eE][+-]?[0-9]+)?[a-z]*|[A-Za-z_:][A-Za-z0-9_:]*|\S/g;

/**
 * The metric selectors of a PromQL expression: identifiers that are not functions, aggregation
 * operators or keywords, and not inside a `by (...)`-style label list or a matcher block. A small
 * tokenizer, enough for the rules and panels hapg ships (the syntax itself is checked by promtool).
 */
export function selectors(expr: string): Selector[] {
  const tokens: string[] = expr.match(TOKEN) ?? [];
  const out: Selector[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (LABEL_LIST_KEYWORDS.has(t)) {
      if (tokens[i + 1] === '(') i = tokens.indexOf(')', i + 1);
      continue;
    }
    if (!/^[A-Za-z_:][A-Za-z0-9_:]*$/.test(t) || KEYWORDS.has(t) || AGGREGATIONS.has(t)) {
      if (t.startsWith('{')) out.push(...bareMatcher(t));
      continue;
    }
    if (tokens[i + 1] === '(') continue; // a function call
    const next = tokens[i + 1];
    out.push({ metric: t, labels: next?.startsWith('{') ? matcherLabels(next) : [] });
    if (next?.startsWith('{')) i++;
  }
  return out;
}

function matcherLabels(block: string): string[] {
  return [...block.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!);
}

/** `{__name__="x", ...}` without a metric name in front. */
function bareMatcher(block: string): Selector[] {
  const name = /__name__\s*=\s*"([^"]+)"/.exec(block)?.[1];
  return name === undefined ? [] : [{ metric: name, labels: matcherLabels(block) }];
}

/** The distinct metric names the alerts and the dashboard select. */
export function usedMetricNames(): string[] {
  const all = [...alertExpressions(), ...dashboardExpressions()].flatMap((e) => selectors(e.expr));
  return [...new Set(all.map((s) => s.metric))].sort();
}

/**
 * Parses Prometheus text: sample name → label names seen on it and the values (in order).
 * `# HELP` / `# TYPE` lines are returned apart.
 */
export interface Exposition {
  readonly samples: Map<
    string,
    { labels: Set<string>; values: { labels: Record<string, string>; value: number }[] }
  >;
  readonly help: Map<string, string>;
  readonly type: Map<string, string>;
}

export function parseExposition(text: string): Exposition {
  const samples: Exposition['samples'] = new Map();
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : type).set(meta[2]!, meta[3]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    const entry = samples.get(m[1]!) ?? { labels: new Set<string>(), values: [] };
    for (const k of Object.keys(labels)) entry.labels.add(k);
    entry.values.push({ labels, value: Number(m[3]) });
    samples.set(m[1]!, entry);
  }
  return { samples, help, type };
}
