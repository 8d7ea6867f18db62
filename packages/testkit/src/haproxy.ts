import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentNode } from './cluster.js';
import { freePorts, spawnTracked, type TrackedProcess, waitFor } from './proc.js';

export interface HaproxyHandle {
  readonly primaryPort: number;
  readonly replicasPort: number;
  readonly process: TrackedProcess;
  close(): Promise<void>;
}

/**
 * Renders deploy/haproxy/haproxy.cfg's shape for the given nodes (ports
 * differ per test) and runs Debian's haproxy in the foreground.
 */
export function renderHaproxyConfig(
  nodes: readonly AgentNode[],
  primaryPort: number,
  replicasPort: number,
): string {
  const servers = nodes
    .map((n) => `    server ${n.name} ${n.host}:${n.pgPort} maxconn 100 check port ${n.restPort}`)
    .join('\n');
  return `global
    maxconn 200

defaults
    mode tcp
    retries 2
    timeout client 30m
    timeout server 30m
    timeout connect 4s
    timeout check 2s

listen primary
    bind 127.0.0.1:${primaryPort}
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
${servers}

listen replicas
    bind 127.0.0.1:${replicasPort}
    balance roundrobin
    option httpchk OPTIONS /replica
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
${servers}
`;
}

export async function startHaproxy(nodes: readonly AgentNode[], dir: string): Promise<HaproxyHandle> {
  const [primaryPort, replicasPort] = (await freePorts(2)) as [number, number];
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, renderHaproxyConfig(nodes, primaryPort, replicasPort));
  const process = spawnTracked('haproxy', ['-db', '-f', cfg]);
  await waitFor(
    async () => {
      const { connect } = await import('node:net');
      return new Promise<boolean>((done) => {
        const s = connect(primaryPort, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          done(true);
        });
        s.once('error', () => done(false));
      });
    },
    { timeoutMs: 10_000, what: 'haproxy listening' },
  );
  return { primaryPort, replicasPort, process, close: () => process.stop(2000) };
}
