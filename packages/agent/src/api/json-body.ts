import type { FastifyInstance } from 'fastify';

/**
 * Every request body is read as JSON, whatever its `Content-Type` says — missing,
 * `text/plain`, `application/x-www-form-urlencoded`, a malformed header — as Patroni's API
 * does (`_read_json_content` never looks at the header). Debian's `patronictl` 3.0.2 sends
 * its JSON bodies without a `Content-Type`; fastify's default parsers answered those
 * `415 Unsupported Media Type` (stack notes #21).
 *
 * - The header is dropped before fastify picks a parser (`onRequest`), so one parser reads
 *   every body; an unparsable header can no longer turn a request into a 415.
 * - An empty body is no body (`undefined`): the optional-body endpoints (`/restart`,
 *   `/reinitialize`) read it as `{}`, as Patroni does for `Content-Length: 0`; the others'
 *   schemas refuse it (400).
 * - A body that is not JSON, or that carries a `__proto__` / `constructor.prototype` key,
 *   answers 400 with the reason; the size limit (`bodyLimit`, 1 MiB) answers 413 as before.
 */
export function acceptJsonWhateverContentType(app: FastifyInstance): void {
  // fastify's own JSON parser: secure-json-parse, refusing prototype poisoning
  const secureParse = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    secureParse(req, text, (err, value) => {
      if (err === null || err === undefined) {
        done(null, value);
        return;
      }
      done(badBody(notJsonReason(text)), undefined);
    });
  });
  app.addHook('onRequest', async (req) => {
    delete req.headers['content-type'];
  });
}

/** Why secure-json-parse refused `text`: a syntax error, or a poisoning key in valid JSON. */
function notJsonReason(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return `body is not JSON: ${e instanceof Error ? e.message : String(e)}`;
  }
  return 'body has a __proto__ or constructor.prototype key';
}

function badBody(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400, code: 'BAD_REQUEST' });
}
