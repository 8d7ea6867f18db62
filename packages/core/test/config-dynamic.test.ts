import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DYNAMIC_CONFIG,
  defaultDynamicConfig,
  HapgError,
  mergeDynamicConfig,
  parseDynamicConfig,
  toDecideConfig,
  validateDynamicConfig,
} from '../src/index.js';

const SOURCE = { source: 'etcd /service/demo/config' };

function errorOf(json: unknown): string {
  try {
    parseDynamicConfig(json, SOURCE);
  } catch (e) {
    if (e instanceof HapgError && e.code === 'CONFIG_INVALID') return e.message;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('parseDynamicConfig', () => {
  it('fills defaults and converts units once', () => {
    const { config, warnings } = parseDynamicConfig({}, SOURCE);
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      ttlMs: 10_000,
      loopWaitMs: 2_000,
      retryTimeoutMs: 3_000,
      maximumLagOnFailoverBytes: 1048576n,
      primaryStartTimeoutMs: 30_000,
      primaryIsolationTimeoutMs: 1_000,
      synchronousMode: 'off',
      synchronousModeStrict: false,
      synchronousNodeCount: 1,
      checkTimeline: false,
      pause: false,
      failsafeMode: false,
      failsafeTimeoutMs: 2_000,
      fastFailover: { enabled: true, streamSilenceMs: 1_000, probeTimeoutMs: 500 },
      memberSlotsTtlMs: 1_800_000,
      slots: {},
      ignoreSlots: [],
      postgresql: {
        usePgRewind: true,
        useSlots: true,
        parameters: {},
        skippedParameters: [],
        pgHba: null,
        removeDataDirectoryOnRewindFailure: false,
        removeDataDirectoryOnDivergedTimelines: false,
      },
      extra: {},
    });
  });

  it('agrees with DEFAULT_DYNAMIC_CONFIG', () => {
    expect(parseDynamicConfig(DEFAULT_DYNAMIC_CONFIG, SOURCE).config).toEqual(defaultDynamicConfig());
  });

  it('reads Patroni values: sizes with units, synchronous_mode forms, durations', () => {
    const { config } = parseDynamicConfig(
      {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        maximum_lag_on_failover: '16MB',
        synchronous_mode: 'quorum',
        member_slots_ttl: '2h',
        pause: true,
        slots: { cdc: { type: 'logical', database: 'app', plugin: 'pgoutput' } },
        ignore_slots: [{ name: 'keep_me' }],
        postgresql: { parameters: { max_connections: 100 }, pg_hba: ['local all all trust'] },
      },
      SOURCE,
    );
    expect(config.maximumLagOnFailoverBytes).toBe(16n * 1024n * 1024n);
    expect(config.synchronousMode).toBe('quorum');
    expect(config.memberSlotsTtlMs).toBe(7_200_000);
    expect(config.slots).toEqual({ cdc: { type: 'logical', database: 'app', plugin: 'pgoutput' } });
    expect(config.ignoreSlots).toEqual([{ name: 'keep_me', type: null, database: null, plugin: null }]);
    expect(config.postgresql.pgHba).toEqual(['local all all trust']);
    expect(parseDynamicConfig({ synchronous_mode: true }, SOURCE).config.synchronousMode).toBe('on');
  });

  it('keeps unknown and not-implemented keys in extra, with warnings', () => {
    const { config, warnings } = parseDynamicConfig(
      { foo: 1, standby_cluster: { host: 'x' }, postgresql: { use_slot: false } },
      SOURCE,
    );
    expect(config.extra).toEqual({ foo: 1, standby_cluster: { host: 'x' }, 'postgresql.use_slot': false });
    expect(config.postgresql.useSlots).toBe(true);
    expect(warnings).toEqual([
      'etcd /service/demo/config: accepted but not acted on: standby_cluster',
      'etcd /service/demo/config: foo: unknown key, kept as is',
      'etcd /service/demo/config: postgresql.use_slot: unknown key, kept as is; did you mean "use_slots"?',
    ]);
  });

  it.each([
    [[], 'etcd /service/demo/config: expected a map, got a list'],
    [
      { ttl: '10' },
      'etcd /service/demo/config: ttl: expected an integer number of seconds 0-2147483, got "10"',
    ],
    [
      { ttl: 8, loop_wait: 2, retry_timeout: 4 },
      'etcd /service/demo/config: ttl: must be at least loop_wait + 2*retry_timeout = 2 + 2*4 = 10, got 8',
    ],
    [{ retry_timeout: 0 }, 'etcd /service/demo/config: retry_timeout: must be at least 1 second, got 0'],
    [
      { synchronous_node_count: 0 },
      'etcd /service/demo/config: synchronous_node_count: expected an integer 1-1000, got 0',
    ],
    [
      { member_slots_ttl: 'soon' },
      'etcd /service/demo/config: member_slots_ttl: expected a duration (seconds, or with a unit ms, s, min, h, d), got "soon"',
    ],
    [
      { slots: { s: { type: 'weird' } } },
      'etcd /service/demo/config: slots.s.type: expected "physical" or "logical", got "weird"',
    ],
    [
      { ignore_slots: [{ name: 1 }] },
      'etcd /service/demo/config: ignore_slots[0].name: expected a string, got 1',
    ],
  ])('rejects %j', (json, message) => {
    expect(errorOf(json)).toBe(message);
  });
});

describe('validateDynamicConfig', () => {
  it('accepts the defaults and the boundary of the timing rule', () => {
    expect(validateDynamicConfig(defaultDynamicConfig())).toEqual([]);
    const exact = { ...defaultDynamicConfig(), ttlMs: 8_000, loopWaitMs: 2_000, retryTimeoutMs: 3_000 };
    expect(validateDynamicConfig(exact)).toEqual([]);
    expect(validateDynamicConfig({ ...exact, ttlMs: 7_999 }).map((p) => p.path)).toEqual([['ttl']]);
  });
});

describe('toDecideConfig', () => {
  it('maps every field decide needs', () => {
    const { config } = parseDynamicConfig(
      { pause: true, check_timeline: true, synchronous_mode: true, synchronous_mode_strict: true },
      SOURCE,
    );
    expect(toDecideConfig(config)).toEqual({
      ttlMs: 10_000,
      loopWaitMs: 2_000,
      retryTimeoutMs: 3_000,
      primaryStartTimeoutMs: 30_000,
      maximumLagOnFailoverBytes: 1048576n,
      primaryIsolationTimeoutMs: 1_000,
      checkTimeline: true,
      pause: true,
      failsafeMode: false,
      synchronousMode: 'on',
      synchronousModeStrict: true,
      usePgRewind: true,
      fastFailover: { enabled: true, streamSilenceMs: 1_000, probeTimeoutMs: 500 },
    });
  });
});

/** The load error of a dynamic config, or null when it loads. */
function problems(raw: Record<string, unknown>): string | null {
  try {
    parseDynamicConfig(raw, SOURCE);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('failsafe_timeout', () => {
  it('unset: 2 s, or (ttl − margin) / 2 when a short ttl leaves less room', () => {
    expect(parseDynamicConfig({ ttl: 10 }, SOURCE).config.failsafeTimeoutMs).toBe(2_000);
    expect(
      parseDynamicConfig({ ttl: 4, loop_wait: 1, retry_timeout: 1 }, SOURCE).config.failsafeTimeoutMs,
    ).toBe(1_500);
  });
  it('set: must leave room for two rounds before the failsafe deadline, with failsafe_mode on only', () => {
    expect(problems({ failsafe_mode: true, failsafe_timeout: 4 })).toBeNull();
    expect(problems({ failsafe_mode: true, failsafe_timeout: 4.5 })).toMatch(
      /failsafe_timeout: must be more than 0 and at most \(ttl - margin\) \/ 2 = 4, got 4.5/,
    );
    expect(problems({ failsafe_mode: false, failsafe_timeout: 4.5 })).toBeNull();
  });
});

describe('fast_failover keys', () => {
  it('convert to milliseconds, with their documented defaults', () => {
    expect(parseDynamicConfig({}, SOURCE).config.fastFailover).toEqual({
      enabled: true,
      streamSilenceMs: 1_000,
      probeTimeoutMs: 500,
    });
    expect(
      parseDynamicConfig(
        { fast_failover: false, fast_failover_stream_silence: 0.3, fast_failover_probe_timeout: 2 },
        SOURCE,
      ).config.fastFailover,
    ).toEqual({ enabled: false, streamSilenceMs: 300, probeTimeoutMs: 2_000 });
  });
  it('reject a probe timeout of 0 or of ttl and more, and a silence of 0', () => {
    expect(problems({ fast_failover_probe_timeout: 0 })).toMatch(
      /fast_failover_probe_timeout: must be more than 0 and less than ttl/,
    );
    expect(problems({ fast_failover_probe_timeout: 10 })).toMatch(/fast_failover_probe_timeout/);
    expect(problems({ fast_failover_stream_silence: 0 })).toMatch(
      /fast_failover_stream_silence: must be more than 0/,
    );
  });
});

describe('mergeDynamicConfig', () => {
  it('merges maps recursively, deletes on null, replaces lists and scalars', () => {
    const base = { ttl: 10, pause: true, postgresql: { parameters: { a: 1, b: 2 }, pg_hba: ['x', 'y'] } };
    const patch = { ttl: 20, pause: null, postgresql: { parameters: { b: null, c: 3 }, pg_hba: ['z'] } };
    expect(mergeDynamicConfig(base, patch)).toEqual({
      ttl: 20,
      postgresql: { parameters: { a: 1, c: 3 }, pg_hba: ['z'] },
    });
  });

  it('changes neither argument', () => {
    const base = { postgresql: { parameters: { a: 1 } } };
    const patch = { postgresql: { parameters: { a: null } } };
    mergeDynamicConfig(base, patch);
    expect(base).toEqual({ postgresql: { parameters: { a: 1 } } });
    expect(patch).toEqual({ postgresql: { parameters: { a: null } } });
  });

  it('drops nulls inside a map that replaces a scalar', () => {
    expect(mergeDynamicConfig({ slots: 1 }, { slots: { a: null, b: { type: 'physical' } } })).toEqual({
      slots: { b: { type: 'physical' } },
    });
  });

  it('rejects a patch that is not a map', () => {
    expect(() => mergeDynamicConfig({}, [1])).toThrowError('config patch: expected a map, got a list');
  });

  it('does not let a __proto__ key reach a prototype', () => {
    const merged = mergeDynamicConfig({}, JSON.parse('{"__proto__": {"polluted": true}}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
  });

  it('property: merging any patches yields a config that parses or throws CONFIG_INVALID, nothing else', () => {
    const key = fc.constantFrom(
      'ttl',
      'loop_wait',
      'retry_timeout',
      'maximum_lag_on_failover',
      'primary_start_timeout',
      'primary_isolation_timeout',
      'synchronous_mode',
      'synchronous_node_count',
      'pause',
      'member_slots_ttl',
      'slots',
      'ignore_slots',
      'postgresql',
      'parameters',
      'use_pg_rewind',
      'pg_hba',
      'unknown_key',
    );
    const leaf = fc.oneof(
      fc.integer({ min: -5, max: 40 }),
      fc.constantFrom('1MB', '16kB', 'quorum', 'on', '30min', 'x', '', true, false, null),
      fc.double(),
      fc.string(),
    );
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.dictionary(key, tie('v'), { maxKeys: 4 }),
        fc.array(tie('v'), { maxLength: 3 }),
      ),
    })).v;
    const patch = fc.dictionary(key, value, { maxKeys: 6 });
    fc.assert(
      fc.property(fc.array(patch, { maxLength: 4 }), (patches) => {
        const merged = patches.reduce<Record<string, unknown>>(
          (acc, p) => mergeDynamicConfig(acc, p),
          structuredClone(DEFAULT_DYNAMIC_CONFIG) as Record<string, unknown>,
        );
        try {
          const { config } = parseDynamicConfig(merged, SOURCE);
          // a config that parses also satisfies the timing rule
          expect(config.loopWaitMs + 2 * config.retryTimeoutMs).toBeLessThanOrEqual(config.ttlMs);
        } catch (e) {
          if (!(e instanceof HapgError) || e.code !== 'CONFIG_INVALID') throw e;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('docs/configuration.md', () => {
  const docs = readFileSync(
    fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url)),
    'utf8',
  );
  // only the dynamic section: the local section has rows with the same names (local overrides)
  const dynamicSection = docs.slice(docs.indexOf('## Dynamic config'), docs.indexOf('## Local config'));
  const rows = new Map(
    dynamicSection
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .map((l) => l.split('|').map((c) => c.trim()))
      .map((cells) => [cells[1]!.replace(/`/g, ''), cells[3] ?? ''] as const),
  );

  function leaves(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
    return Object.entries(obj).flatMap(([k, v]) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0
        ? leaves(v as Record<string, unknown>, `${prefix}${k}.`)
        : [[`${prefix}${k}`, v] as [string, unknown]],
    );
  }

  it.each(leaves(DEFAULT_DYNAMIC_CONFIG))('documents %s with its default %j', (key, value) => {
    const defaultCell = rows.get(key);
    expect(defaultCell, `no row for ${key}`).toBeDefined();
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    expect(defaultCell).toContain(`\`${text}\``);
  });

  it('documents the keys without a default and the timing rule', () => {
    expect(rows.has('postgresql.pg_hba')).toBe(true);
    expect(docs).toContain('loop_wait + 2*retry_timeout <= ttl');
  });
});
