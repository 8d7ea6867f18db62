import type { ActionReply } from '../cluster-ops/reply.js';

export type { ActionReply } from '../cluster-ops/reply.js';

/** `POST /restart` body (Patroni's), parsed: every field is a filter or a modifier. */
export interface RestartRequest {
  /** restart only when Postgres reports `pending_restart` */
  readonly restartPending: boolean;
  /** restart only when this node has this role (`master` is read as `primary`) */
  readonly role: 'primary' | 'replica' | 'standby_leader' | null;
  /** restart only when the running server is older than this version, e.g. `15.4` */
  readonly postgresVersion: string | null;
  /** how long the restart may take before it is reported failed; null: the agent's default */
  readonly timeoutMs: number | null;
  /** when to restart (epoch ms, parsed by core's `parseScheduledTime`); null: now */
  readonly scheduleAtMs: number | null;
}

/**
 * Node-local actions; the agent implements them (they touch the local
 * Postgres or the loop). Each answers with the HTTP status and body the
 * endpoint should send, so the contract's codes (409 already scheduled,
 * 503 refused on the leader, ...) are decided where the facts are.
 */
export interface LocalActions {
  /**
   * re-read the configuration file and apply what can change live (`POST /reload`): the
   * answer says what was applied and what needs a restart; none: 202 "reload scheduled"
   */
  reload(): Promise<ActionReply | undefined> | ActionReply | undefined;
  /** 200 restarted, 202 scheduled, 409 a restart is already scheduled, 503 failed */
  restart(req: RestartRequest): Promise<ActionReply>;
  /** 200 deleted, 404 none scheduled */
  cancelRestart(): Promise<ActionReply>;
  /** 200 started, 503 refused (never on the leader; Postgres running and not forced) */
  reinitialize(req: { readonly force: boolean }): Promise<ActionReply>;
}

/**
 * What `buildApi` takes: `reload` is required, the rest may come later —
 * an endpoint whose action is missing answers 503 "not available".
 */
export type ApiActions = Pick<LocalActions, 'reload'> & Partial<Omit<LocalActions, 'reload'>>;
