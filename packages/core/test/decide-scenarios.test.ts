import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decide, type Observation } from '../src/index.js';
import { electionObs, formatActions, NOW_MS, primaryObs, replicaObs } from './decide-fixtures.js';

/**
 * Scenario files in ../testdata/*.txt: prose (`#` lines) first, then steps:
 *   base primary|replica|election   start from a fixture observation (node `a`)
 *   set <path> = <json>             change one field (Maps are traversed by key)
 *   tick <ms>                       advance the clock
 *   decide                          followed by `=> CODE actions` (the expectation)
 * `UPDATE=1` rewrites the expectation lines from what decide returns now.
 */
const DIR = join(import.meta.dirname, '..', 'testdata');
const BASES: Record<string, () => Observation> = {
  primary: primaryObs,
  replica: replicaObs,
  election: electionObs,
};
const BIGINT_KEY = /Lsn$|xlogLocation$|Bytes$/;

function setPath(root: unknown, path: string, raw: string): void {
  // `view.` is short for `dcs.view.`
  const keys = (path.startsWith('view.') ? `dcs.${path}` : path).split('.');
  let target: Record<string, unknown> | Map<string, unknown> = root as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    const next = target instanceof Map ? target.get(key) : target[key];
    if (next === undefined || next === null) throw new Error(`no ${key} in ${path}`);
    target = next as Record<string, unknown>;
  }
  const last = keys[keys.length - 1]!;
  const parsed: unknown = JSON.parse(raw);
  const value = BIGINT_KEY.test(last) && typeof parsed === 'number' ? BigInt(parsed) : parsed;
  if (target instanceof Map) target.set(last, value);
  else target[last] = value;
}

/** The verbs a step may start with; anything else is a mistake in the file, not prose. */
const VERBS = ['base', 'set', 'tick', 'decide'] as const;

/**
 * Runs one scenario (`name` is its file, for the messages). A line that is neither prose
 * (`#`, or empty) nor an expectation (`=>` right after a `decide`) must start with a known
 * verb: an unknown one (a typo such as `dcide`, or `expect`) throws, naming the verb, the
 * scenario and the line, instead of being skipped — a skipped step is a scenario that
 * silently checks less than it says.
 */
export function runScenario(name: string, text: string): { out: string; mismatches: string[] } {
  const lines = text.split('\n');
  const out: string[] = [];
  const mismatches: string[] = [];
  let obs: Observation | null = null;
  let nowMs = NOW_MS;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    const where = `scenario ${name}, line ${i + 1}`;
    if (trimmed.startsWith('=>')) {
      // expectation, handled with its `decide`
      if (lines[i - 1]?.trim() !== 'decide') throw new Error(`${where}: an expectation not after a decide`);
      continue;
    }
    out.push(line);
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [verb, ...rest] = trimmed.split(/\s+/);
    if (verb === 'base') {
      const base = BASES[rest[0] ?? ''];
      if (base === undefined || rest.length !== 1)
        throw new Error(
          `${where}: base wants one of ${Object.keys(BASES).join('|')}, got "${rest.join(' ')}"`,
        );
      obs = structuredClone(base());
      nowMs = NOW_MS;
    } else if (verb === 'set') {
      const m = /^set\s+(\S+)\s*=\s*(.+)$/.exec(trimmed);
      if (m === null || obs === null) throw new Error(`${where}: bad set`);
      setPath(obs, m[1]!, m[2]!);
    } else if (verb === 'tick') {
      const ms = Number(rest[0]);
      if (rest.length !== 1 || !Number.isFinite(ms)) throw new Error(`${where}: tick wants a number of ms`);
      nowMs += ms;
    } else if (verb === 'decide') {
      if (obs === null) throw new Error(`${where}: decide before base`);
      const d = decide(obs, nowMs);
      const got = `=> ${d.reason.code} ${formatActions(d.actions)}`;
      const want = lines[i + 1]?.trim();
      if (want !== got) mismatches.push(`line ${i + 1}: want ${want ?? '(none)'}, got ${got}`);
      out.push(`  ${got}`);
    } else {
      throw new Error(
        `${where}: unknown verb "${verb}" (known: ${VERBS.join(', ')}; prose lines start with #)`,
      );
    }
  }
  return { out: out.join('\n'), mismatches };
}

describe('decide scenarios', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.txt'));
  it('has scenario files', () => expect(files.length).toBeGreaterThan(0));
  it.each(files)('%s', (file) => {
    const path = join(DIR, file);
    const { out, mismatches } = runScenario(file, readFileSync(path, 'utf8'));
    if (process.env.UPDATE === '1') writeFileSync(path, out);
    else expect(mismatches).toEqual([]);
  });
});

describe('the scenario runner', () => {
  it('rejects an unknown verb, naming the verb, the scenario and the line', () => {
    const text = ['# a typo must not pass as a step', 'base primary', 'dcide', '  => HEALTHY -'].join('\n');
    expect(() => runScenario('made-up.txt', text)).toThrow(
      'scenario made-up.txt, line 3: unknown verb "dcide" (known: base, set, tick, decide; prose lines start with #)',
    );
    expect(() => runScenario('made-up.txt', 'base primary\nexpect leader a')).toThrow(
      /scenario made-up\.txt, line 2: unknown verb "expect"/,
    );
  });

  it('rejects a bad base, a bad tick and an expectation not after a decide', () => {
    expect(() => runScenario('x.txt', 'base leader')).toThrow(/x\.txt, line 1: base wants one of/);
    expect(() => runScenario('x.txt', 'base primary\ntick soon')).toThrow(/x\.txt, line 2: tick wants/);
    expect(() => runScenario('x.txt', 'base primary\n  => HEALTHY -')).toThrow(
      /x\.txt, line 2: an expectation not after a decide/,
    );
  });

  it('prose, blank lines and known verbs run as before', () => {
    const { mismatches } = runScenario('ok.txt', '# prose\n\nbase primary\ntick 10\n');
    expect(mismatches).toEqual([]);
  });
});
