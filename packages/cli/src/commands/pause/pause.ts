import { type ClusterView, mergeDynamicConfig } from '@hapg/core';
import { clusterConfigOf } from '../../actions/cluster-config.js';
import type { ActionDeps } from '../../actions/deps.js';
import { writeConfig } from '../../actions/write-config.js';
import { CliError } from '../../errors.js';
import { renderData } from '../../output/index.js';

export interface PauseOptions {
  /** true: pause, false: resume */
  readonly pause: boolean;
  /** wait until every member reports the new state in its member key */
  readonly wait: boolean;
  readonly waitTimeoutMs: number;
  readonly pollIntervalMs: number;
}

export const DEFAULT_PAUSE_WAIT = { waitTimeoutMs: 120_000, pollIntervalMs: 1000 };

/** Members whose key does not yet show the wanted pause state. Pure. */
export function membersNotYet(view: ClusterView, pause: boolean): string[] {
  return [...view.members.values()]
    .filter((m) => (m.raw.pause === true) !== pause)
    .map((m) => m.name)
    .sort();
}

/** `PATCH /config {"pause": true|null}` on the leader (or CAS), then maybe wait for the members. */
export async function runPause(deps: ActionDeps, opts: PauseOptions): Promise<number> {
  const view = await deps.store.readView();
  const paused = clusterConfigOf(view).pause;
  if (paused === opts.pause)
    throw new CliError(`cluster ${view.scope} is already ${opts.pause ? 'paused' : 'not paused'}`);
  const patch = { pause: opts.pause ? true : null };
  await writeConfig(deps, view, {
    method: 'PATCH',
    body: patch,
    result: mergeDynamicConfig(view.config?.value ?? {}, patch),
  });
  const text = opts.pause
    ? 'maintenance mode on: the agents take no automatic action'
    : 'maintenance mode off';
  if (opts.wait) await waitForMembers(deps, opts);
  deps.io.out(deps.format === 'table' ? `${text}\n` : renderData(deps.format, { pause: opts.pause }));
  return 0;
}

async function waitForMembers(deps: ActionDeps, opts: PauseOptions): Promise<void> {
  const startMs = deps.clock.monotonicMs();
  const write = deps.format === 'table' ? deps.io.out : deps.io.err;
  for (;;) {
    const missing = membersNotYet(await deps.store.readView(), opts.pause);
    if (missing.length === 0) return;
    const elapsedMs = deps.clock.monotonicMs() - startMs;
    if (elapsedMs >= opts.waitTimeoutMs || deps.signal.aborted) {
      throw new CliError(
        `not every member reports the change after ${Math.floor(elapsedMs / 1000)} s: ${missing.join(', ')}`,
      );
    }
    write(`waiting for ${missing.join(', ')} (${Math.floor(elapsedMs / 1000)} s)\n`);
    await deps.sleep(opts.pollIntervalMs, deps.signal);
  }
}
