import type { IgnoreSlotRule } from '@hapg/core';

/** The slot fields an `ignore_slots` rule can match on. */
export interface SlotIdentity {
  readonly name: string;
  readonly type: 'physical' | 'logical';
  readonly database: string | null;
  readonly plugin: string | null;
}

/**
 * Patroni's rule: a slot is ignored when some rule has every field it sets
 * equal to the slot's. A rule with only `name` matches either type; one with
 * `database` or `plugin` never matches a physical slot, which has neither.
 * An empty rule `{}` matches every slot (hands off all of them), as in
 * Patroni — the safe reading, since ignoring only ever prevents a drop.
 */
export function isIgnored(slot: SlotIdentity, rules: readonly IgnoreSlotRule[]): boolean {
  return rules.some(
    (r) =>
      (r.name === null || r.name === slot.name) &&
      (r.type === null || r.type === slot.type) &&
      (r.database === null || r.database === slot.database) &&
      (r.plugin === null || r.plugin === slot.plugin),
  );
}
