import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesConfig } from '@hapg/core';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ApiTarget,
  classifyPatch,
  inClusterTarget,
  labelsKey,
  PodLabeler,
  type PodLabels,
  patchPodLabels,
  podRoleLabels,
  startRoleLabels,
} from '../src/kubernetes/index.js';
import { snapshots } from './api-fixtures.js';

const K8S: KubernetesConfig = {
  namespace: null,
  roleLabel: 'role',
  leaderLabelValue: 'primary',
  followerLabelValue: 'replica',
  standbyLeaderLabelValue: 'primary',
  tmpRoleLabel: null,
  cacert: null,
};

describe('podRoleLabels (Patroni touch_member rule)', () => {
  // [case, role, pgState, labels]
  const CASES: readonly (readonly [string, string, string, PodLabels])[] = [
    ['the primary', 'primary', 'running', { role: 'primary' }],
    ['the primary, Postgres restarting under the key', 'primary', 'starting', { role: 'primary' }],
    ['a standby leader', 'standby_leader', 'running', { role: 'primary' }],
    ['a running replica', 'replica', 'running', { role: 'replica' }],
    ['a replica still starting', 'replica', 'starting', { role: null }],
    ['a stopped replica', 'replica', 'stopped', { role: null }],
    ['a crashed node', 'replica', 'crashed', { role: null }],
    ['a writable server without the key', 'demoted', 'running', { role: 'demoted' }],
    ['an empty data directory', 'uninitialized', 'stopped', { role: null }],
  ];
  it.each(CASES)('%s', (_, role, pgState, labels) => {
    expect(podRoleLabels({ role: role as 'primary', pgState }, K8S)).toEqual(labels);
  });

  it('uses the configured label name and values, and tmp_role_label with the default values', () => {
    const k = { ...K8S, roleLabel: 'spilo-role', leaderLabelValue: 'master', tmpRoleLabel: 'tmp-role' };
    expect(podRoleLabels({ role: 'primary', pgState: 'running' }, k)).toEqual({
      'spilo-role': 'master',
      'tmp-role': 'primary',
    });
    expect(podRoleLabels({ role: 'replica', pgState: 'running' }, k)).toEqual({
      'spilo-role': 'replica',
      'tmp-role': 'replica',
    });
    expect(podRoleLabels({ role: 'replica', pgState: 'stopped' }, k)).toEqual({
      'spilo-role': null,
      'tmp-role': null,
    });
  });

  it('a label set has one key whatever the order', () => {
    expect(labelsKey({ a: '1', b: null })).toBe(labelsKey({ b: null, a: '1' }));
    expect(labelsKey({ a: '1' })).not.toBe(labelsKey({ a: null }));
  });
});

describe('classifyPatch', () => {
  it.each([
    [200, 'applied'],
    [201, 'applied'],
    [401, 'forbidden'],
    [403, 'forbidden'],
    [404, 'not-found'],
    [409, 'refused'],
    [422, 'refused'],
    [408, 'unavailable'],
    [429, 'unavailable'],
    [500, 'unavailable'],
    [503, 'unavailable'],
  ])('%d → %s', (status, kind) => {
    expect(classifyPatch({ status, message: '' }).kind).toBe(kind);
  });
});

describe('inClusterTarget', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function serviceAccountDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'hapg-sa-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  it("reads the pod's service account: token, CA and namespace", () => {
    const dir = serviceAccountDir({ token: 'tok\n', 'ca.crt': 'PEM', namespace: 'db\n' });
    const r = inClusterTarget(env, K8S, { serviceAccountDir: dir });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.namespace).toBe('db');
    expect(r.target.baseUrl.href).toBe('https://10.96.0.1/');
    expect(r.target.token()).toBe('tok');
    expect(r.target.ca?.toString()).toBe('PEM');
    writeFileSync(join(dir, 'token'), 'rotated');
    expect(r.target.token()).toBe('rotated');
  });

  it('kubernetes.namespace and cacert win; an IPv6 service host gets brackets', () => {
    const dir = serviceAccountDir({ token: 'tok', namespace: 'other' });
    const ca = join(dir, 'my-ca.pem');
    writeFileSync(ca, 'MINE');
    const r = inClusterTarget(
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' },
      { namespace: 'db', cacert: ca },
      { serviceAccountDir: dir },
    );
    expect(r.ok && [r.namespace, r.target.baseUrl.host, r.target.ca?.toString()]).toEqual([
      'db',
      '[fd00::1]:6443',
      'MINE',
    ]);
  });

  it('says why outside a pod', () => {
    const dir = serviceAccountDir({ token: 'tok', 'ca.crt': 'PEM', namespace: 'db' });
    expect(inClusterTarget({}, K8S, { serviceAccountDir: dir })).toEqual({
      ok: false,
      reason: expect.stringContaining('KUBERNETES_SERVICE_HOST'),
    });
    const r = inClusterTarget(env, K8S, { serviceAccountDir: join(dir, 'missing') });
    expect(r.ok ? '' : r.reason).toContain('ENOENT');
    const empty = inClusterTarget(env, K8S, { serviceAccountDir: serviceAccountDir({ token: '' }) });
    expect(empty.ok ? '' : empty.reason).toContain('is empty');
  });
});

/** One request as the fake API server saw it. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
  readonly body: unknown;
  readonly atMs: number;
}

type Reply = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A fake Kubernetes API server speaking real HTTP; `reply` decides each answer. */
class FakeApi {
  readonly seen: Seen[] = [];
  reply: Reply = (_req, res) => json(res, 200, { kind: 'Pod' });
  private server: Server | null = null;
  port = 0;

  async start(port = 0, server?: Server): Promise<void> {
    this.server = server ?? createHttpServer();
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        this.seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          contentType: req.headers['content-type'],
          authorization: req.headers.authorization,
          body: text === '' ? null : JSON.parse(text),
          atMs: performance.now(),
        });
        this.reply(req, res, this.seen.length);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s === null) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  target(overrides: Partial<ApiTarget> = {}): ApiTarget {
    return {
      baseUrl: new URL(`http://127.0.0.1:${this.port}`),
      ca: null,
      token: () => 'sa-token',
      requestTimeoutMs: 2_000,
      ...overrides,
    };
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const forbidden = (res: ServerResponse) =>
  json(res, 403, {
    kind: 'Status',
    status: 'Failure',
    reason: 'Forbidden',
    code: 403,
    message:
      'pods "hapg-0" is forbidden: User "system:serviceaccount:hapg:hapg" cannot patch resource "pods" in API group "" in the namespace "hapg"',
  });

/** A logger whose JSON lines the test reads. */
function capturedLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log, lines };
}

const POD = { namespace: 'hapg', name: 'hapg-0' };
const PRIMARY: PodLabels = { role: 'primary' };
const REPLICA: PodLabels = { role: 'replica' };

function labelerFor(api: FakeApi, log: pino.Logger, target = api.target()): PodLabeler {
  return new PodLabeler({
    patch: (labels, signal) => patchPodLabels(target, POD, labels, signal),
    log,
    pod: 'hapg/hapg-0',
    backoffInitialMs: 40,
    backoffMaxMs: 160,
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('PodLabeler against a fake API server', () => {
  const apis: FakeApi[] = [];
  const labelers: PodLabeler[] = [];
  afterEach(async () => {
    for (const l of labelers.splice(0)) l.close();
    for (const a of apis.splice(0)) await a.stop();
  });
  async function fakeApi(): Promise<FakeApi> {
    const api = new FakeApi();
    apis.push(api);
    await api.start();
    return api;
  }
  function track(l: PodLabeler): PodLabeler {
    labelers.push(l);
    return l;
  }

  it('a role change is one PATCH of the pod with a JSON merge patch of its labels', async () => {
    const api = await fakeApi();
    const { log, lines } = capturedLogger();
    const labeler = track(labelerFor(api, log));
    labeler.set(PRIMARY);
    labeler.set({ role: 'primary' }); // the next loops publish the same role: nothing more is sent
    await labeler.idle();
    labeler.set(PRIMARY);
    await labeler.idle();
    expect(api.seen).toHaveLength(1);
    expect(api.seen[0]).toMatchObject({
      method: 'PATCH',
      url: '/api/v1/namespaces/hapg/pods/hapg-0',
      contentType: 'application/merge-patch+json',
      authorization: 'Bearer sa-token',
      body: { metadata: { labels: { role: 'primary' } } },
    });
    // demoted and stopped: the next change is the next PATCH; null removes the label
    labeler.set({ role: null });
    await labeler.idle();
    expect(api.seen.map((s) => s.body)).toEqual([
      { metadata: { labels: { role: 'primary' } } },
      { metadata: { labels: { role: null } } },
    ]);
    expect(lines.filter((l) => l.msg === 'pod labels updated')).toHaveLength(2);
    expect(labeler.appliedKey).toBe(labelsKey({ role: null }));
  });

  it('only the latest labels matter: values set while a request is in flight replace each other', async () => {
    const api = await fakeApi();
    let release = () => {};
    api.reply = (_req, res, n) => {
      if (n === 1) release = () => json(res, 200, {});
      else json(res, 200, {});
    };
    const { log } = capturedLogger();
    const labeler = track(labelerFor(api, log));
    labeler.set(REPLICA);
    await until('the first request', () => api.seen.length === 1);
    labeler.set({ role: null });
    labeler.set({ role: 'demoted' });
    labeler.set(PRIMARY);
    release();
    await labeler.idle();
    expect(api.seen.map((s) => s.body)).toEqual([
      { metadata: { labels: { role: 'replica' } } },
      { metadata: { labels: { role: 'primary' } } },
    ]);
  });

  it('API down: set() returns at once, attempts back off, and the label lands once the API is back', async () => {
    const api = new FakeApi();
    apis.push(api);
    // a port with nobody listening (connection refused), then 503s, then success
    await api.start();
    const port = api.port;
    await api.stop();
    const { log, lines } = capturedLogger();
    const labeler = track(labelerFor(api, log, api.target({ baseUrl: new URL(`http://127.0.0.1:${port}`) })));

    const t0 = performance.now();
    const returned = labeler.set(PRIMARY);
    expect(returned).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(20);

    // the event loop stays free meanwhile: timers fire on time while the API is down
    const lagsMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const at = performance.now();
      await new Promise((r) => setTimeout(r, 10));
      lagsMs.push(performance.now() - at - 10);
    }
    expect(Math.max(...lagsMs)).toBeLessThan(50);
    const refusedWarnings = lines.filter(
      (l) => l.msg === 'Kubernetes API unavailable; pod labels not updated, retrying',
    );
    expect(refusedWarnings).toHaveLength(1); // once per wanted value, not per attempt
    expect(lines.some((l) => l.level === 20 && l.msg === 'pod labels not updated yet')).toBe(true);

    api.reply = (_req, res, n) =>
      n <= 2 ? json(res, 503, { message: 'etcdserver: leader changed' }) : json(res, 200, {});
    await api.start(port);
    await until('the label', () => labeler.appliedKey === labelsKey(PRIMARY));
    expect(api.seen).toHaveLength(3);
    const updated = lines.find((l) => l.msg === 'pod labels updated');
    expect(updated?.failedAttempts).toBeGreaterThanOrEqual(3);
    expect(lines.filter((l) => Number(l.level) >= 40)).toHaveLength(1); // the one warning
  });

  it('retries with exponential backoff, capped', async () => {
    const api = await fakeApi();
    api.reply = (_req, res, n) => (n <= 4 ? json(res, 503, {}) : json(res, 200, {}));
    const { log } = capturedLogger();
    const labeler = track(labelerFor(api, log)); // 40 ms, doubling, at most 160 ms
    labeler.set(PRIMARY);
    await until('the label', () => labeler.appliedKey === labelsKey(PRIMARY));
    const at = api.seen.map((s) => s.atMs);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps).toHaveLength(4);
    expect(gaps[0]).toBeGreaterThanOrEqual(38);
    expect(gaps[1]).toBeGreaterThanOrEqual(78);
    expect(gaps[2]).toBeGreaterThanOrEqual(158);
    expect(gaps[3]).toBeGreaterThanOrEqual(158);
    expect(gaps[3]).toBeLessThan(gaps[2]! * 1.5); // capped
  });

  it('a hung API server: each attempt times out and is retried, the caller never waits', async () => {
    const api = await fakeApi();
    api.reply = (_req, res, n) => {
      if (n >= 3) json(res, 200, {});
      // else: never answer
    };
    const { log } = capturedLogger();
    const labeler = track(labelerFor(api, log, api.target({ requestTimeoutMs: 100 })));
    const t0 = performance.now();
    labeler.set(PRIMARY);
    expect(performance.now() - t0).toBeLessThan(20);
    await until('the label', () => labeler.appliedKey === labelsKey(PRIMARY));
    expect(api.seen).toHaveLength(3);
  });

  it('a new role cuts a backoff wait short', async () => {
    const api = await fakeApi();
    api.reply = (_req, res, n) => (n === 1 ? json(res, 503, {}) : json(res, 200, {}));
    const { log } = capturedLogger();
    const labeler = new PodLabeler({
      patch: (labels, signal) => patchPodLabels(api.target(), POD, labels, signal),
      log,
      pod: 'hapg/hapg-0',
      backoffInitialMs: 60_000,
    });
    track(labeler);
    labeler.set(REPLICA);
    await until('the first attempt', () => api.seen.length === 1);
    labeler.set(PRIMARY);
    await until('the label', () => labeler.appliedKey === labelsKey(PRIMARY), 2_000);
    expect(api.seen.map((s) => s.body)).toEqual([
      { metadata: { labels: { role: 'replica' } } },
      { metadata: { labels: { role: 'primary' } } },
    ]);
  });

  it('403 is logged clearly, once per change, and retried (a fixed Role applies)', async () => {
    const api = await fakeApi();
    let allowed = false;
    api.reply = (_req, res) => (allowed ? json(res, 200, {}) : forbidden(res));
    const { log, lines } = capturedLogger();
    const labeler = track(labelerFor(api, log));
    labeler.set(PRIMARY);
    await until('several attempts', () => api.seen.length >= 4);
    const errors = () => lines.filter((l) => l.level === 50);
    expect(errors()).toHaveLength(1);
    const e = errors()[0]!;
    expect(e.msg).toBe(
      'Kubernetes API refused to patch pod hapg/hapg-0 (403 Forbidden): the service account needs "patch" on this pod (a Role like deploy/kubernetes/rbac.yaml); the role label stays stale until then, retrying',
    );
    expect(e.err).toContain('cannot patch resource "pods"');
    expect(e).toMatchObject({ status: 403, pod: 'hapg/hapg-0', labels: { role: 'primary' } });

    labeler.set(REPLICA); // a change: logged again, once
    const before = api.seen.length;
    await until('more attempts', () => api.seen.length >= before + 3);
    expect(errors()).toHaveLength(2);
    expect(errors()[1]!.labels).toEqual({ role: 'replica' });

    allowed = true;
    await until('the label', () => labeler.appliedKey === labelsKey(REPLICA));
    expect(errors()).toHaveLength(2);
  });

  it('404: the member name is not the pod name', async () => {
    const api = await fakeApi();
    api.reply = (_req, res) => json(res, 404, { message: 'pods "hapg-0" not found' });
    const { log, lines } = capturedLogger();
    const labeler = track(labelerFor(api, log));
    labeler.set(PRIMARY);
    await until('two attempts', () => api.seen.length >= 2);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toContain("must be the pod's name");
  });

  it('close() aborts a request in flight and sends nothing more', async () => {
    const api = await fakeApi();
    api.reply = () => {}; // hang
    const { log } = capturedLogger();
    const labeler = labelerFor(api, log);
    labeler.set(PRIMARY);
    await until('the request', () => api.seen.length === 1);
    labeler.close();
    await labeler.idle();
    labeler.set(REPLICA);
    await new Promise((r) => setTimeout(r, 100));
    expect(api.seen).toHaveLength(1);
    expect(labeler.appliedKey).toBeNull();
  });
});

const openssl = spawnSync('openssl', ['version']).status === 0;
/** a self-signed certificate for 127.0.0.1 (EC: quicker than RSA) */
const KEYGEN = [
  'req',
  '-x509',
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:prime256v1',
  '-nodes',
  '-days',
  '1',
];

describe.runIf(openssl)('startRoleLabels over HTTPS with the service account CA and token', () => {
  let dir = '';
  let api: FakeApi | null = null;
  afterEach(async () => {
    await api?.stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('labels the pod from snapshots, and removes the role label at close', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hapg-k8s-tls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'ca.crt');
    const made = spawnSync(
      'openssl',
      [...KEYGEN, '-keyout', key, '-out', cert].concat([
        '-subj',
        '/CN=kubernetes',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ]),
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    writeFileSync(join(dir, 'token'), 'projected-token\n');
    writeFileSync(join(dir, 'namespace'), 'hapg\n');
    api = new FakeApi();
    await api.start(0, createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }));

    const { log, lines } = capturedLogger();
    const roleLabels = startRoleLabels({
      config: { name: 'hapg-0', kubernetes: K8S },
      log,
      env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) },
      serviceAccountDir: dir,
    });
    expect(roleLabels).not.toBeNull();
    // every loop publishes a snapshot; only the first with this role is sent
    for (let i = 0; i < 5; i++) roleLabels!.observe(snapshots.primaryHealthy);
    await until('the PATCH', () => api!.seen.length === 1);
    await roleLabels!.close(2_000);
    expect(api.seen.map((s) => [s.url, s.authorization, s.body])).toEqual([
      [
        '/api/v1/namespaces/hapg/pods/hapg-0',
        'Bearer projected-token',
        { metadata: { labels: { role: 'primary' } } },
      ],
      [
        '/api/v1/namespaces/hapg/pods/hapg-0',
        'Bearer projected-token',
        { metadata: { labels: { role: null } } },
      ],
    ]);
    expect(lines.filter((l) => l.msg === 'pod labels updated')).toHaveLength(2);
    expect(lines.every((l) => l.component === 'kubernetes')).toBe(true);
  });

  it('refuses a server its CA did not sign', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hapg-k8s-tls-'));
    const mk = (name: string) =>
      spawnSync(
        'openssl',
        [...KEYGEN, '-keyout', join(dir, `${name}.key`)].concat([
          '-out',
          join(dir, `${name}.crt`),
          '-subj',
          `/CN=${name}`,
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ]),
      );
    expect(mk('server').status).toBe(0);
    expect(mk('other').status).toBe(0);
    api = new FakeApi();
    await api.start(
      0,
      createHttpsServer({
        key: readFileSync(join(dir, 'server.key')),
        cert: readFileSync(join(dir, 'server.crt')),
      }),
    );
    const target = api.target({
      baseUrl: new URL(`https://127.0.0.1:${api.port}`),
      ca: readFileSync(join(dir, 'other.crt')),
    });
    await expect(patchPodLabels(target, POD, PRIMARY, new AbortController().signal)).rejects.toThrow(
      /self.signed|unable to verify|certificate/i,
    );
    expect(api.seen).toHaveLength(0);
  });
});

describe('startRoleLabels', () => {
  it('outside a pod: null, with the reason logged as an error', () => {
    const { log, lines } = capturedLogger();
    expect(startRoleLabels({ config: { name: 'hapg-0', kubernetes: K8S }, log, env: {} })).toBeNull();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, component: 'kubernetes' });
    expect(String(lines[0]!.reason)).toContain('KUBERNETES_SERVICE_HOST');
  });
});
