import {
  assertParameterWrite,
  type ClusterView,
  type Clock,
  type DecideConfig,
  type DynamicConfig,
  defaultDynamicConfig,
  effectiveDynamicConfig,
  errorText,
  isHapgError,
  keyRevision,
  type KnownParameters,
  type MalformedKey,
  malformedKey,
  mergeDynamicConfig,
  parseDynamicConfig,
  PG15_PARAMETERS,
  toDecideConfig,
} from '@hapg/core';
import { systemClock } from '@hapg/platform';
import { checkSwitchover, type SwitchRequest } from './check-switchover.js';
import { type ActionReply, refuse, reply } from './reply.js';
import type { ClusterStorePort } from './store-port.js';
import { waitForLeader } from './wait-leader.js';

export interface ClusterOpsOptions {
  readonly store: ClusterStorePort;
  /** wall clock for `scheduled_at`; default the system clock */
  readonly clock?: Clock;
  /**
   * How long `POST /switchover` waits for the new leader before answering
   * 202 "in progress". Default `ttl + 2*loop_wait` of the dynamic config: the
   * old leader notices the request within one loop, demotes and releases;
   * the target notices the free key within the next loop and promotes; ttl
   * covers a release that fails and must wait for the lease to lapse.
   */
  readonly switchWaitMs?: (config: DecideConfig) => number;
  /**
   * The parameter names the local server knows (its pg_settings) for checking a config write;
   * null, or absent: PostgreSQL 15's list
   */
  readonly knownParameters?: () => KnownParameters | null;
  /**
   * What an invalid stored config falls back to (core's `effectiveDynamicConfig`): the config
   * this node's loop runs with, else its bootstrap.dcs. Absent: the defaults, as hactl.
   */
  readonly dynamicConfig?: {
    readonly running: () => DynamicConfig | null;
    readonly bootstrap: DynamicConfig;
  };
}

export const defaultSwitchWaitMs = (c: DecideConfig): number => c.ttlMs + 2 * c.loopWaitMs;

/**
 * Cluster-level actions of the REST API: they only write etcd keys (with
 * CAS) and watch the view; the agents' loops do the rest. Any node can serve
 * them, since none of them touches the local Postgres.
 */
export class ClusterOps {
  readonly #store: ClusterStorePort;
  readonly #clock: Clock;
  readonly #switchWaitMs: (config: DecideConfig) => number;
  readonly #knownParameters: () => KnownParameters | null;
  readonly #dynamicConfig: NonNullable<ClusterOpsOptions['dynamicConfig']>;

  constructor(opts: ClusterOpsOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock ?? systemClock;
    this.#switchWaitMs = opts.switchWaitMs ?? defaultSwitchWaitMs;
    this.#knownParameters = opts.knownParameters ?? (() => null);
    this.#dynamicConfig = opts.dynamicConfig ?? { running: () => null, bootstrap: defaultDynamicConfig() };
  }

  /**
   * The view's config as the agents decide with it. An invalid stored config falls back by
   * core's one rule (the agents log it): refusing every switchover because of an unrelated bad
   * key would leave no way out.
   */
  #decideConfig(view: ClusterView): DecideConfig {
    const { running, bootstrap } = this.#dynamicConfig;
    return toDecideConfig(effectiveDynamicConfig(view, running(), bootstrap).config);
  }

  /** `POST /switchover` and `POST /failover`. */
  async switchover(req: SwitchRequest): Promise<ActionReply> {
    return guard(async () => {
      const view = await this.#store.readView();
      const config = this.#decideConfig(view);
      const check = checkSwitchover(view, config, req, this.#clock.wallMs());
      // a bad request is 400 whatever the cluster holds; then a malformed failover key, which
      // would refuse every request as "written concurrently" (our create-only write fails)
      if (!check.ok && check.status === 400) return refuse(check.status, check.code, check.reason);
      const bad = malformedKey(view, 'failover');
      if (bad !== null) return refuse(412, 'FAILOVER_KEY_MALFORMED', malformedFailoverText(bad));
      if (!check.ok) return refuse(check.status, check.code, check.reason);
      let revision: string;
      try {
        revision = await this.#store.casFailover(check.failoverValue, null);
      } catch (e) {
        // Someone wrote a request between our read and our write.
        if (isHapgError(e, 'DCS_KEY_EXISTS') || isHapgError(e, 'DCS_CAS_CONFLICT'))
          return refuse(412, 'ALREADY_PENDING', 'another switchover request was written concurrently');
        throw e;
      }
      const summary = {
        leader: check.fromLeader,
        candidate: check.target,
        scheduled_at: check.failoverValue.scheduledAt,
      };
      if (req.scheduledAt !== null || check.target === null) {
        return reply(202, {
          status: 'scheduled',
          message: `${req.kind} scheduled at ${check.failoverValue.scheduledAt}`,
          ...summary,
        });
      }
      const timeoutMs = this.#switchWaitMs(config);
      const progress = await waitForLeader(this.#store, {
        target: check.target,
        fromLeader: check.fromLeader,
        writtenRevision: revision,
        timeoutMs,
      });
      if (progress === 'done') {
        const verb = req.kind === 'switchover' ? 'switched over' : 'failed over';
        return reply(200, {
          status: 'done',
          message: `Successfully ${verb} to "${check.target}"`,
          ...summary,
        });
      }
      if (progress === 'failed') {
        return reply(503, {
          status: 'failed',
          error: `${check.fromLeader} is still the leader and the request is gone: ${check.target} did not take over`,
          ...summary,
        });
      }
      // hapg improvement over Patroni's "503 status unknown": the request stands and is being worked on.
      const now = this.#store.view();
      return reply(202, {
        status: 'in progress',
        message: `${check.target} is not the running leader yet after ${timeoutMs} ms; the request stands`,
        ...summary,
        current_leader: now?.leader?.name ?? null,
        waited_ms: timeoutMs,
      });
    });
  }

  /**
   * `DELETE /switchover`: removes any pending request (a scheduled one, or one stuck
   * unexecuted), and a malformed failover key, which would block every switchover otherwise.
   * Either with CAS on the revision just read, so a request written meanwhile is kept (409).
   */
  async cancelSwitchover(): Promise<ActionReply> {
    return guard(async () => {
      const view = await this.#store.readView();
      if (view.failover !== null) {
        await this.#store.deleteFailover(view.failover.modRevision);
        return reply(200, { status: 'deleted', message: 'scheduled switchover deleted' });
      }
      const bad = malformedKey(view, 'failover');
      if (bad === null) return refuse(404, 'NO_SWITCHOVER', 'no switchover is scheduled or pending');
      await this.#store.deleteFailover(bad.modRevision);
      return reply(200, { status: 'deleted', message: `malformed failover key deleted (${bad.error})` });
    });
  }

  /** `PATCH /config`: RFC 7396 merge into the stored config, validated, written with CAS. */
  async patchConfig(patch: unknown): Promise<ActionReply> {
    return this.#writeConfig('PATCH /config', (base) => mergeDynamicConfig(base, patch));
  }

  /** `PUT /config`: replaces the stored config (a malformed one too), same validation. */
  async replaceConfig(config: unknown): Promise<ActionReply> {
    return this.#writeConfig('PUT /config', () => mergeDynamicConfig({}, config), true);
  }

  async #writeConfig(
    source: string,
    next: (base: Record<string, unknown>) => Record<string, unknown>,
    replaces = false,
  ): Promise<ActionReply> {
    return guard(async () => {
      const view = await this.#store.readView();
      const bad = view.config === null ? malformedKey(view, 'config') : null;
      if (bad !== null && !replaces) {
        return refuse(
          412,
          'CONFIG_KEY_MALFORMED',
          `the stored config is malformed (${bad.error}): there is nothing to merge into; replace it with PUT /config`,
        );
      }
      let value: Record<string, unknown>;
      try {
        value = next(view.config?.value ?? {});
        parseDynamicConfig(value, { source });
        // stored parameters the agents skip do not block the write; new or changed ones must pass
        const known = this.#knownParameters() ?? PG15_PARAMETERS;
        assertParameterWrite(value, view.config?.value ?? {}, known, source);
      } catch (e) {
        if (isHapgError(e, 'CONFIG_INVALID')) return refuse(400, 'CONFIG_INVALID', errorText(e));
        throw e;
      }
      await this.#store.casConfig(value, keyRevision(view, 'config'));
      return reply(200, value);
    });
  }
}

function malformedFailoverText(bad: MalformedKey): string {
  return `the failover key is malformed (${bad.error}) and blocks every switchover: clear it with DELETE /switchover (hactl flush --switchover)`;
}

/** etcd errors → HTTP: a lost CAS race is 409, anything else that kept us from writing is 503. */
async function guard(run: () => Promise<ActionReply>): Promise<ActionReply> {
  try {
    return await run();
  } catch (e) {
    if (isHapgError(e, 'DCS_CAS_CONFLICT') || isHapgError(e, 'DCS_KEY_EXISTS'))
      return refuse(409, 'CAS_CONFLICT', `${errorText(e)}; read again and retry`);
    if (isHapgError(e, 'DCS_UNAVAILABLE')) return refuse(503, 'DCS_UNAVAILABLE', errorText(e));
    return refuse(503, 'INTERNAL', errorText(e));
  }
}
