/**
 * Reading a node's config file: the file system part of loading it. Parsing and validation are
 * core's (`parseNodeConfigBytes`), pure and tested without files.
 */
import { readFileSync } from 'node:fs';
import { errorText, HapgError, type LoadedNodeConfig, parseNodeConfigBytes } from '@hapg/core';

/**
 * Reads, parses and validates a node's YAML config; env overrides from `env`.
 * A file that cannot be read is CONFIG_UNREADABLE; a bad one CONFIG_INVALID, listing every problem.
 */
export function loadNodeConfigFile(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LoadedNodeConfig {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new HapgError('CONFIG_UNREADABLE', `${path}: ${errorText(e)}`, { cause: e });
  }
  return parseNodeConfigBytes(bytes, { fileName: path, env });
}
