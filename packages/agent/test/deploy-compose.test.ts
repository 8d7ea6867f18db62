import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseNodeConfig } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { composeValidator } from './compose-schema.js';
import { flags, haproxySections, initialCluster, interpolate, REPO_ROOT, repoFile } from './deploy-files.js';

/**
 * deploy/compose/: validated offline (no Compose v2 here; Debian's docker-compose 1.29 when
 * installed) against the Compose Specification's JSON schema, then checked for what matters
 * to a working cluster.
 */
const COMPOSE_PATH = 'deploy/compose/compose.yml';
const COMPOSE_DIR = resolve(REPO_ROOT, dirname(COMPOSE_PATH));

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  hostname?: string;
  command?: string[];
  environment?: Record<string, string | number | null>;
  volumes?: string[];
  healthcheck?: { test: string[]; interval?: string };
  init?: boolean;
  depends_on?: string[];
  ports?: string[];
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const text = repoFile(COMPOSE_PATH);
/** as Compose reads it: YAML merge keys (`<<`) resolved, variables at their defaults */
const compose = parse(interpolate(text), { merge: true }) as ComposeFile;
const services = Object.entries(compose.services);
const isEtcd = (s: Service) => s.command?.[0] === 'etcd';
const isHapg = (s: Service) => s.image === 'hapg:local';
const etcds = services.filter(([, s]) => isEtcd(s));
const nodes = services.filter(([, s]) => isHapg(s));
const nodeYaml = repoFile('deploy/compose/hapg.yaml');

/** `volume:target[:mode]` */
function mounts(s: Service): { source: string; target: string; mode: string | null }[] {
  return (s.volumes ?? []).map((v) => {
    const [source, target, mode] = v.split(':');
    return { source: source!, target: target!, mode: mode ?? null };
  });
}

function nodeConfig(s: Service) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.environment ?? {})) env[k] = v === null ? '' : String(v);
  return parseNodeConfig(nodeYaml, { fileName: 'deploy/compose/hapg.yaml', env }).config;
}

describe(COMPOSE_PATH, () => {
  it('is valid against the Compose Specification schema', () => {
    const validate = composeValidator();
    // the raw file (merge keys are YAML; variables stay unresolved, as the schema allows)
    const raw = parse(text, { merge: true });
    expect(validate(raw) ? [] : validate.errors).toEqual([]);
    // and the check has teeth
    expect(validate({ services: { x: { healthcheck: { interval: 10 } } } })).toBe(false);
    expect(validate({ services: { x: { volumes: [{ type: 'bind' }], bogus: 1 } } })).toBe(false);
  });

  it('has three etcd members, each named like its service, with one consistent initial cluster', () => {
    expect(etcds).toHaveLength(3);
    const clusters = etcds.map(([, s]) => flags(s.command!).get('initial-cluster'));
    expect(new Set(clusters).size).toBe(1);
    const members = initialCluster(clusters[0]!);
    expect([...members.keys()].sort()).toEqual(etcds.map(([name]) => name).sort());
    for (const [name, s] of etcds) {
      const f = flags(s.command!);
      expect(f.get('name')).toBe(name);
      expect(s.hostname ?? name).toBe(name);
      expect(members.get(name)).toBe(f.get('initial-advertise-peer-urls'));
      expect(f.get('initial-advertise-peer-urls')).toBe(`http://${name}:2380`);
      expect(f.get('advertise-client-urls')).toBe(`http://${name}:2379`);
      expect(f.get('initial-cluster-state')).toBe('new');
      expect(f.get('initial-cluster-token')).toBe(flags(etcds[0]![1].command!).get('initial-cluster-token'));
      // its data on a volume of its own
      const data = mounts(s).find((m) => f.get('data-dir')!.startsWith(m.target));
      expect(data && compose.volumes).toHaveProperty(data!.source);
    }
    const dataVolumes = etcds.map(([, s]) => mounts(s)[0]!.source);
    expect(new Set(dataVolumes).size).toBe(3);
  });

  it('has three hapg nodes of the image built from deploy/docker/Dockerfile', () => {
    expect(nodes).toHaveLength(3);
    for (const [, s] of nodes) {
      expect(resolve(COMPOSE_DIR, s.build!.context)).toBe(REPO_ROOT);
      expect(s.build!.dockerfile).toBe('deploy/docker/Dockerfile');
      expect(s.init).toBe(true); // an init reaps a killed postmaster (stack-notes)
      expect(s.command).toEqual(['hapg', '--config', '/etc/hapg/hapg.yaml']);
      expect(s.depends_on).toEqual(etcds.map(([name]) => name));
    }
  });

  it('gives every node its own data volume, holding its data directory', () => {
    const dataVolumes = nodes.map(([name, s]) => {
      const config = nodeConfig(s);
      const data = mounts(s).find((m) => config.postgresql.dataDir.startsWith(`${m.target}/`));
      expect(data, `${name}: no volume holds ${config.postgresql.dataDir}`).toBeDefined();
      expect(compose.volumes, `${name}: ${data!.source} is not a named volume`).toHaveProperty(data!.source);
      expect(data!.mode).toBeNull(); // writable
      return data!.source;
    });
    expect(new Set(dataVolumes).size).toBe(nodes.length);
  });

  it("gives every node a valid config naming it as its service, on the Compose network's names", () => {
    for (const [name, s] of nodes) {
      expect(mounts(s)).toContainEqual({ source: './hapg.yaml', target: '/etc/hapg/hapg.yaml', mode: 'ro' });
      const c = nodeConfig(s);
      expect(c.name).toBe(name);
      expect(s.hostname).toBe(name);
      expect(c.restapi.connectAddress).toEqual({ host: name, port: c.restapi.listen.port });
      expect(c.postgresql.connectAddress).toEqual({ host: name, port: c.postgresql.listen.port });
      expect(c.etcd3.hosts).toEqual(etcds.map(([etcd]) => ({ host: etcd, port: 2379 })));
      // passwords come from the environment, none from the shared file
      expect(c.postgresql.authentication.superuser.password).not.toBeNull();
      expect(c.postgresql.authentication.replication.password).not.toBeNull();
      expect(c.restapi.authentication?.password).not.toBeNull();
      expect(c.fence.enabled).toBe(true);
      expect(c.kubernetes).toBeNull();
    }
    expect(nodeYaml).not.toMatch(/password:/);
  });

  it('checks every node with /liveness on its REST port', () => {
    for (const [name, s] of nodes) {
      const check = s.healthcheck?.test.join(' ') ?? '';
      const port = nodeConfig(s).restapi.listen.port;
      expect(check, name).toContain(`http://127.0.0.1:${port}/liveness`);
      expect(s.healthcheck!.test[0]).toBe('CMD');
    }
  });

  describe('HAProxy', () => {
    const haproxy = services.find(([, s]) => s.command?.[0] === 'haproxy')?.[1];
    const cfgMount = haproxy && mounts(haproxy).find((m) => m.source.endsWith('haproxy.cfg'));
    const cfgPath = resolve(COMPOSE_DIR, cfgMount?.source ?? 'missing');
    const ours = haproxySections(repoFile('deploy/compose/haproxy.cfg'));
    const shipped = haproxySections(repoFile('deploy/haproxy/haproxy.cfg'));

    it('runs with the config of this directory', () => {
      expect(haproxy).toBeDefined();
      expect(cfgMount).toMatchObject({ target: haproxy!.command!.at(-1), mode: 'ro' });
      expect(cfgPath).toBe(resolve(COMPOSE_DIR, 'haproxy.cfg'));
      expect(haproxy!.ports).toEqual(['127.0.0.1:5000:5000', '127.0.0.1:5001:5001', '127.0.0.1:7000:7000']);
    });

    it.each([
      ['listen primary', 'OPTIONS /primary'],
      ['listen replicas', 'OPTIONS /replica?lag=16MB'],
    ])('%s checks %s on every node, as the shipped deploy/haproxy/haproxy.cfg does', (section, check) => {
      const lines = ours.get(section)!;
      const theirs = shipped.get(section)!;
      expect(lines).toContain(`option httpchk ${check}`);
      expect(lines).toContain('http-check expect status 200');
      // the same check lines as the shipped file; only the servers and name resolution differ
      const checkLines = (ls: string[]) => ls.filter((l) => /^(bind|balance|option|http-check)\b/.test(l));
      expect(checkLines(lines)).toEqual(checkLines(theirs));
      const defaults = lines.find((l) => l.startsWith('default-server'))!;
      expect(defaults.startsWith(theirs.find((l) => l.startsWith('default-server'))!)).toBe(true);
      expect(defaults).toContain('resolvers compose');
      const servers = lines.filter((l) => l.startsWith('server '));
      expect(servers).toEqual(
        nodes.map(([name, s]) => {
          const c = nodeConfig(s);
          return `server ${name} ${name}:${c.postgresql.listen.port} maxconn 100 check port ${c.restapi.listen.port}`;
        }),
      );
    });

    it('keeps the shipped defaults and global settings', () => {
      expect(ours.get('defaults')).toEqual(shipped.get('defaults'));
      expect(ours.get('global')).toEqual(shipped.get('global'));
    });

    const haproxyBin = spawnSync('haproxy', ['-v']).status === 0;
    it.runIf(haproxyBin)('haproxy -c accepts both configs', () => {
      for (const cfg of [cfgPath, resolve(REPO_ROOT, 'deploy/haproxy/haproxy.cfg')]) {
        const r = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
        expect(r.status, `${cfg}: ${r.stdout}${r.stderr}`).toBe(0);
      }
    });
  });

  it('refers to files that exist', () => {
    for (const [, s] of services)
      for (const m of mounts(s))
        if (m.source.startsWith('.')) expect(existsSync(resolve(COMPOSE_DIR, m.source)), m.source).toBe(true);
  });

  const dockerCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
  it.runIf(dockerCompose)("Debian's docker-compose config -q accepts it", () => {
    const r = spawnSync('docker-compose', ['-f', resolve(REPO_ROOT, COMPOSE_PATH), 'config', '-q'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    // and reads it as this test does (merge keys, variable defaults)
    const out = spawnSync('docker-compose', ['-f', resolve(REPO_ROOT, COMPOSE_PATH), 'config'], {
      encoding: 'utf8',
    });
    const theirs = parse(out.stdout) as ComposeFile;
    for (const [name, s] of services) {
      expect(theirs.services[name]?.command, name).toEqual(s.command);
      expect(theirs.services[name]?.environment ?? {}, name).toEqual(s.environment ?? {});
    }
  });
});
