import type { FastifyPluginAsync } from 'fastify';
import type { AgentMetrics } from '../metrics.js';
import { clusterBody, historyBody, statusBody } from './bodies.js';
import type { FailsafeApi } from './failsafe-api.js';
import type { NodeSnapshot } from './snapshot.js';

export interface InfoRoutesOptions {
  readonly snapshot: () => NodeSnapshot;
  readonly metrics: AgentMetrics;
  readonly failsafe?: Pick<FailsafeApi, 'key'>;
}

/** Read-only information endpoints; HEAD answers the same code without a body. */
export const infoRoutes: FastifyPluginAsync<InfoRoutesOptions> = async (app, opts) => {
  const get = (url: string, body: () => { code: number; body: unknown }) =>
    app.route({
      method: ['GET', 'HEAD'],
      url,
      handler: async (req, reply) => {
        const answer = body();
        reply.code(answer.code);
        return req.method === 'GET' ? reply.send(answer.body) : reply.send();
      },
    });

  // Peers read this during an election, so it answers 200 whatever the node's state.
  get('/patroni', () => ({ code: 200, body: statusBody(opts.snapshot()) }));
  get('/cluster', () => ({ code: 200, body: clusterBody(opts.snapshot()) }));
  get('/history', () => ({ code: 200, body: historyBody(opts.snapshot()) }));
  // Patroni: the failsafe key as last read (or written), 502 when there is none
  get('/failsafe', () => {
    const key = opts.failsafe?.key() ?? null;
    return key === null ? { code: 502, body: { error: 'no failsafe key' } } : { code: 200, body: key };
  });
  get('/config', () => {
    const config = opts.snapshot().dynamicConfig;
    return config === null
      ? { code: 503, body: { error: 'no dynamic configuration read from etcd yet' } }
      : { code: 200, body: config };
  });

  app.route({
    method: ['GET', 'HEAD'],
    url: '/metrics',
    handler: async (req, reply) => {
      // Refresh from the current snapshot so a scrape never shows older state than the role endpoints.
      opts.metrics.observeSnapshot(opts.snapshot());
      const text = await opts.metrics.render();
      reply.code(200).header('Content-Type', opts.metrics.contentType);
      return req.method === 'GET' ? reply.send(text) : reply.send();
    },
  });
};
