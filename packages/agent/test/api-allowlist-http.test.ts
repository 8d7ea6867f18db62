import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { type AllowListConfig, configuredAllowList } from '../src/api/allowlist.js';
import { apiRig, UNSAFE_ENDPOINTS } from './api-rig.js';
import { member, viewOf, withMembers } from './cluster-ops-fixtures.js';

/**
 * `restapi.allowlist` over real sockets: the API listens on 127.0.0.1 and the requests come from
 * other loopback addresses (Linux accepts any 127/8 source), so the peer address the check sees
 * is the kernel's, not inject()'s fixed 127.0.0.1.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const UNSAFE = UNSAFE_ENDPOINTS;
const SAFE = ['/patroni', '/primary', '/health', '/cluster', '/config', '/metrics', '/liveness'];

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

const silent = { error: () => {}, warn: () => {} };

/** An API over the fake store, listening on 127.0.0.1:<any port>, its allow-list from `config()`. */
async function listening(config: () => AllowListConfig, members: string[] = []) {
  // the members' view for the allow-list: only the given api_urls (the rig's own view has
  // node1..node3 on 127.0.0.1, for the endpoints behind the check)
  const peers = members.map((url, i) => member(`peer${i}`, { apiUrl: url }));
  const view = withMembers({ ...viewOf(), members: new Map() }, ...peers);
  const { app } = apiRig({
    extra: {
      // as main.ts passes it: the running config's keys, the members from the store's view
      allowlist: configuredAllowList({
        config,
        memberApiUrls: () => [...view.members.values()].map((m) => m.apiUrl),
        log: silent,
        resolve: async (host) => {
          if (host === 'peer.example') return ['127.0.0.5'];
          throw new Error(`ENOTFOUND ${host}`);
        },
      }),
    },
  });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
}

function call(port: number, from: string, method: Method, path: string, body?: unknown) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        localAddress: from,
        agent: false,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const only = (allowlist: string[], allowlistIncludeMembers = false) => {
  const c: AllowListConfig = { allowlist, allowlistIncludeMembers };
  return () => c;
};

describe('restapi.allowlist over HTTP', () => {
  it('a peer outside the list: 403 with a reason on every unsafe endpoint; GETs answered', async () => {
    const port = await listening(only(['127.0.0.1']));
    for (const [method, path, body] of UNSAFE) {
      const r = await call(port, '127.0.0.2', method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(JSON.parse(r.body), `${method} ${path}`).toEqual({
        error: '127.0.0.2 is not in restapi.allowlist',
      });
    }
    for (const path of SAFE) {
      const r = await call(port, '127.0.0.2', 'GET', path);
      expect(r.status, `GET ${path}`).not.toBe(403);
      expect(r.status, `GET ${path}`).toBeLessThan(500);
    }
  });

  it('the listed address (or its block) passes every unsafe endpoint', async () => {
    for (const list of [['127.0.0.2'], ['127.0.0.0/30'], ['10.0.0.0/8', '127.0.0.2/32']]) {
      const port = await listening(only(list));
      for (const [method, path, body] of UNSAFE) {
        const r = await call(port, '127.0.0.2', method, path, body);
        expect(r.status, `${list}: ${method} ${path}`).not.toBe(403);
        expect(r.status, `${list}: ${method} ${path}`).not.toBe(415);
      }
      expect((await call(port, '127.0.0.4', 'POST', '/reload')).status).toBe(403);
    }
  });

  it('a host name in the list is resolved for each request', async () => {
    const port = await listening(only(['peer.example', 'unknown.example']));
    expect((await call(port, '127.0.0.5', 'POST', '/reload')).status).toBe(202);
    expect((await call(port, '127.0.0.2', 'POST', '/reload')).status).toBe(403);
  });

  it('allowlist_include_members: the members’ api_url hosts pass, others get 403', async () => {
    const port = await listening(only(['127.0.0.1'], true), [
      'http://127.0.0.3:8008/patroni',
      'https://peer.example:8443',
      'not a url',
    ]);
    const reload = (from: string) => call(port, from, 'POST', '/reload');
    expect((await reload('127.0.0.3')).status).toBe(202);
    expect((await reload('127.0.0.5')).status).toBe(202);
    expect((await reload('127.0.0.1')).status).toBe(202);
    const refused = await reload('127.0.0.2');
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error).toMatch(
      /^127\.0\.0\.2 is not in restapi\.allowlist nor a member's api_url host/,
    );
    for (const [method, path, body] of UNSAFE) {
      const r = await call(port, '127.0.0.3', method, path, body);
      expect(r.status, `member: ${method} ${path}`).not.toBe(403);
    }
  });

  it('members only (no list): only members pass; neither key: every peer passes', async () => {
    const port = await listening(only([], true), ['http://127.0.0.3:8008/patroni']);
    expect((await call(port, '127.0.0.3', 'POST', '/reload')).status).toBe(202);
    expect((await call(port, '127.0.0.1', 'POST', '/reload')).status).toBe(403);
    const open = await listening(only([]));
    expect((await call(open, '127.0.0.2', 'POST', '/reload')).status).toBe(202);
  });

  it('a reloaded config applies to the next request', async () => {
    let current: AllowListConfig = { allowlist: ['127.0.0.1'], allowlistIncludeMembers: false };
    const port = await listening(() => current);
    expect((await call(port, '127.0.0.2', 'POST', '/reload')).status).toBe(403);
    current = { allowlist: ['127.0.0.2'], allowlistIncludeMembers: false };
    expect((await call(port, '127.0.0.2', 'POST', '/reload')).status).toBe(202);
    current = { allowlist: [], allowlistIncludeMembers: false };
    expect((await call(port, '127.0.0.9', 'POST', '/reload')).status).toBe(202);
  });
});
