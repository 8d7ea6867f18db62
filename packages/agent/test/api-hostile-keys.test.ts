import { describe, expect, it } from 'vitest';
import { apiRig, sendJson } from './api-rig.js';

/** Issue 11, item 5: malformed failover (and config) keys have an API way out. */

const api = () => apiRig();
const send = sendJson;

describe('a malformed failover key', () => {
  it('POST /switchover: 412 saying the key is malformed and how to clear it', async () => {
    const { app, store } = api();
    store.putMalformed('failover', 'invalid JSON: Unexpected end of JSON input');
    const r = await send(app, 'POST', '/switchover', { leader: 'node1', candidate: 'node2' });
    expect(r.statusCode).toBe(412);
    expect(r.json()).toEqual({
      code: 'FAILOVER_KEY_MALFORMED',
      error:
        'the failover key is malformed (invalid JSON: Unexpected end of JSON input) and blocks every switchover: clear it with DELETE /switchover (hactl flush --switchover)',
    });
    expect(store.writes).toEqual([]);
    // a bad request is still 400, whatever the key holds
    expect((await send(app, 'POST', '/switchover', { candidate: 'node2' })).statusCode).toBe(400);
  });

  it('POST /failover: the same 412', async () => {
    const { app, store } = api();
    store.putMalformed('failover');
    const r = await send(app, 'POST', '/failover', { candidate: 'node2' });
    expect(r.statusCode).toBe(412);
    expect(r.json().code).toBe('FAILOVER_KEY_MALFORMED');
  });

  it('DELETE /switchover clears it with CAS on its revision; then switchovers work again', async () => {
    const { app, store } = api();
    const rev = store.putMalformed('failover');
    const del = await send(app, 'DELETE', '/switchover');
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({
      status: 'deleted',
      message: 'malformed failover key deleted (invalid JSON)',
    });
    expect(store.writes).toEqual([{ key: 'failover', value: null, expected: rev }]);
    expect(store.current.malformed).toEqual([]);
    expect((await send(app, 'DELETE', '/switchover')).statusCode).toBe(404);
    const r = await send(app, 'POST', '/switchover', { leader: 'node1', candidate: 'node2' });
    expect(r.statusCode).toBe(202);
  });

  it('DELETE /switchover: 409 when the key changed between the read and the delete', async () => {
    const { app, store } = api();
    store.putMalformed('failover');
    store.beforeCas = null;
    const read = store.readView.bind(store);
    store.readView = async () => {
      const v = await read();
      store.putMalformed('failover', 'rewritten meanwhile');
      return v;
    };
    const r = await send(app, 'DELETE', '/switchover');
    expect(r.statusCode).toBe(409);
    expect(store.current.malformed.map((m) => m.error)).toEqual(['rewritten meanwhile']);
  });
});

describe('a malformed config key', () => {
  it('PATCH /config: 412 naming PUT as the way out; PUT /config replaces it with CAS', async () => {
    const { app, store } = api();
    const rev = store.putMalformed('config');
    const patch = await send(app, 'PATCH', '/config', { ttl: 20 });
    expect(patch.statusCode).toBe(412);
    expect(patch.json()).toEqual({
      code: 'CONFIG_KEY_MALFORMED',
      error:
        'the stored config is malformed (invalid JSON): there is nothing to merge into; replace it with PUT /config',
    });
    const put = await send(app, 'PUT', '/config', { ttl: 20, loop_wait: 5 });
    expect(put.statusCode).toBe(200);
    expect(store.writes).toEqual([{ key: 'config', value: { ttl: 20, loop_wait: 5 }, expected: rev }]);
    expect(store.current.config?.value).toEqual({ ttl: 20, loop_wait: 5 });
    expect((await send(app, 'PATCH', '/config', { ttl: 25 })).statusCode).toBe(200);
  });
});
