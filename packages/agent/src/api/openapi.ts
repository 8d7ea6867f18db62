import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { VERSION } from '../version.js';

/**
 * Status codes each action endpoint answers, for the OpenAPI document only.
 * They are not fastify `response` schemas on purpose: those would make
 * fastify serialise replies through them and drop undeclared fields.
 */
const ACTION_RESPONSES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'POST /switchover': {
    200: 'done: the candidate leads and runs as primary',
    202: 'scheduled, or still in progress after ttl + 2*loop_wait ({"status": "in progress"})',
    400: 'malformed request (the reason names the field)',
    412: 'not possible now (reason and code in the body)',
    503: 'etcd could not be written, or the switch failed',
  },
  'POST /failover': {
    200: 'done',
    202: 'still in progress',
    400: 'malformed request',
    412: 'not possible now',
    503: 'etcd could not be written',
  },
  'DELETE /switchover': {
    200: 'deleted: a pending request, or a malformed failover key',
    404: 'none scheduled',
    409: 'changed meanwhile',
  },
  'POST /restart': {
    200: 'restarted',
    202: 'scheduled',
    400: 'bad filter',
    409: 'a restart is already scheduled',
    503: 'failed',
  },
  'DELETE /restart': { 200: 'deleted', 404: 'none scheduled' },
  'POST /reload': { 202: 'reload scheduled' },
  'POST /reinitialize': { 200: 'started', 503: 'refused (e.g. on the leader)' },
  'PATCH /config': {
    200: 'the new config',
    400: 'result invalid',
    409: 'CAS conflict',
    412: 'the stored config is malformed: replace it with PUT',
  },
  'PUT /config': {
    200: 'the new config (a malformed stored one is replaced)',
    400: 'invalid',
    409: 'CAS conflict',
  },
};

const AUTH_RESPONSES = {
  401: 'basic auth required',
  403: 'not in restapi.allowlist, or no verified client certificate',
};

/** Registers @fastify/swagger; must run before any route is added (it collects them as they are). */
export function registerOpenApi(app: FastifyInstance): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'hapg REST API',
        version: VERSION,
        description: 'Patroni-compatible health checks and actions. See docs/rest-api.md.',
      },
    },
    transform: ({ schema, url, route }) => {
      const methods = [route.method].flat();
      const key = `${methods[0]} ${url}`;
      const codes = ACTION_RESPONSES[key];
      if (codes === undefined) return { schema, url };
      const response = Object.fromEntries(
        Object.entries({ ...codes, ...AUTH_RESPONSES }).map(([code, description]) => [code, { description }]),
      );
      return { schema: { ...schema, response } as FastifySchema, url };
    },
  });
  app.get('/openapi.json', { schema: { hide: true } as FastifySchema }, async (_req, reply) =>
    reply.send(app.swagger()),
  );
}
