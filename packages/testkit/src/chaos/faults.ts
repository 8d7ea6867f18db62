import type { AgentNode, TestCluster } from '../cluster.js';
import type { EtcdMember } from '../etcd.js';
import { sleep } from '../proc.js';
import type { Prng } from '../sim/prng.js';

/**
 * The faults of a chaos run. Each is injected on a healthy cluster of namespaced hosts (so
 * network faults drop packets) and healed by the runner once its hold is over.
 */
export const FAULT_KINDS = [
  'host-death',
  'postgres-crash',
  'agent-freeze',
  'primary-isolated',
  'primary-cut-from-etcd',
  'primary-cut-from-replicas',
  'replica-cut',
  'etcd-member-loss',
  'etcd-quorum-loss',
  'etcd-leader-change',
  'slow-etcd',
  'clock-step',
  'replica-disk-full',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultContext {
  readonly cluster: TestCluster;
  readonly primary: AgentNode;
  readonly replicas: readonly AgentNode[];
  readonly rng: Prng;
  readonly ttlMs: number;
}

export interface InjectedFault {
  /** the host it hit, e.g. `node2` or `etcd1,etcd3` */
  readonly target: string;
  readonly detail: string;
  heal(): Promise<void>;
}

/**
 * How long a fault stays before it is healed:
 * - `failover`: until a member other than the old primary acknowledges a write (the fault is
 *   meant to cost the primary its lease; healing earlier would test nothing);
 * - `writable`: until some member acknowledges a write after the outage (or the hold passes);
 * - `hold`: a fixed time of about a lease TTL — nothing should change.
 */
export type HoldRule = 'failover' | 'writable' | 'hold';

export interface FaultSpec {
  readonly kind: FaultKind;
  readonly hold: HoldRule;
  readonly what: string;
  inject(ctx: FaultContext): Promise<InjectedFault>;
}

const etcdHosts = (c: TestCluster) => c.etcd.members.map((m) => m.host!.name);

/** A cut of `host` from every other host of the lab, clients included when asked. */
async function cutOff(c: TestCluster, host: string, peers: readonly string[]): Promise<() => Promise<void>> {
  await c.net!.cut(host, peers);
  return () => c.net!.heal(host);
}

export const FAULTS: Readonly<Record<FaultKind, FaultSpec>> = {
  'host-death': {
    kind: 'host-death',
    hold: 'failover',
    what: 'SIGKILL of every process of the primary host',
    async inject({ cluster, primary }) {
      await cluster.killHost(primary);
      return { target: primary.name, detail: 'kill -9', heal: () => primary.start() };
    },
  },
  'postgres-crash': {
    kind: 'postgres-crash',
    hold: 'writable',
    what: 'SIGKILL of the primary postmaster (restarted in place within primary_start_timeout)',
    async inject({ primary }) {
      const pid = await primary.postmasterPid();
      if (pid !== null) process.kill(pid, 'SIGKILL');
      return { target: primary.name, detail: `postmaster ${pid}`, heal: async () => {} };
    },
  },
  'agent-freeze': {
    kind: 'agent-freeze',
    hold: 'failover',
    what: "SIGSTOP of the primary's agent beyond the ttl (its fence stops Postgres at the deadline)",
    async inject({ primary }) {
      primary.signalAgent('SIGSTOP');
      return {
        target: primary.name,
        detail: 'agent SIGSTOP',
        heal: async () => primary.signalAgent('SIGCONT'),
      };
    },
  },
  'primary-isolated': {
    kind: 'primary-isolated',
    hold: 'failover',
    what: 'the primary cut off from etcd and the replicas (clients still reach it)',
    async inject({ cluster, primary }) {
      const others = [
        ...etcdHosts(cluster),
        ...cluster.nodes.filter((n) => n !== primary).map((n) => n.name),
      ];
      return {
        target: primary.name,
        detail: 'drop all but clients',
        heal: await cutOff(cluster, primary.name, others),
      };
    },
  },
  'primary-cut-from-etcd': {
    kind: 'primary-cut-from-etcd',
    hold: 'failover',
    what: 'the primary cut off from every etcd member (replicas still stream)',
    async inject({ cluster, primary }) {
      return {
        target: primary.name,
        detail: 'drop etcd',
        heal: await cutOff(cluster, primary.name, etcdHosts(cluster)),
      };
    },
  },
  'primary-cut-from-replicas': {
    kind: 'primary-cut-from-replicas',
    hold: 'hold',
    what: 'the primary cut off from its replicas (etcd still reachable): it keeps its lease',
    async inject({ cluster, primary, replicas }) {
      const names = replicas.map((n) => n.name);
      return {
        target: primary.name,
        detail: 'drop replicas',
        heal: await cutOff(cluster, primary.name, names),
      };
    },
  },
  'replica-cut': {
    kind: 'replica-cut',
    hold: 'hold',
    what: 'a replica cut off from etcd and the other nodes',
    async inject({ cluster, replicas, rng }) {
      const r = rng.pick(replicas);
      const others = [...etcdHosts(cluster), ...cluster.nodes.filter((n) => n !== r).map((n) => n.name)];
      return { target: r.name, detail: 'drop all but clients', heal: await cutOff(cluster, r.name, others) };
    },
  },
  'etcd-member-loss': {
    kind: 'etcd-member-loss',
    hold: 'hold',
    what: 'one etcd member of three cut off from every host',
    async inject({ cluster, rng }) {
      const m = rng.pick(etcdHosts(cluster));
      const heal = await cutOff(cluster, m, [...everyHost(cluster), 'clients']);
      return { target: m, detail: 'drop all', heal };
    },
  },
  'etcd-quorum-loss': {
    kind: 'etcd-quorum-loss',
    hold: 'hold',
    what: 'two etcd members of three cut off from every host (no quorum: the primary demotes at its deadline)',
    async inject({ cluster, rng }) {
      const hosts = etcdHosts(cluster);
      const keep = rng.pick(hosts);
      const lost = hosts.filter((h) => h !== keep);
      const heals: (() => Promise<void>)[] = [];
      for (const h of lost) heals.push(await cutOff(cluster, h, [...everyHost(cluster), 'clients']));
      return {
        target: lost.join(','),
        detail: `only ${keep} left`,
        heal: async () => {
          for (const h of heals) await h();
        },
      };
    },
  },
  'etcd-leader-change': {
    kind: 'etcd-leader-change',
    hold: 'hold',
    what: 'the etcd leader killed and restarted (the others elect a new one)',
    async inject({ cluster }) {
      const leader = (await etcdLeader(cluster.etcd.members)) ?? cluster.etcd.members[0]!;
      await leader.kill();
      return {
        target: leader.host?.name ?? leader.name,
        detail: 'kill -9, restart',
        heal: () => leader.start(),
      };
    },
  },
  'slow-etcd': {
    kind: 'slow-etcd',
    hold: 'hold',
    // The kernel here has no netem: a slow etcd is every member stalled 300 ms of each 700 ms,
    // as by fsync stalls (requests queue up to 300 ms; no election: the stall < election timeout).
    what: 'every etcd member stalled 300 ms of each 700 ms (SIGSTOP/SIGCONT)',
    async inject({ cluster }) {
      let on = true;
      const members = cluster.etcd.members;
      const loop = (async () => {
        while (on) {
          for (const m of members) m.pause();
          await sleep(300);
          for (const m of members) m.resume();
          await sleep(400);
        }
      })();
      return {
        target: 'etcd',
        detail: 'stall 300/700 ms',
        heal: async () => {
          on = false;
          await loop;
          for (const m of members) m.resume();
        },
      };
    },
  },
  'clock-step': {
    kind: 'clock-step',
    hold: 'hold',
    what: "one node's wall clock stepped by ± 2–10 minutes (monotonic time unchanged)",
    async inject({ cluster, primary, rng }) {
      const node = rng.chance(0.5) ? primary : rng.pick(cluster.nodes);
      const stepS = (rng.chance(0.5) ? 1 : -1) * rng.int(120, 600);
      await node.clock!.step(stepS);
      return {
        target: node.name,
        detail: `${stepS > 0 ? '+' : ''}${stepS} s`,
        heal: () => node.clock!.step(0),
      };
    },
  },
  'replica-disk-full': {
    kind: 'replica-disk-full',
    hold: 'hold',
    what: "a replica's disk full (its tmpfs filled): it stops receiving, the primary goes on",
    async inject({ replicas, rng }) {
      const r = rng.pick(replicas);
      await r.disk!.fill();
      return { target: r.name, detail: 'ENOSPC', heal: () => r.disk!.free() };
    },
  },
};

function everyHost(c: TestCluster): string[] {
  return c.net!.hosts.map((h) => h.name);
}

/** The member etcd's own status names as leader (v3 JSON gateway), or null. */
export async function etcdLeader(members: readonly EtcdMember[]): Promise<EtcdMember | null> {
  const statuses = await Promise.all(
    members.map(async (m) => {
      try {
        const res = await fetch(`http://${m.endpoint}/v3/maintenance/status`, {
          method: 'POST',
          body: '{}',
          signal: AbortSignal.timeout(1000),
        });
        return (await res.json()) as { header?: { member_id?: string }; leader?: string };
      } catch {
        return null; // not answering: it is not the one to ask
      }
    }),
  );
  const leaderId = statuses.find((s) => s?.leader !== undefined)?.leader;
  const i = statuses.findIndex((s) => s?.header?.member_id === leaderId);
  return leaderId === undefined || i < 0 ? null : members[i]!;
}

/**
 * The fault sequence of a run: every kind once in a seeded order (so a run of at least
 * `kinds.length` faults covers them all), then seeded picks.
 */
export function faultSchedule(
  rng: Prng,
  count: number,
  kinds: readonly FaultKind[] = FAULT_KINDS,
): FaultKind[] {
  const first = [...kinds];
  for (let i = first.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [first[i], first[j]] = [first[j]!, first[i]!];
  }
  const out = first.slice(0, count);
  while (out.length < count) out.push(rng.pick(kinds));
  return out;
}
