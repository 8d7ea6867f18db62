import type { MemberName } from '../types.js';
import { formatSsn } from './ssn.js';
import type { ParsedSsn, SyncKeyValue, SyncMode, SyncStep } from './types.js';

export interface PlanSyncInput {
  /** the sync key now, or null when absent */
  readonly key: SyncKeyValue | null;
  /** `synchronous_standby_names` in force now */
  readonly ssn: ParsedSsn;
  /** from chooseSyncStandbys */
  readonly desired: readonly MemberName[];
  readonly mode: Exclude<SyncMode, 'off'>;
  readonly strict: boolean;
  /** `synchronous_node_count`; quorum mode's `ANY k` (capped at the number of desired standbys) */
  readonly nodeCount: number;
  readonly leader: MemberName;
}

/** Names plus how many of them are guaranteed to hold each commit the ssn lets through. */
interface Guarantee {
  readonly names: readonly MemberName[];
  readonly count: number;
}

/** What `ssn` guarantees about each commit it acknowledges. `*` guarantees nothing about any one name. */
export function ssnGuarantee(ssn: ParsedSsn): Guarantee {
  if (ssn.kind === 'none' || ssn.kind === 'anyStandby') return { names: [], count: 0 };
  return { names: ssn.names, count: Math.min(ssn.count, ssn.names.length) };
}

/**
 * Whether `ssn` keeps the promise of `key` (design rule 4), the invariant every step of a
 * plan preserves: in `on` mode every key standby must confirm each commit; in `quorum` mode
 * each commit must reach at least `quorum` key standbys. A key naming another leader, or no
 * standby, promises nothing about our commits.
 */
export function ssnKeepsKey(key: SyncKeyValue | null, ssn: ParsedSsn, leader: MemberName): boolean {
  if (key === null || key.leader !== leader || key.syncStandbys.length === 0) return true;
  const g = ssnGuarantee(ssn);
  if (key.quorum === null) {
    const all = g.count === g.names.length;
    return all && key.syncStandbys.every((n) => g.names.includes(n));
  }
  const outside = g.names.filter((n) => !key.syncStandbys.includes(n)).length;
  return g.count - outside >= key.quorum;
}

/**
 * The steps from the current sync key and `synchronous_standby_names` to `desired`, ordered
 * so that at every moment the key is true (design rule 4):
 * - `on`: every key standby holds every acknowledged commit. The key is narrowed first,
 *   the ssn changed, the newcomers awaited, and only then added to the key.
 * - `quorum`: every acknowledged commit is on at least `quorum` key standbys. The key's
 *   list is widened (with a count no higher than both old and new guarantees) before the
 *   ssn changes, the newcomers awaited, and the final key written.
 * Empty when nothing needs to change. The caller runs the steps in order and re-plans next
 * loop if one fails; re-planning from any intermediate state is safe.
 */
export function planSyncUpdate(input: PlanSyncInput): SyncStep[] {
  const steps = input.mode === 'on' ? planOn(input) : planQuorum(input);
  return dropNoOps(input, steps);
}

function targetSsn(input: PlanSyncInput, count: number): ParsedSsn {
  if (input.desired.length === 0) return input.strict ? { kind: 'anyStandby' } : { kind: 'none' };
  // `FIRST n` lists by priority; under `ANY k` order means nothing, and a stable (sorted) text
  // keeps lag ranking changes from reloading the server every loop
  if (input.mode === 'quorum') return { kind: 'any', count, names: [...input.desired].sort() };
  return { kind: 'first', count, names: input.desired };
}

function planOn(input: PlanSyncInput): SyncStep[] {
  const g = ssnGuarantee(input.ssn);
  // only members every commit must reach (all of the list acknowledges) are known complete
  const complete = g.count === g.names.length ? g.names : [];
  const current = currentKey(input).syncStandbys.filter((n) => complete.includes(n));
  const kept = current.filter((n) => input.desired.includes(n));
  const newcomers = input.desired.filter((n) => !kept.includes(n));
  return [
    writeKey(input.leader, kept, null),
    setSsn(targetSsn(input, input.desired.length)),
    ...(newcomers.length > 0 ? [awaitCaughtUp(newcomers, newcomers.length)] : []),
    writeKey(input.leader, input.desired, null),
  ];
}

function planQuorum(input: PlanSyncInput): SyncStep[] {
  const key = currentKey(input);
  const g = ssnGuarantee(input.ssn);
  // commits acknowledged under the ssn in force are on ≥ count − |ssn names outside the key| key members
  const outside = g.names.filter((n) => !key.syncStandbys.includes(n)).length;
  const keyCount = Math.min(key.quorum ?? 0, Math.max(0, g.count - outside));
  const targetCount = Math.min(Math.max(0, input.nodeCount), input.desired.length);
  const widened = union(key.syncStandbys, input.desired);
  return [
    writeKey(input.leader, widened, Math.min(keyCount, targetCount)),
    setSsn(targetSsn(input, targetCount)),
    ...(targetCount > 0 ? [awaitCaughtUp(input.desired, targetCount)] : []),
    writeKey(input.leader, input.desired, targetCount),
  ];
}

/** A key written by another leader promises nothing about our commits: start from empty. */
function currentKey(input: PlanSyncInput): SyncKeyValue {
  const key = input.key;
  if (key === null || key.leader !== input.leader)
    return { leader: input.leader, syncStandbys: [], quorum: 0 };
  return key;
}

function writeKey(leader: MemberName, names: readonly MemberName[], quorum: number | null): SyncStep {
  return { kind: 'writeSyncKey', value: { leader, syncStandbys: [...names].sort(), quorum } };
}

function setSsn(ssn: ParsedSsn): SyncStep {
  return { kind: 'setSsn', value: formatSsn(ssn) };
}

function awaitCaughtUp(names: readonly MemberName[], count: number): SyncStep {
  return { kind: 'awaitCaughtUp', names: [...names].sort(), count };
}

function union(a: readonly MemberName[], b: readonly MemberName[]): MemberName[] {
  return [...new Set([...a, ...b])];
}

/**
 * Drops writes that would not change anything, tracking the state the steps leave behind —
 * except a key write that precedes an ssn change: its CAS is what proves the key really is
 * what we think. The simulator found the leader loosening its ssn on a stale view of the key
 * (a key write of ours that etcd committed but whose answer was lost, or not yet watched).
 */
function dropNoOps(input: PlanSyncInput, steps: readonly SyncStep[]): SyncStep[] {
  let key = input.key;
  let ssn = formatSsn(input.ssn);
  const changesSsn = steps.some((s) => s.kind === 'setSsn' && s.value !== ssn);
  let firstWrite = true;
  const out: SyncStep[] = [];
  for (const step of steps) {
    if (step.kind === 'writeSyncKey') {
      const keep = firstWrite && changesSsn;
      firstWrite = false;
      if (!keep && key !== null && sameKey(key, step.value)) continue;
      key = step.value;
    } else if (step.kind === 'setSsn') {
      if (step.value === ssn) continue;
      ssn = step.value;
    } else if (key !== null && sameKey(key, lastKey(steps))) continue; // nothing left to await for
    out.push(step);
  }
  return out;
}

function lastKey(steps: readonly SyncStep[]): SyncKeyValue {
  const writes = steps.filter((s) => s.kind === 'writeSyncKey');
  return (writes[writes.length - 1] as Extract<SyncStep, { kind: 'writeSyncKey' }>).value;
}

function sameKey(a: SyncKeyValue, b: SyncKeyValue): boolean {
  const an = [...a.syncStandbys].sort();
  const bn = [...b.syncStandbys].sort();
  return (
    a.leader === b.leader &&
    a.quorum === b.quorum &&
    an.length === bn.length &&
    an.every((n, i) => n === bn[i])
  );
}

/** One step as a short text for logs and traces: `key [a,b] k=1`, `ssn 'FIRST 1 ("a")'`, `await 1 of [a]`. */
export function describeSyncStep(step: SyncStep): string {
  switch (step.kind) {
    case 'writeSyncKey':
      return `key [${step.value.syncStandbys.join(',')}]${step.value.quorum === null ? '' : ` k=${step.value.quorum}`}`;
    case 'setSsn':
      return `ssn '${step.value}'`;
    case 'awaitCaughtUp':
      return `await ${step.count} of [${step.names.join(',')}]`;
  }
}
