import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { effectiveDynamicConfig } from '../src/cluster/dynamic-config.js';
import { defaultDynamicConfig, parseDynamicConfig } from '../src/index.js';
import type { MalformedKey } from '../src/types.js';
import { clusterView } from './decide-fixtures.js';

const bootstrap = { ...defaultDynamicConfig(), ttlMs: 20_000 };
const previous = { ...defaultDynamicConfig(), ttlMs: 40_000 };
const withKey = (value: Record<string, unknown>) => clusterView({ config: { value, modRevision: '8' } });
const malformed = (kind: MalformedKey['kind'], key: string): MalformedKey => ({
  key,
  kind,
  error: 'not JSON',
  modRevision: '9',
});

describe('effectiveDynamicConfig: the key, else bootstrap, and an invalid key keeps the previous', () => {
  it('a valid key is used, with its warnings and revision', () => {
    const e = effectiveDynamicConfig(withKey({ ttl: 50, loop_wait: 10, tll: 5 }), previous, bootstrap);
    expect(e).toMatchObject({ source: 'key', problem: null, modRevision: '8' });
    expect(e.config.ttlMs).toBe(50_000);
    expect(e.warnings).toEqual(['etcd config key: tll: unknown key, kept as is; did you mean "ttl"?']);
  });

  it('no key: bootstrap, even for a running node (a new cluster, or the key deleted)', () => {
    expect(effectiveDynamicConfig(clusterView({ config: null }), previous, bootstrap)).toEqual({
      config: bootstrap,
      source: 'bootstrap',
      problem: null,
      warnings: [],
      modRevision: null,
    });
  });

  it('an invalid key: the previous config; without one, bootstrap', () => {
    const view = withKey({ ttl: -5 });
    const kept = effectiveDynamicConfig(view, previous, bootstrap);
    expect(kept).toMatchObject({ config: previous, source: 'previous', modRevision: '8' });
    expect(kept.problem).toMatchObject({ kind: 'invalid', error: expect.stringContaining('ttl') });
    expect(effectiveDynamicConfig(view, null, bootstrap)).toMatchObject({
      config: bootstrap,
      source: 'bootstrap',
      problem: { kind: 'invalid' },
    });
  });

  it('a key that is not JSON: the same fallback, said to be malformed', () => {
    const view = clusterView({ config: null, malformed: [malformed('config', '/service/demo/config')] });
    expect(effectiveDynamicConfig(view, previous, bootstrap)).toMatchObject({
      config: previous,
      source: 'previous',
      problem: { kind: 'malformed', error: 'not JSON' },
      modRevision: '9',
    });
    // a member named "config" is not the config key
    const member = clusterView({
      config: null,
      malformed: [malformed('member', '/service/demo/members/config')],
    });
    expect(effectiveDynamicConfig(member, previous, bootstrap).source).toBe('bootstrap');
  });

  it('no view yet (etcd not read): what we had, else bootstrap', () => {
    expect(effectiveDynamicConfig(null, previous, bootstrap).config).toBe(previous);
    expect(effectiveDynamicConfig(null, null, bootstrap).config).toBe(bootstrap);
  });

  it('property: never throws; the key when it parses, else exactly the fallback', () => {
    const value = fc.dictionary(
      fc.constantFrom('ttl', 'loop_wait', 'retry_timeout', 'synchronous_mode', 'pause', 'x', 'postgresql'),
      fc.oneof(
        fc.integer({ min: -10, max: 100 }),
        fc.boolean(),
        fc.string({ maxLength: 5 }),
        fc.constant(null),
      ),
    );
    fc.assert(
      fc.property(value, fc.boolean(), (v, hasPrevious) => {
        const e = effectiveDynamicConfig(withKey(v), hasPrevious ? previous : null, bootstrap);
        let parsed: ReturnType<typeof parseDynamicConfig> | null = null;
        try {
          parsed = parseDynamicConfig(v, { source: 'etcd config key' });
        } catch {
          parsed = null;
        }
        if (parsed === null) {
          expect(e.config).toBe(hasPrevious ? previous : bootstrap);
          expect(e.problem?.kind).toBe('invalid');
        } else {
          expect(e.config).toEqual(parsed.config);
          expect(e.source).toBe('key');
        }
      }),
    );
  });
});
