import {
  type ClusterView,
  type DynamicConfig,
  errorText,
  malformedKey,
  parseDynamicConfig,
} from '@hapg/core';
import type { Logger } from './logger.js';

/**
 * The dynamic config the loop runs with, read from each view's `config`
 * key. Its problems (invalid: the previous config is kept; unknown or
 * not-implemented keys) are logged once per content of the key, i.e. per
 * mod revision, not on every loop: the loop reads the key every `loop_wait`.
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
    const key = view?.config ?? null;
    if (key === null) {
      // Unparsable JSON in the config key (the view cache logs it): keep what we had.
      // (by kind: a member named "config" has a key ending in /config too)
      if (malformedKey(view, 'config') !== null) return previous ?? this.#bootstrap;
      this.#reportedRevision = null;
      return this.#bootstrap;
    }
    const first = this.#reportedRevision !== key.modRevision;
    this.#reportedRevision = key.modRevision;
    try {
      const parsed = parseDynamicConfig(key.value, { source: 'etcd config key' });
      if (first) for (const w of parsed.warnings) this.#log.warn({ modRevision: key.modRevision }, w);
      return parsed.config;
    } catch (e) {
      // an agent that starts while the key is invalid has nothing previous: it runs on its own
      // bootstrap.dcs (as its lease TTL does, main.ts), and says so rather than "previous"
      if (first)
        this.#log.warn(
          { err: errorText(e), modRevision: key.modRevision },
          previous === null
            ? 'invalid dynamic config in etcd: running on bootstrap.dcs until it is fixed'
            : 'invalid dynamic config in etcd: keeping the previous one',
        );
      return previous ?? this.#bootstrap;
    }
  }
}
