/**
 * The one function of the config module that touches the file system;
 * everything else is pure and tested without files.
 */
import { readFileSync } from 'node:fs';
import { errorText, HapgError } from '../errors.js';
import { wideEncodingMessage, wideEncodingOf } from './encoding.js';
import { type LoadedNodeConfig, parseNodeConfig } from './node.js';

/**
 * Reads, parses and validates a node's YAML config; env overrides from `env`.
 * A file in UTF-16 or UTF-32 is refused with one line that quotes none of it.
 */
export function loadNodeConfigFile(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LoadedNodeConfig {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new HapgError('CONFIG_UNREADABLE', `${path}: ${errorText(e)}`, { cause: e });
  }
  const wide = wideEncodingOf(bytes);
  if (wide !== null) throw new HapgError('CONFIG_INVALID', `${path}: ${wideEncodingMessage(wide)}`);
  return parseNodeConfig(bytes.toString('utf8'), { fileName: path, env });
}
