import { type Observation, probesUseful, takeoverTarget } from '@hapg/core';
import type { TakeoverProbes } from './evidence.js';

/** How often a listed sync standby looks at its stream from the leader (docs/fast-failover.md). */
export const SILENCE_SAMPLE_MS = 250;
/** While the stream stays silent, the loop is woken again every this many samples (1 s). */
const REWAKE_SAMPLES = 4;

/**
 * Between two loops (`loop_wait` apart), a listed sync standby samples its walreceiver every
 * 250 ms while `takeoverTarget` holds for the last observation, and wakes the loop when it
 * finds the stream silent, then once a second while it stays so: the loop gathers the evidence
 * and decides (the lease's keepalives may need another second to show as missed). Without it a
 * leader's death would wait for the next loop. One local query per sample, nothing else while
 * the stream is live; no etcd request at all.
 */
export class SilenceWatch {
  #timer: NodeJS.Timeout | null = null;
  /** samples since the loop was last woken in this silent spell; null: not silent */
  #silentSamples: number | null = null;
  #busy = false;

  constructor(
    private readonly deps: {
      readonly lastObservation: () => Observation | null;
      readonly probes: Pick<TakeoverProbes, 'streamSilenceMs'>;
      readonly wake: (why: string) => void;
    },
  ) {}

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => void this.tick(), SILENCE_SAMPLE_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One sample (exported for tests). */
  async tick(): Promise<void> {
    if (this.#busy) return;
    const obs = this.deps.lastObservation();
    const target = obs === null ? null : takeoverTarget(obs);
    if (!probesUseful(target)) {
      this.#silentSamples = null;
      return;
    }
    this.#busy = true;
    try {
      const silenceMs = await this.deps.probes.streamSilenceMs();
      const silent = silenceMs === null || silenceMs >= target.config.streamSilenceMs;
      if (!silent) this.#silentSamples = null;
      else if (this.#silentSamples === null || this.#silentSamples >= REWAKE_SAMPLES - 1) {
        this.#silentSamples = 0;
        this.deps.wake(`our stream from sync leader ${target.leader.name} is silent`);
      } else this.#silentSamples++;
    } catch {
      // Postgres did not answer: the loop's own probe will say why
    } finally {
      this.#busy = false;
    }
  }
}
