import {
  defaultDynamicConfig,
  HapgError,
  type NodeConfig,
  type PgConnectFailure,
  type PgObservation,
  parseNodeConfig,
} from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { statusBody } from '../src/api/bodies.js';
import { ConnectFailures } from '../src/connect-failures.js';
import type { Logger } from '../src/logger.js';
import { memberJson } from '../src/member.js';
import { buildSnapshot, memberState, nodeRole, statusReason } from '../src/snapshot-build.js';

/** A logger that keeps (level, message, fields) for assertions. */
function recordingLog(): { log: Logger; lines: [string, string, Record<string, unknown>][] } {
  const lines: [string, string, Record<string, unknown>][] = [];
  const at =
    (level: string) =>
    (obj: Record<string, unknown>, msg: string): void => {
      lines.push([level, msg, obj]);
    };
  const log = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  } as unknown as Logger;
  return { log, lines };
}

const HBA = 'connect to 127.0.0.2:5432: no pg_hba.conf entry for host "127.0.0.2", user "postgres" (28000)';
const rejected = new HapgError('PG_CONNECTION_REJECTED', HBA);
const notRunning = new HapgError(
  'PG_NOT_RUNNING',
  'connect to 127.0.0.2:5432: connect ECONNREFUSED 127.0.0.2:5432',
);

describe('ConnectFailures: the agent retries a refusing server with backoff, never silently', () => {
  it('backs off 1, 2, 4, 8, 16, 16 s after refusals and logs each with the server text', () => {
    const { log, lines } = recordingLog();
    const f = new ConnectFailures(log);
    let now = 10_000;
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      expect(f.due(now)).toBe(true);
      f.failed(rejected, 'primary', now);
      const start = now;
      while (!f.due(now)) now += 250;
      waits.push(now - start);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 16000]);
    expect(lines.map(([level, msg]) => `${level} ${msg}`)).toEqual(
      Array(6).fill('warn Postgres runs but refuses our connection'),
    );
    expect(lines[2]![2]).toMatchObject({ err: HBA, serverRole: 'primary', attempts: 3, retryInMs: 4000 });
    expect(f.current).toEqual({ kind: 'rejected', text: HBA, sinceMs: 10_000, serverRole: 'primary' });
  });

  it('retries a server that does not answer yet every loop, at debug, and starts over after a success', () => {
    const { log, lines } = recordingLog();
    const f = new ConnectFailures(log);
    f.failed(notRunning, null, 1_000);
    expect(f.due(1_000)).toBe(true);
    expect(f.current?.kind).toBe('no-answer');
    f.failed(rejected, 'primary', 2_000);
    expect(f.current?.sinceMs).toBe(2_000);
    f.succeeded();
    expect(f.current).toBeNull();
    expect(f.due(2_001)).toBe(true);
    expect(lines.map(([level, msg]) => `${level} ${msg}`)).toEqual([
      'debug probe failed',
      'warn Postgres runs but refuses our connection',
      'info connected to Postgres again',
    ]);
  });
});

const config: NodeConfig = parseNodeConfig('scope: s\nname: n1\npostgresql:\n  data_dir: /tmp/x\n', {
  fileName: 'n1.yaml',
  env: {},
}).config;

function unprobed(failure: PgConnectFailure | null): PgObservation {
  return {
    dataDir: 'initialized',
    systemId: '1',
    process: 'starting',
    crashedAtMs: null,
    inRecovery: null,
    wasPrimary: true,
    timeline: null,
    flushLsn: null,
    receiveLsn: null,
    replayLsn: null,
    following: null,
    streaming: false,
    streamingReplicas: [],
    rejoinFailure: null,
    connectFailure: failure,
  };
}

const refused: PgConnectFailure = { kind: 'rejected', text: HBA, sinceMs: 0, serverRole: 'primary' };
const REASON = `Postgres runs as a primary but refuses the agent's connection: ${HBA}`;

describe('a node whose Postgres refuses the agent says so', () => {
  const pg = unprobed(refused);
  const snap = buildSnapshot({
    version: '1.0',
    config,
    dyn: defaultDynamicConfig(),
    view: null,
    pg,
    status: null,
    decision: null,
    holdsLeaderKey: true,
    leaseDeadlineMs: null,
    dcsReachable: true,
    dcsLastSeenS: null,
    nowMonotonicMs: 0,
  });

  it('state unreachable (not running: nobody can vouch for it), the role from postmaster.pid', () => {
    expect(memberState(pg, null)).toBe('unreachable');
    expect(nodeRole(pg, true)).toBe('primary');
    expect(nodeRole(pg, false)).toBe('demoted');
    expect(nodeRole(unprobed({ ...refused, serverRole: 'standby' }), true)).toBe('replica');
  });

  it('status_reason carries the server text; a server merely not answering yet has none', () => {
    expect(statusReason(pg)).toBe(REASON);
    expect(statusReason(unprobed({ ...refused, kind: 'no-answer' }))).toBeNull();
    expect(memberState(unprobed({ ...refused, kind: 'no-answer' }), null)).toBe('starting');
    expect(statusReason(unprobed(null))).toBeNull();
  });

  it('in the member key and in GET /patroni', () => {
    expect(memberJson(config, pg, snap, '1.0')).toEqual({
      conn_url: 'postgres://127.0.0.1:5432/postgres',
      api_url: 'http://127.0.0.1:8008/patroni',
      state: 'unreachable',
      role: 'primary',
      version: '1.0',
      status_reason: REASON,
    });
    expect(statusBody(snap)).toMatchObject({ state: 'unreachable', role: 'primary', status_reason: REASON });
  });
});
