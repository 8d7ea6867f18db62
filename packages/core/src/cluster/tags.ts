import { booleanWord } from '../config/fields.js';

/**
 * The tags hapg acts on, read from a member's `tags` (the member key's JSON, a peer's
 * `/patroni` body, or the node's own YAML). One reading for every caller: the election, the
 * REST API's checks and `/cluster`, the sync standby choice and hactl.
 */
export interface MemberTags {
  /** never promoted */
  readonly nofailover: boolean;
  /** election tie-break on WAL position, higher first; 0 when `nofailover` (never promoted) */
  readonly failoverPriority: number;
  /** never chosen as a synchronous standby */
  readonly nosync: boolean;
  /** `/replica` answers 503: load balancers send no reads here */
  readonly noloadbalance: boolean;
  /** may serve as the source of a new replica's base backup */
  readonly clonefrom: boolean;
  /** streams from this member instead of the leader (cascading); null: from the leader */
  readonly replicatefrom: string | null;
}

/** Patroni's default priority of a member that does not set `failover_priority`. */
export const DEFAULT_FAILOVER_PRIORITY = 1;

/**
 * A boolean tag's value, or null when it is absent (missing or JSON null). Patroni's own YAML
 * validation gives booleans, but the member JSON can come from another writer, an older
 * Patroni, or YAML/env text: Patroni's boolean words (`true`/`false`, `on`/`off`, `yes`/`no`,
 * any case) and `1`/`0` (text or number) are read as such; anything else counts as Python's
 * `bool(value)` does (Patroni's reading of these tags): a non-empty string, a non-zero
 * number, a non-empty list or map is true. That errs to the side the tag asks for —
 * `nofailover: "maybe"` keeps the member from being promoted.
 */
export function tagFlag(value: unknown): boolean | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'string') {
    const t = value.trim();
    if (t === '1') return true;
    if (t === '0') return false;
    return booleanWord(t) ?? t !== '';
  }
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * An integer tag (`failover_priority`), as Patroni's `parse_int`: an integer, or a number or
 * numeric text rounded to one; null when absent or not a number (the caller's default applies).
 */
export function tagInt(value: unknown): number | null {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value))
    n = Number(value);
  else return null;
  if (!Number.isFinite(n)) return null;
  const r = Math.round(n);
  return Number.isSafeInteger(r) ? r : null;
}

/** Own properties only: `__proto__` or `constructor` of a tag object are no tags. */
function own(raw: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(raw, key) ? raw[key] : undefined;
}

/**
 * The typed tags of a member (Patroni's `Tags` class):
 * - `nofailover`: the tag when set; otherwise `failover_priority <= 0`; otherwise false.
 * - `failoverPriority`: 0 when the `nofailover` tag is true; else `failover_priority`, default 1.
 *   (`nofailover: false` with `failover_priority: 0` keeps priority 0; hapg's eligibility rule
 *   refuses priority 0 as well, so such a member is never promoted either.)
 * - `nosync`, `noloadbalance`, `clonefrom`: the tag, default false.
 * - `replicatefrom`: a non-empty string, else null.
 * Other tags (user tags such as `zone`) are not read; they stay in the raw map for display and
 * for `/replica?tag_key=value` filters.
 */
export function parseTags(raw: Readonly<Record<string, unknown>> | null | undefined): MemberTags {
  const tags = raw ?? {};
  const nofailoverTag = tagFlag(own(tags, 'nofailover'));
  const priority = tagInt(own(tags, 'failover_priority'));
  const replicatefrom = own(tags, 'replicatefrom');
  return {
    nofailover: nofailoverTag ?? (priority !== null && priority <= 0),
    failoverPriority: nofailoverTag === true ? 0 : (priority ?? DEFAULT_FAILOVER_PRIORITY),
    nosync: tagFlag(own(tags, 'nosync')) ?? false,
    noloadbalance: tagFlag(own(tags, 'noloadbalance')) ?? false,
    clonefrom: tagFlag(own(tags, 'clonefrom')) ?? false,
    replicatefrom: typeof replicatefrom === 'string' && replicatefrom !== '' ? replicatefrom : null,
  };
}
