import {
  type ClusterView,
  configuredParameters,
  type DynamicConfig,
  effectivePgHba,
  type NodeConfig,
  type ParameterValue,
  type PgObservation,
} from '@hapg/core';
import type { PostgresNode } from '@hapg/postgres';
import { followTarget } from '../executor/execute.js';
import type { Logger } from '../logger.js';
import { ParameterApplier } from './parameter-applier.js';

/** What a render of the parameters depends on: the configs and the server's state now. */
export interface ParameterInput {
  readonly config: NodeConfig;
  readonly dyn: DynamicConfig;
  readonly view: ClusterView | null;
  readonly pg: PgObservation;
}

/**
 * The parameter duty: renders the parameters this node should run with into postgresql.conf
 * and reloads, once per change (a `hactl edit-config`, a reloaded YAML, a new
 * `synchronous_standby_names`). Settings that need a restart show up as pending_restart
 * (member key, `hactl list`) until `hactl restart --pending`; what Postgres refused, as
 * `status_reason` (see `ParameterApplier`).
 */
export class ParameterDuty {
  readonly #applier: ParameterApplier;

  constructor(
    private readonly o: {
      readonly node: PostgresNode;
      readonly log: Logger;
      /** the managed `synchronous_standby_names` (the sync duty's); null: not managed */
      readonly desiredSsn: (view: ClusterView | null, dyn: DynamicConfig) => string | null;
      /** Postgres re-read its configuration files (the `on_reload` callback) */
      readonly onReloaded?: (role: 'primary' | 'replica') => void;
    },
  ) {
    this.#applier = new ParameterApplier(o.node, o.log, o.onReloaded);
  }

  /** what Postgres refused at the last reload, for `status_reason` */
  get problem(): string | null {
    return this.#applier.problem;
  }

  /**
   * The Postgres parameters this node should run with. In synchronous mode hapg owns
   * `synchronous_standby_names` (a value in `parameters` is ignored); with the mode off the
   * operator's own value, if any, stands, as in Patroni — once the sync key is gone.
   */
  desired(input: Omit<ParameterInput, 'pg'>, ssn?: string): Record<string, ParameterValue> {
    const merged = configuredParameters(input.dyn, input.config.postgresql.parameters);
    const managed = ssn ?? this.o.desiredSsn(input.view, input.dyn);
    if (managed !== null) merged.synchronous_standby_names = managed;
    return merged;
  }

  /** Rewrites postgresql.conf (and pg_hba) and reloads a running server; false when it could not. */
  async apply(input: ParameterInput, ssn?: string): Promise<boolean> {
    const { config, dyn, view, pg } = input;
    // a changed pg_hba list (hactl edit-config) is applied by the same rewrite and reload
    const hba = effectivePgHba(config, dyn);
    const running = pg.process === 'running' && pg.inRecovery !== null;
    return this.#applier.apply({
      desired: this.desired(input, ssn),
      skipped: dyn.postgresql.skippedParameters,
      hba,
      hbaShadowed: (dyn.postgresql.pgHba?.length ?? 0) > 0 && hba === config.postgresql.pgHba,
      reload: running
        ? {
            role: pg.inRecovery ? 'replica' : 'primary',
            // a just-promoted primary still remembers whom it followed: that member may be dead
            follow: () =>
              pg.following === null || pg.inRecovery === false
                ? null
                : followTarget({ view, name: config.name, useSlots: dyn.postgresql.useSlots }, pg.following),
          }
        : null,
    });
  }

  /** Renders and reloads a new `synchronous_standby_names`, then checks the server runs with it. */
  async applySsn(value: string, input: ParameterInput | null): Promise<void> {
    if (input === null || !(await this.apply(input, value)))
      throw new Error('could not render and reload synchronous_standby_names');
    const rows = await this.o.node.query<{ v: string }>(
      "SELECT current_setting('synchronous_standby_names') AS v",
    );
    const inForce = rows[0]?.v ?? null;
    if (inForce !== value) {
      // e.g. ALTER SYSTEM put a value in postgresql.auto.conf, which wins over our file
      throw new Error(
        `synchronous_standby_names is ${JSON.stringify(inForce)} after reload, not ${JSON.stringify(value)} (set in postgresql.auto.conf?)`,
      );
    }
  }
}
