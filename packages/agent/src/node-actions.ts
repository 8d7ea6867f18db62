import { type Clock, errorText } from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { LocalActions, RestartRequest } from './api/local-actions.js';
import type { NodeSnapshot } from './api/snapshot.js';
import { type ActionReply, reply } from './cluster-ops/reply.js';
import type { HaLoop } from './ha.js';
import type { LocalPostgres } from './local-pg.js';
import type { Logger } from './logger.js';
import { type LongTimer, setLongTimeout } from './long-timer.js';
import type { NodeConfig } from '@hapg/core';

/** Why a restart request does not apply to this node now, or null when it does. */
export function restartFilterMiss(req: RestartRequest, snap: NodeSnapshot): string | null {
  if (req.restartPending && !snap.pendingRestart) return 'no restart is pending';
  if (req.role !== null) {
    const role =
      snap.role === 'primary' ? 'primary' : snap.role === 'standby_leader' ? 'standby_leader' : 'replica';
    if (role !== req.role) return `role is ${role}, not ${req.role}`;
  }
  if (req.postgresVersion !== null && snap.serverVersion !== null) {
    const wanted = versionNum(req.postgresVersion);
    if (wanted !== null && snap.serverVersion >= wanted)
      return `PostgreSQL ${snap.serverVersion} is not older than ${req.postgresVersion}`;
  }
  return null;
}

/** `15.4` → 150004, `15` → 150000 (server_version_num); null when unparsable. */
export function versionNum(v: string): number | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(v.trim());
  return m ? Number(m[1]) * 10000 + Number(m[2] ?? 0) : null;
}

/**
 * A failed start's error carries the server's log tail (kilobytes): an answer quotes its
 * first line and the last lines, the log has the rest.
 */
function shortError(e: unknown, maxChars = 400): string {
  const text = errorText(e);
  if (text.length <= maxChars) return text;
  const lines = text.split('\n');
  const head = lines[0]!.slice(0, maxChars / 2);
  const tail = lines
    .slice(1)
    .join('\n')
    .slice(-maxChars / 2);
  return `${head} … ${tail} (full text in the agent log)`;
}

interface Scheduled {
  readonly atMs: number;
  readonly req: RestartRequest;
  readonly timer: LongTimer;
}

/**
 * The node-local REST actions. Each runs inside the HA loop (`runExclusive`), so a restart
 * or a re-clone never races a decision about the same Postgres.
 */
export class NodeActions implements LocalActions {
  #scheduled: Scheduled | null = null;

  constructor(
    private o: {
      readonly config: NodeConfig;
      readonly store: EtcdStore;
      readonly pg: LocalPostgres;
      readonly ha: HaLoop;
      readonly log: Logger;
      readonly clock: Clock;
      /** re-reads the YAML file and applies what can change live (main.ts); absent: wake only */
      readonly reloadConfig?: () => ActionReply;
    },
  ) {}

  /** A reloaded node config (see `reload.ts`). */
  setConfig(config: NodeConfig): void {
    this.o = { ...this.o, config };
  }

  scheduledRestart(): { schedule: string; postgres_version?: string } | null {
    const s = this.#scheduled;
    if (s === null) return null;
    return {
      schedule: new Date(s.atMs).toISOString(),
      ...(s.req.postgresVersion ? { postgres_version: s.req.postgresVersion } : {}),
    };
  }

  reload(): ActionReply | undefined {
    if (this.o.reloadConfig !== undefined) return this.o.reloadConfig();
    this.o.ha.wake('reload requested');
    return undefined;
  }

  async restart(req: RestartRequest): Promise<ActionReply> {
    if (req.scheduleAtMs !== null) {
      if (this.#scheduled !== null) return reply(409, { error: 'a restart is already scheduled' });
      const atMs = req.scheduleAtMs;
      const wallMs = () => this.o.clock.wallMs();
      const timer = setLongTimeout(
        () => {
          this.#scheduled = null;
          void this.restart({ ...req, scheduleAtMs: null }).then((r) =>
            this.o.log.info({ status: r.status, body: r.body }, 'scheduled restart ran'),
          );
        },
        atMs - wallMs(),
        wallMs,
      );
      this.#scheduled = { atMs, req, timer };
      return reply(202, { message: `restart scheduled at ${new Date(atMs).toISOString()}` });
    }
    const miss = restartFilterMiss(req, this.o.ha.snapshot());
    if (miss !== null) return reply(200, { message: `restart not needed: ${miss}` });
    const restart = this.o.ha.restartInPlace();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed out'>((resolve) => {
      if (req.timeoutMs !== null) timer = setTimeout(() => resolve('timed out'), req.timeoutMs);
    });
    try {
      if ((await Promise.race([restart, timedOut])) === 'timed out') {
        restart.catch((e: unknown) =>
          this.o.log.error({ err: errorText(e) }, 'restart failed after its timeout'),
        );
        // Patroni's meaning: the request is answered as failed; the server keeps starting, and
        // a primary that does not come up is handed over after primary_start_timeout
        return reply(503, {
          error: `restart did not complete within ${req.timeoutMs} ms; Postgres is still starting`,
        });
      }
      return reply(200, { message: 'restarted successfully' });
    } catch (e) {
      this.o.log.error({ err: errorText(e) }, 'restart on request failed');
      return reply(503, { error: `restart failed: ${shortError(e)}` });
    } finally {
      clearTimeout(timer);
    }
  }

  async cancelRestart(): Promise<ActionReply> {
    const s = this.#scheduled;
    if (s === null) return reply(404, { error: 'no restart is scheduled' });
    s.timer.cancel();
    this.#scheduled = null;
    return reply(200, { message: 'scheduled restart deleted' });
  }

  async reinitialize(req: { readonly force: boolean }): Promise<ActionReply> {
    const snap = this.o.ha.snapshot();
    if (snap.holdsLeaderKey) return reply(503, { error: 'I am the leader, can not reinitialize' });
    const leader = snap.leaderName;
    if (leader === null) return reply(503, { error: 'no leader to clone from' });
    if (snap.pgState === 'running' && snap.role === 'primary' && !req.force) {
      return reply(503, { error: 'Postgres runs as a primary here; use force' });
    }
    void this.o.ha
      .reinitialize(leader)
      .catch((e) => this.o.log.error({ err: errorText(e) }, 'reinitialize failed'));
    return reply(200, { message: 'reinitialize started' });
  }
}
