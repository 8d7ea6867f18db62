import type { KnownParameters } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { viewOf } from './cluster-ops-fixtures.js';
import { apiRig, sendJson } from './api-rig.js';

const STORED = { ttl: 30, loop_wait: 10, postgresql: { parameters: { work_mem: '4MB' } } };

function api(opts: { stored?: Record<string, unknown>; known?: KnownParameters | null } = {}) {
  const known = opts.known ?? null;
  return apiRig({
    view: viewOf({ config: { value: opts.stored ?? STORED, modRevision: '1' } }),
    clusterOps: { knownParameters: () => known },
  });
}

const send = (app: ReturnType<typeof api>['app'], method: 'PATCH' | 'PUT', body: unknown) =>
  sendJson(app, method, '/config', body);

const params = (p: Record<string, unknown>) => ({ postgresql: { parameters: p } });

describe('PATCH/PUT /config: Postgres parameters are validated before anything is stored', () => {
  it('defect 1: a newline in a value is a 400 naming the key, and nothing is stored', async () => {
    const { app, store } = api();
    const r = await send(app, 'PATCH', params({ work_mem: '8MB\nfsync = off' }));
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({
      code: 'CONFIG_INVALID',
      error:
        'PATCH /config: postgresql.parameters.work_mem: value contains the control character U+000A at offset 3; postgresql.conf cannot hold newlines, tabs or other control characters in a value',
    });
    expect(store.writes).toEqual([]);
    expect(store.current.config?.value).toEqual(STORED);
  });

  it.each([
    ['port', 5433, 'port: managed by hapg; set postgresql.listen instead'],
    ['data_directory', '/tmp/elsewhere', 'data_directory: managed by hapg; set postgresql.data_dir instead'],
    ['hba_file', '/tmp/hba', 'hba_file: managed by hapg; hapg writes pg_hba.conf'],
    ['primary_conninfo', 'host=evil', 'primary_conninfo: managed by hapg'],
    ['recovery_target_action', 'promote', 'recovery_target_action: managed by hapg'],
    ['bad name; x', 1, '"bad name; x" is not a parameter name'],
    ['no_such_parameter', 1, 'no_such_parameter: unknown parameter (not in PostgreSQL 15)'],
    ['wrok_mem', '8MB', 'wrok_mem: unknown parameter (not in PostgreSQL 15); did you mean "work_mem"?'],
  ])('defect 2: %s is a 400 with the reason; nothing is stored', async (name, value, reason) => {
    const { app, store } = api();
    for (const method of ['PATCH', 'PUT'] as const) {
      const r = await send(app, method, {
        ...(method === 'PUT' ? STORED : {}),
        ...params({ [name]: value }),
      });
      expect(r.statusCode, method).toBe(400);
      expect(r.json().error, method).toContain(reason);
    }
    expect(store.writes).toEqual([]);
  });

  it('a valid change is stored; extension placeholders need no list', async () => {
    const { app, store } = api();
    const r = await send(app, 'PATCH', params({ work_mem: '8MB', 'pg_stat_statements.max': 500 }));
    expect(r.statusCode).toBe(200);
    expect(store.current.config?.value).toEqual({
      ...STORED,
      postgresql: { parameters: { work_mem: '8MB', 'pg_stat_statements.max': 500 } },
    });
  });

  it("on an agent whose server runs, names are checked against that server's pg_settings", async () => {
    const known = { names: new Set(['work_mem', 'summarize_wal']), source: "the server's pg_settings" };
    const { app } = api({ known });
    expect((await send(app, 'PATCH', params({ summarize_wal: 'on' }))).statusCode).toBe(200);
    const r = await send(app, 'PATCH', params({ shared_buffers: '1GB' }));
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toContain("shared_buffers: unknown parameter (not in the server's pg_settings)");
  });

  it('a bad parameter already stored (by another tool) does not block an unrelated change, and can be removed', async () => {
    const stored = { ...STORED, postgresql: { parameters: { work_mem: '4MB', port: 5433 } } };
    const { app, store } = api({ stored });
    const ttl = await send(app, 'PATCH', { ttl: 40 });
    expect(ttl.statusCode).toBe(200);
    const cleared = await send(app, 'PATCH', params({ port: null }));
    expect(cleared.statusCode).toBe(200);
    expect(store.current.config?.value).toEqual({ ...STORED, ttl: 40 });
  });
});
