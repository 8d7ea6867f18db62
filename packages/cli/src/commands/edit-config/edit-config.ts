import {
  assertParameterWrite,
  errorText,
  isHapgError,
  mergeDynamicConfig,
  parseDynamicConfig,
} from '@hapg/core';
import { stringify } from 'yaml';
import { confirmOrRefuse } from '../../actions/confirm.js';
import type { ActionDeps } from '../../actions/deps.js';
import { type ConfigWrite, writeConfig } from '../../actions/write-config.js';
import { CliError } from '../../errors.js';
import { renderData } from '../../output/index.js';
import { unifiedDiff } from './diff.js';
import type { EditText } from './editor.js';
import { parseConfigYaml, type Setting, settingsPatch } from './settings.js';

/** Where the change comes from; exactly one kind is used. */
export type ConfigChange =
  /** `-s`/`-p`/`--apply`: a merge patch (PATCH) */
  | { readonly kind: 'patch'; readonly applyText: string | null; readonly settings: readonly Setting[] }
  /** `--replace FILE`: the whole config (PUT) */
  | { readonly kind: 'replace'; readonly text: string }
  /** no flag: the editor, whose result is the whole config (PUT) */
  | { readonly kind: 'editor' };

export interface EditConfigOptions {
  readonly change: ConfigChange;
  readonly force: boolean;
}

const yamlOf = (v: Record<string, unknown>) =>
  Object.keys(v).length === 0 ? '' : stringify(v, { sortMapEntries: true });

/** The write the change asks for, against the current config. Pure. */
export async function planConfigWrite(
  before: Record<string, unknown>,
  change: ConfigChange,
  editText: EditText,
): Promise<ConfigWrite> {
  if (change.kind === 'replace') {
    const result = parseConfigYaml(change.text, '--replace');
    return { method: 'PUT', body: result, result };
  }
  if (change.kind === 'editor') {
    const result = parseConfigYaml(await editText(yamlOf(before)), 'edited config');
    return { method: 'PUT', body: result, result };
  }
  const applied = change.applyText === null ? {} : parseConfigYaml(change.applyText, '--apply');
  const patch = settingsPatch(change.settings, applied);
  return { method: 'PATCH', body: patch, result: mergeDynamicConfig(before, patch) };
}

/**
 * Throws a CliError with every problem when the agents would reject `config`, which replaces
 * `before` (the stored config): parameters are checked as the REST gateway checks them, except
 * whether a name exists, which the agent taking the write checks against its server.
 */
export function validateConfig(config: Record<string, unknown>, before: Record<string, unknown> = {}): void {
  try {
    parseDynamicConfig(config, { source: 'new config' });
    assertParameterWrite(config, before, null, 'new config');
  } catch (e) {
    if (isHapgError(e, 'CONFIG_INVALID'))
      throw new CliError(`invalid config, nothing written: ${errorText(e)}`);
    throw e;
  }
}

/**
 * edit-config: compute the new config, validate it as the agents will, show
 * the diff, ask (unless --force), write through the leader or with CAS.
 */
export async function runEditConfig(
  deps: ActionDeps & { readonly editText: EditText },
  opts: EditConfigOptions,
): Promise<number> {
  const view = await deps.store.readView();
  const before = view.config?.value ?? {};
  const write = await planConfigWrite(before, opts.change, deps.editText);
  validateConfig(write.result, before);
  const diff = unifiedDiff(yamlOf(before), yamlOf(write.result), {
    from: 'before editing',
    to: 'after editing',
  });
  if (diff === '') {
    deps.io.out(deps.format === 'table' ? 'no changes\n' : renderData(deps.format, { changed: false }));
    return 0;
  }
  // the diff is what the person confirms: on stdout for a table, stderr when stdout is data
  (deps.format === 'table' ? deps.io.out : deps.io.err)(diff);
  await confirmOrRefuse(deps.prompt, 'Apply these changes?', opts.force);
  const via = await writeConfig(deps, view, write);
  deps.io.out(
    deps.format === 'table'
      ? `config changed${via === 'etcd' ? ' (written to etcd directly)' : ''}\n`
      : renderData(deps.format, { changed: true, config: write.result }),
  );
  return 0;
}
