import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_HAPROXY_LAYOUT, type HaproxyServer, renderHaproxyConfig as renderHaproxy } from '@hapg/cli';
import type { AgentNode } from './cluster.js';
import { freePorts, spawnTracked, type TrackedProcess, waitFor } from './proc.js';

export interface HaproxyHandle {
  readonly primaryPort: number;
  readonly replicasPort: number;
  readonly process: TrackedProcess;
  close(): Promise<void>;
}

/**
 * The test cluster's nodes as HAProxy servers, on `127.0.0.1` ports chosen
 * per test, with faster checks than the shipped config: the renderer is
 * hactl's (`hactl haproxy-config`, deploy/haproxy/haproxy.cfg).
 */
export function renderHaproxyConfig(
  nodes: readonly AgentNode[],
  ports: { readonly primaryPort: number; readonly replicasPort: number },
): string {
  const servers: HaproxyServer[] = nodes.map((n) => ({
    member: n.name,
    host: n.host,
    port: n.pgPort,
    checkHost: n.host,
    checkPort: n.restPort,
    checkTls: false,
  }));
  return renderHaproxy(servers, {
    ...DEFAULT_HAPROXY_LAYOUT,
    primaryBind: `127.0.0.1:${ports.primaryPort}`,
    replicasBind: `127.0.0.1:${ports.replicasPort}`,
    statsBind: null,
    checks: { intervalMs: 500, fall: 2, rise: 1 },
    maxconnGlobal: 200,
  });
}

export async function startHaproxy(nodes: readonly AgentNode[], dir: string): Promise<HaproxyHandle> {
  const [primaryPort, replicasPort] = (await freePorts(2)) as [number, number];
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, renderHaproxyConfig(nodes, { primaryPort, replicasPort }));
  return runHaproxy(cfg, { primaryPort, replicasPort });
}

/** Debian's haproxy in the foreground on `cfg`, once its primary port accepts connections. */
export async function runHaproxy(
  cfg: string,
  ports: { readonly primaryPort: number; readonly replicasPort: number },
): Promise<HaproxyHandle> {
  const process = spawnTracked('haproxy', ['-db', '-f', cfg]);
  await waitFor(
    async () => {
      const { connect } = await import('node:net');
      return new Promise<boolean>((done) => {
        const s = connect(ports.primaryPort, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          done(true);
        });
        s.once('error', () => done(false));
      });
    },
    { timeoutMs: 10_000, what: 'haproxy listening' },
  );
  return { ...ports, process, close: () => process.stop(2000) };
}
