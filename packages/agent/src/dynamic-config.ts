import { type ClusterView, type DynamicConfig, effectiveDynamicConfig } from '@hapg/core';
import type { Logger } from './logger.js';

/**
 * The dynamic config the loop runs with, read from each view's `config` key by core's one rule
 * (`effectiveDynamicConfig`: the key; none, bootstrap.dcs; invalid, the previous config). Its
 * problems (invalid: the previous config is kept; unknown or not-implemented keys) are logged
 * once per content of the key, i.e. per mod revision, not on every loop: the loop reads the key
 * every `loop_wait`.
 */
export class DynamicConfigReader {
  readonly #log: Pick<Logger, 'warn'>;
  readonly #bootstrap: DynamicConfig;
  /** mod revision of the config key whose problems were last logged */
  #reportedRevision: string | null = null;

  constructor(opts: { log: Pick<Logger, 'warn'>; bootstrap: DynamicConfig }) {
    this.#log = opts.log;
    this.#bootstrap = opts.bootstrap;
  }

  /** The config to run with; `previous` is kept when the key is unparsable or invalid (bootstrap.dcs before any). */
  read(view: ClusterView | null, previous: DynamicConfig | null): DynamicConfig {
    const e = effectiveDynamicConfig(view, previous, this.#bootstrap);
    // Unparsable JSON in the config key: the view cache logs it.
    if (e.problem?.kind === 'malformed') return e.config;
    const first = e.modRevision !== this.#reportedRevision;
    this.#reportedRevision = e.modRevision;
    if (!first || e.modRevision === null) return e.config;
    for (const w of e.warnings) this.#log.warn({ modRevision: e.modRevision }, w);
    if (e.problem !== null) {
      // an agent that starts while the key is invalid has nothing previous: it runs on its own
      // bootstrap.dcs (as its lease TTL does, main.ts), and says so rather than "previous"
      this.#log.warn(
        { err: e.problem.error, modRevision: e.modRevision },
        e.source === 'bootstrap'
          ? 'invalid dynamic config in etcd: running on bootstrap.dcs until it is fixed'
          : 'invalid dynamic config in etcd: keeping the previous one',
      );
    }
    return e.config;
  }
}
