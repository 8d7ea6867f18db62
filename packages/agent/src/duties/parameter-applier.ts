import { basename } from 'node:path';
import { describeParameterProblems, errorText, type ParameterProblem } from '@hapg/core';
import {
  describeFileSettingError,
  type FileSettingError,
  type FollowTarget,
  MAIN_CONF,
  type ParameterValue,
  type Parameters,
  type ReloadResult,
  type StartRole,
} from '@hapg/postgres';

/** What the applier needs of `PostgresNode`. */
export interface ParameterNode {
  setParameters(params: Parameters): Promise<readonly ParameterProblem[]>;
  reload(role: StartRole, follow: FollowTarget | null): Promise<ReloadResult>;
  /** learns the running server's parameter names (once per postmaster), for the REST gateway */
  refreshKnownParameters(): Promise<void>;
}

/** The part of a pino logger used here. */
export interface ParameterLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ApplyInput {
  /** what the configs ask for, names in lower case (over hapg's replication timing; the managed ssn included) */
  readonly desired: Parameters;
  /** stored parameters of the dynamic config that no node may render (`DynamicConfig.postgresql.skippedParameters`) */
  readonly skipped: readonly ParameterProblem[];
  /** the pg_hba lines the rewrite applies (a change of them is applied by the same reload) */
  readonly hba: readonly string[] | null;
  /** the dynamic `postgresql.pg_hba` is set, but this node's own list wins (Patroni's precedence) */
  readonly hbaShadowed: boolean;
  /** how to reload a running server; null when Postgres does not run (the file is used at its next start) */
  readonly reload: { readonly role: StartRole; readonly follow: () => FollowTarget | null } | null;
}

interface Rejected {
  readonly value: ParameterValue;
  readonly error: FileSettingError;
}

/**
 * Applies parameter changes to postgresql.conf and the running server, once per change:
 *
 * - parameters that cannot be rendered (skipped by the config parser or by `setParameters`)
 *   are left out with one warning naming each, and the others are applied;
 * - after a reload, what Postgres refused (`pg_file_settings`) is an error in the log and in
 *   `problem` (published as `status_reason`), never "applied". A value it refused is taken
 *   out of the file again (its previous value, if any, is rendered instead) so that the file
 *   on disk still starts Postgres; it is tried again once its configured value changes.
 */
export class ParameterApplier {
  readonly #node: ParameterNode;
  readonly #log: ParameterLog;
  #appliedKey: string | null = null;
  /** values Postgres refused, by name: left out while they stay configured */
  readonly #rejected = new Map<string, Rejected>();
  /** the parameters of the last reload Postgres took whole */
  #lastGood: Parameters = {};
  #problem: string | null = null;

  /** Postgres re-read its configuration (the `on_reload` callback) */
  readonly #onReloaded: (role: NonNullable<ApplyInput['reload']>['role']) => void;

  constructor(
    node: ParameterNode,
    log: ParameterLog,
    onReloaded: (role: NonNullable<ApplyInput['reload']>['role']) => void = () => {},
  ) {
    this.#node = node;
    this.#log = log;
    this.#onReloaded = onReloaded;
  }

  /** What the operator must fix about the parameters, for `status_reason`; null when nothing. */
  get problem(): string | null {
    return this.#problem;
  }

  /**
   * Renders (and, with `reload`, reloads) when the parameters changed since the last time.
   * Returns false when that failed part-way (tried again next time), true otherwise, even when
   * Postgres refused part of the files: that is reported, and retrying would not help.
   */
  async apply(input: ApplyInput): Promise<boolean> {
    if (input.reload !== null) await this.#node.refreshKnownParameters();
    if (this.#keyOf(input) === this.#appliedKey) return true;
    this.#appliedKey = null;
    try {
      const notes: string[] = [];
      const skipped = [...input.skipped, ...(await this.#node.setParameters(this.#effective(input.desired)))];
      if (skipped.length > 0) {
        const text = `skipped Postgres parameters: ${describeParameterProblems(skipped)}`;
        this.#log.warn({ skipped: skipped.map((p) => p.name) }, text);
        notes.push(text);
      }
      if (input.hbaShadowed)
        this.#log.warn(
          {},
          "the dynamic postgresql.pg_hba is not used here: this node's own postgresql.pg_hba wins",
        );
      if (input.reload !== null) notes.push(...(await this.#reload(input, input.reload)));
      const refused = [...this.#rejected.values()].map((x) => describeFileSettingError(x.error));
      if (refused.length > 0)
        notes.push(`Postgres refused parameters, their previous values stay: ${refused.join('; ')}`);
      this.#problem = notes.length > 0 ? notes.join('. ') : null;
      this.#appliedKey = this.#keyOf(input);
      return true;
    } catch (e) {
      this.#log.warn({ err: errorText(e) }, 'could not apply Postgres parameters');
      return false;
    }
  }

  /**
   * Reloads; a value Postgres refused is taken out (logged once) and the rest reloaded once
   * more. Returns what else to report: errors of the files it could not be helped with.
   */
  async #reload(input: ApplyInput, how: NonNullable<ApplyInput['reload']>): Promise<string[]> {
    let r = await this.#node.reload(how.role, how.follow());
    this.#onReloaded(how.role);
    const ours = r.rejected.filter((e) => this.#isOurs(e, input.desired));
    if (ours.length > 0) {
      this.#log.error(
        { rejected: ours.map((e) => e.name) },
        `Postgres refused parameters; rendering their previous values instead: ${ours.map(describeFileSettingError).join('; ')}`,
      );
      for (const e of ours) this.#rejected.set(e.name!, { value: input.desired[e.name!]!, error: e });
      await this.#node.setParameters(this.#effective(input.desired));
      r = await this.#node.reload(how.role, how.follow());
    }
    const notes: string[] = [];
    const other = [...r.fileErrors, ...r.rejected.filter((e) => !this.#isOurs(e, input.desired))];
    if (other.length > 0) {
      const what = r.applied === 'none' ? 'Postgres applied no change' : 'Postgres did not apply everything';
      const text = `${what} of its configuration files: ${other.map(describeFileSettingError).join('; ')}`;
      this.#log.error({ applied: r.applied }, text);
      notes.push(text);
    }
    if (r.applied === 'all') this.#lastGood = this.#effective(input.desired);
    if (notes.length === 0 && ours.length === 0)
      this.#log.info(
        { pendingRestart: Object.keys(r.pendingRestart) },
        'applied Postgres parameters (reload)',
      );
    return notes;
  }

  /** A refusal of a value this applier rendered into postgresql.conf (not postgresql.auto.conf's, nor hapg's own). */
  #isOurs(e: FileSettingError, desired: Parameters): boolean {
    return (
      e.name !== null &&
      e.sourcefile !== null &&
      basename(e.sourcefile) === MAIN_CONF &&
      Object.hasOwn(desired, e.name) &&
      this.#rejected.get(e.name)?.value !== desired[e.name]
    );
  }

  /** `desired`, with each refused value replaced by the last value Postgres took (or left out). */
  #effective(desired: Parameters): Record<string, ParameterValue> {
    const out: Record<string, ParameterValue> = { ...desired };
    for (const [name, r] of this.#rejected) {
      if (out[name] !== r.value) {
        // changed or removed: the new value gets its chance
        this.#rejected.delete(name);
        continue;
      }
      const good = this.#lastGood[name];
      if (good === undefined) delete out[name];
      else out[name] = good;
    }
    return out;
  }

  #keyOf(input: ApplyInput): string {
    const effective = Object.entries(this.#effective(input.desired)).sort(([a], [b]) => a.localeCompare(b));
    return JSON.stringify([effective, input.hba, input.skipped.map((p) => [p.name, p.code])]);
  }
}
