import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type NodeConfig, parseNodeConfig } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { NodeSnapshot } from '../src/api/snapshot.js';
import { podRoleLabels } from '../src/kubernetes/index.js';
import { snapshots } from './api-fixtures.js';
import { flags, initialCluster, REPO_ROOT, repoFile } from './deploy-files.js';
import { validateManifest } from './kubernetes-schema.js';

/**
 * deploy/kubernetes/: every manifest validated offline against the Kubernetes API's schemas
 * (kubernetes-models; there is no API server or kubeconform here), then checked for what makes
 * the cluster work: probes on the agent's port and paths, Services that select the labels the
 * agent sets, a Role that grants nothing more than the label updater needs.
 */
const DIR = 'deploy/kubernetes';

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked by the schema validator first, then read loosely
type Loose = any;
type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: Loose;
};

const files = readdirSync(resolve(REPO_ROOT, DIR)).filter((f) => f.endsWith('.yaml'));
const documents: { file: string; doc: Manifest }[] = files.flatMap((file) =>
  parseAllDocuments(repoFile(`${DIR}/${file}`)).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as Manifest };
  }),
);
const objects = documents.filter((d) => d.doc.kind !== 'Kustomization').map((d) => d.doc);
const fileOf = new Map(documents.map((d) => [d.doc, d.file]));

function one(kind: string, name: string): Manifest {
  const found = objects.filter((m) => m.kind === kind && m.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0]!;
}

const sts = one('StatefulSet', 'hapg');
const pod = sts.spec.template;
const container = pod.spec.containers.find((c: { name: string }) => c.name === 'hapg');
const podLabels: Record<string, string> = pod.metadata.labels;
const secret = one('Secret', 'hapg-passwords');
const configMap = one('ConfigMap', 'hapg-config');

/** The node config a pod of the StatefulSet loads: the ConfigMap's file plus the container's env. */
function podConfig(ordinal: number): NodeConfig {
  const fieldRefs: Record<string, string> = {
    'metadata.name': `${sts.metadata.name}-${ordinal}`,
    'metadata.namespace': sts.metadata.namespace ?? '',
    'status.podIP': `10.244.0.${10 + ordinal}`,
  };
  const env: Record<string, string> = {};
  for (const e of container.env as { name: string; value?: string; valueFrom?: Record<string, Loose> }[]) {
    let v: string;
    if (e.value !== undefined)
      v = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, n: string) => env[n] ?? '');
    else if (e.valueFrom?.fieldRef) v = fieldRefs[e.valueFrom.fieldRef.fieldPath] ?? '';
    else if (e.valueFrom?.secretKeyRef) v = secret.stringData[e.valueFrom.secretKeyRef.key];
    else throw new Error(`env ${e.name}: unexpected source`);
    expect(v, e.name).toBeDefined();
    env[e.name] = v;
  }
  const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'config');
  expect(container.args).toEqual(['hapg', '--config', `${mount.mountPath}/hapg.yaml`]);
  return parseNodeConfig(configMap.data['hapg.yaml'], { fileName: 'hapg.yaml', env }).config;
}
const config = podConfig(0);

/** Does `selector` (matchLabels / a Service's selector) select a pod with `labels`? */
const selects = (selector: Record<string, string>, labels: Record<string, string | null>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

function portNumber(ref: string | number): number {
  if (typeof ref === 'number') return ref;
  const p = container.ports.find((x: { name: string }) => x.name === ref);
  expect(p, `container port ${ref}`).toBeDefined();
  return p.containerPort;
}

describe(DIR, () => {
  it.each(objects.map((m) => [`${fileOf.get(m)}: ${m.kind} ${m.metadata.name}`, m] as const))(
    '%s is valid against the Kubernetes API schema',
    (_, m) => {
      expect(validateManifest(m)).toEqual([]);
    },
  );

  it('the schema check has teeth: types, required fields, unknown kinds and unknown fields', () => {
    expect(validateManifest({ ...sts, spec: { ...sts.spec, replicas: 'three' } })).toEqual([
      '/spec/replicas: must be integer',
    ]);
    const { readinessProbe, ...rest } = container;
    const typo = { ...rest, readinesProbe: readinessProbe };
    const podSpec = { ...pod.spec, containers: [typo], bogus: true };
    expect(validateManifest({ ...sts, spec: { ...sts.spec, template: { ...pod, spec: podSpec } } })).toEqual([
      '.spec.template.spec.containers[0].readinesProbe: unknown field',
      '.spec.template.spec.bogus: unknown field',
    ]);
    const svc = one('Service', 'hapg-primary');
    expect(
      validateManifest({
        ...svc,
        metadata: { ...svc.metadata, lables: {} },
        spec: { ...svc.spec, ports: [{ port: 5432, targetport: 5432 }] },
      }),
    ).toEqual(['.metadata.lables: unknown field', '.spec.ports[0].targetport: unknown field']);
    expect(
      validateManifest({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{}] } }),
    ).not.toEqual([]);
    expect(
      validateManifest({ apiVersion: 'example.com/v1', kind: 'Nope', metadata: { name: 'x' } }),
    ).not.toEqual([]);
  });

  it('the kustomization lists every manifest but the optional cluster-scoped policy', () => {
    const k = parse(repoFile(`${DIR}/kustomization.yaml`));
    expect([...k.resources].sort()).toEqual(
      files.filter((f) => f !== 'kustomization.yaml' && f !== 'own-pod-only.yaml').sort(),
    );
    const namespaces = new Set(objects.filter((m) => m.metadata.namespace).map((m) => m.metadata.namespace));
    expect([...namespaces]).toEqual([one('Namespace', 'hapg').metadata.name]);
  });

  describe('hapg StatefulSet', () => {
    it('three members, one per node (required anti-affinity on the host name)', () => {
      expect(sts.spec.replicas).toBe(3);
      expect(selects(sts.spec.selector.matchLabels, podLabels)).toBe(true);
      const terms = pod.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
      expect(terms).toHaveLength(1);
      expect(terms[0].topologyKey).toBe('kubernetes.io/hostname');
      expect(terms[0].labelSelector.matchLabels).toEqual(sts.spec.selector.matchLabels);
      expect(sts.spec.podManagementPolicy).toBe('Parallel');
    });

    it('a headless Service of the pods (their DNS names even before they are ready)', () => {
      const svc = one('Service', sts.spec.serviceName);
      expect(svc.spec.clusterIP).toBe('None');
      expect(svc.spec.publishNotReadyAddresses).toBe(true);
      expect(selects(svc.spec.selector, podLabels)).toBe(true);
    });

    it('readiness on /readiness, liveness (and startup) on /liveness, on the REST API port', () => {
      const api = config.restapi.listen.port;
      const probe = (p: { httpGet: { path: string; port: string | number } }) => [
        p.httpGet.path,
        portNumber(p.httpGet.port),
      ];
      expect(probe(container.readinessProbe)).toEqual(['/readiness', api]);
      expect(probe(container.livenessProbe)).toEqual(['/liveness', api]);
      expect(probe(container.startupProbe)).toEqual(['/liveness', api]);
      // liveness allows the loop at least 2 x ttl (a replica's bound) before a restart
      const l = container.livenessProbe;
      expect(l.periodSeconds * l.failureThreshold * 1000).toBeGreaterThanOrEqual(
        2 * config.bootstrap.dcs.ttlMs,
      );
      expect(config.restapi.listen.host).toBe('0.0.0.0'); // kubelet probes the pod IP
    });

    it('every pod is a member named like the pod, reachable at its pod IP', () => {
      for (const i of [0, 1, 2]) {
        const c = podConfig(i);
        expect(c.name).toBe(`hapg-${i}`);
        expect(c.restapi.connectAddress).toEqual({ host: `10.244.0.${10 + i}`, port: portNumber('api') });
        expect(c.postgresql.connectAddress).toEqual({
          host: `10.244.0.${10 + i}`,
          port: portNumber('postgresql'),
        });
        expect(c.kubernetes?.namespace).toBe(sts.metadata.namespace);
      }
    });

    it('its data directory on the volume claim, the passwords from the Secret', () => {
      const data = container.volumeMounts.find((m: { name: string }) => m.name === 'data');
      expect(sts.spec.volumeClaimTemplates.map((v: Manifest) => v.metadata.name)).toEqual(['data']);
      expect(config.postgresql.dataDir.startsWith(`${data.mountPath}/`)).toBe(true);
      const refs = (container.env as { valueFrom?: { secretKeyRef?: { name: string; key: string } } }[])
        .map((e) => e.valueFrom?.secretKeyRef)
        .filter((r) => r !== undefined);
      expect(refs.length).toBe(3);
      for (const r of refs) {
        expect(r.name).toBe(secret.metadata.name);
        expect(Object.keys(secret.stringData)).toContain(r.key);
      }
      expect(configMap.data['hapg.yaml']).not.toMatch(/password:/);
      expect(config.postgresql.authentication.superuser.password).toBe(
        secret.stringData['superuser-password'],
      );
    });

    it('runs as the image user, not root, with the volume group set once (Postgres wants 0700)', () => {
      const sc = pod.spec.securityContext;
      expect(sc).toMatchObject({ runAsNonRoot: true, fsGroupChangePolicy: 'OnRootMismatch' });
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(pod.spec.serviceAccountName).toBe('hapg');
    });
  });

  describe('primary and replicas Services', () => {
    const k = config.kubernetes!;
    const labelsOf = (s: Pick<NodeSnapshot, 'role' | 'pgState'>) => ({
      ...podLabels,
      ...podRoleLabels(s, k),
    });
    const primary = one('Service', 'hapg-primary');
    const replicas = one('Service', 'hapg-replicas');

    it('the node config turns the label updater on, with the label the Services select by', () => {
      expect(k).not.toBeNull();
      expect(primary.spec.selector).toEqual({
        ...sts.spec.selector.matchLabels,
        [k.roleLabel]: k.leaderLabelValue,
      });
      expect(replicas.spec.selector).toEqual({
        ...sts.spec.selector.matchLabels,
        [k.roleLabel]: k.followerLabelValue,
      });
      expect([k.roleLabel, k.leaderLabelValue, k.followerLabelValue]).toEqual(['role', 'primary', 'replica']);
    });

    it.each([
      ['the primary', snapshots.primaryHealthy, true, false],
      ['a streaming replica', snapshots.replicaStreaming, false, true],
      ['a stopped replica', { role: 'replica', pgState: 'stopped' }, false, false],
      ['a demoted primary', { role: 'demoted', pgState: 'running' }, false, false],
      ['an uninitialized node', { role: 'uninitialized', pgState: 'stopped' }, false, false],
    ] as const)('select the pod of %s as the agent labels it', (_, snap, inPrimary, inReplicas) => {
      const labels = labelsOf(snap as Pick<NodeSnapshot, 'role' | 'pgState'>);
      expect(selects(primary.spec.selector, labels)).toBe(inPrimary);
      expect(selects(replicas.spec.selector, labels)).toBe(inReplicas);
    });

    it('forward to Postgres', () => {
      for (const svc of [primary, replicas]) {
        expect(svc.spec.clusterIP).toBeUndefined(); // a virtual IP: clients are moved by endpoints
        expect(
          svc.spec.ports.map((p: { port: number; targetPort: string }) => [p.port, portNumber(p.targetPort)]),
        ).toEqual([[5432, config.postgresql.listen.port]]);
      }
    });
  });

  describe('RBAC', () => {
    const role = one('Role', 'hapg');
    const binding = one('RoleBinding', 'hapg');

    it('the Role grants get and patch on the cluster pods by name, nothing else', () => {
      expect(role.rules).toEqual([
        {
          apiGroups: [''],
          resources: ['pods'],
          resourceNames: Array.from({ length: sts.spec.replicas }, (_, i) => `${sts.metadata.name}-${i}`),
          verbs: ['get', 'patch'],
        },
      ]);
      expect(objects.filter((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding')).toEqual([]);
    });

    it("binds it to the pods' service account only", () => {
      const sa = one('ServiceAccount', pod.spec.serviceAccountName);
      expect(binding.roleRef).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: role.metadata.name,
      });
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace },
      ]);
      expect(sa.automountServiceAccountToken).not.toBe(false); // the agent needs its token
    });

    it('the optional policy confines the account to its own pod and the role label', () => {
      const vap = one('ValidatingAdmissionPolicy', 'hapg-own-pod-only');
      const vapb = one('ValidatingAdmissionPolicyBinding', 'hapg-own-pod-only');
      expect(vapb.spec.policyName).toBe(vap.metadata.name);
      expect(vapb.spec.validationActions).toEqual(['Deny']);
      expect(vapb.spec.matchResources.namespaceSelector.matchLabels['kubernetes.io/metadata.name']).toBe(
        sts.metadata.namespace,
      );
      const sa = `system:serviceaccount:${sts.metadata.namespace}:${pod.spec.serviceAccountName}`;
      expect(vap.spec.matchConditions[0].expression).toBe(`request.userInfo.username == '${sa}'`);
      const exprs = vap.spec.validations.map((v: { expression: string }) => v.expression).join('\n');
      expect(exprs).toContain(
        "request.userInfo.extra['authentication.kubernetes.io/pod-name'] == [object.metadata.name]",
      );
      expect(exprs).toContain(`k == '${config.kubernetes!.roleLabel}'`);
    });
  });

  it('a PodDisruptionBudget lets one member go at a time', () => {
    const pdb = one('PodDisruptionBudget', 'hapg');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
  });

  describe('etcd', () => {
    const etcd = one('StatefulSet', 'hapg-etcd');
    const svc = one('Service', etcd.spec.serviceName);
    const c = etcd.spec.template.spec.containers[0];
    const f = flags(c.args);

    it('three members with one consistent initial cluster, named by the headless Service', () => {
      expect(etcd.spec.replicas).toBe(3);
      expect(svc.spec.clusterIP).toBe('None');
      expect(svc.spec.publishNotReadyAddresses).toBe(true);
      expect(selects(svc.spec.selector, etcd.spec.template.metadata.labels)).toBe(true);
      const names = Array.from({ length: etcd.spec.replicas }, (_, i) => `${etcd.metadata.name}-${i}`);
      const members = initialCluster(f.get('initial-cluster')!);
      expect([...members.keys()]).toEqual(names);
      // each member advertises the URL the others know it by
      const advertised = (podName: string) =>
        f.get('initial-advertise-peer-urls')!.replace('$(POD_NAME)', podName);
      for (const n of names) expect(members.get(n)).toBe(advertised(n));
      expect(members.get(names[0]!)).toBe(`http://${names[0]}.${svc.metadata.name}:2380`);
      expect(f.get('name')).toBe('$(POD_NAME)');
      expect(c.env).toContainEqual({
        name: 'POD_NAME',
        valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
      });
    });

    it('the node config lists every member as an etcd host', () => {
      const clientUrl = (podName: string) =>
        new URL(f.get('advertise-client-urls')!.replace('$(POD_NAME)', podName));
      expect(config.etcd3.hosts).toEqual(
        Array.from({ length: etcd.spec.replicas }, (_, i) => {
          const u = clientUrl(`${etcd.metadata.name}-${i}`);
          return { host: u.hostname, port: Number(u.port) };
        }),
      );
    });

    it('keeps a quorum through drains, and only hapg and its members reach it', () => {
      const pdb = one('PodDisruptionBudget', 'hapg-etcd');
      expect(pdb.spec.minAvailable).toBe(Math.floor(etcd.spec.replicas / 2) + 1);
      const np = one('NetworkPolicy', 'hapg-etcd');
      expect(np.spec.podSelector.matchLabels).toEqual(etcd.spec.selector.matchLabels);
      const from = np.spec.ingress.map(
        (r: { from: { podSelector: { matchLabels: Record<string, string> } }[] }) =>
          r.from.map((x) => x.podSelector.matchLabels),
      );
      expect(from).toEqual([[sts.spec.selector.matchLabels], [etcd.spec.selector.matchLabels]]);
    });
  });

  const kubectl =
    spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 20_000 }).status === 0;
  it.runIf(kubectl)('kubectl kustomize builds it (offline)', () => {
    const r = spawnSync('kubectl', ['kustomize', resolve(REPO_ROOT, DIR)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const built = parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest);
    const listed = objects.filter((m) => fileOf.get(m) !== 'own-pod-only.yaml');
    expect(built.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual(
      listed.map((m) => `${m.kind}/${m.metadata.name}`).sort(),
    );
  });
});
