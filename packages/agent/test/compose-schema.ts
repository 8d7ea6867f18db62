import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';

/**
 * The Compose Specification's JSON schema (compose-spec.json), as dclint ships it in its npm
 * package (a dev dependency: no network at test time), compiled with ajv.
 */
const require = createRequire(import.meta.url);
export const COMPOSE_SCHEMA_PATH = join(
  dirname(require.resolve('dclint/package.json')),
  'schemas/compose.schema.json',
);

export function composeValidator(): ValidateFunction {
  const schema = JSON.parse(readFileSync(COMPOSE_SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
  // it names draft-07 as `https://json-schema.org/draft-07/schema`, which is not the meta-schema's
  // id (`http://json-schema.org/draft-07/schema#`); draft-07 is ajv's default anyway
  if (schema.$schema !== 'https://json-schema.org/draft-07/schema')
    throw new Error(`unexpected $schema ${schema.$schema}`);
  delete schema.$schema;
  // strict: an unknown keyword or format in the schema would be an error, not silently passed
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
  return ajv.compile(schema);
}
