import type { z } from 'zod';
import { didYouMean } from './did-you-mean.js';
import { type KeyPattern, knownKeysAt } from './keys.js';
import type { ConfigPath, ConfigProblem } from './problems.js';
import { describeValue } from './secrets.js';

/**
 * Zod issues carry our messages (`expected <what>`, see fields.ts) and, when
 * parsed with `reportInput: true`, the value they refused: the value is shown
 * here, where its full path is known, so that a secret never is.
 */
export function issueProblems(error: z.ZodError, basePath: ConfigPath = []): ConfigProblem[] {
  return error.issues.map((iss) => {
    const path = [...basePath, ...iss.path.map((seg) => (typeof seg === 'number' ? seg : String(seg)))];
    const got = iss.input === undefined ? '' : `, got ${describeValue(iss.input, path)}`;
    return { path, message: `${iss.message}${got}` };
  });
}

/**
 * `unknown key; did you mean "data_dir"?` — the suggestion comes from the keys known there:
 * those the schema names, and the accepted-but-ignored ones (`notImplemented`).
 */
export function unknownKeyMessage(
  schema: z.ZodType,
  path: ConfigPath,
  notImplemented: readonly KeyPattern[] = [],
): string {
  const key = String(path[path.length - 1]);
  const suggestion = didYouMean(key, knownKeysAt(schema, path.slice(0, -1), notImplemented));
  return suggestion === null ? 'unknown key' : `unknown key; did you mean "${suggestion}"?`;
}
