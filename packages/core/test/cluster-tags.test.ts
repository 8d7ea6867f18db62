import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTags, tagFlag, tagInt } from '../src/cluster/tags.js';
import { memberCandidate } from '../src/decide/candidates.js';
import { parseNodeConfig } from '../src/index.js';
import { member } from './decide-fixtures.js';

describe('tagFlag: booleans, YAML/env words, else Python truthiness (Patroni)', () => {
  it.each([
    [true, true],
    [false, false],
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['false', false],
    ['False', false],
    ['yes', true],
    ['no', false],
    ['on', true],
    ['off', false],
    [' true ', true],
    ['1', true],
    ['0', false],
    [1, true],
    [0, false],
    [2, true],
    ['', false],
    ['maybe', true],
    [[], false],
    [['x'], true],
    [{}, false],
    [{ a: 1 }, true],
  ])('%j → %s', (value, expected) => expect(tagFlag(value)).toBe(expected));

  it('absent is null: the caller decides the default', () => {
    expect(tagFlag(undefined)).toBeNull();
    expect(tagFlag(null)).toBeNull();
  });
});

describe('tagInt: Patroni parse_int', () => {
  it.each([
    [3, 3],
    [0, 0],
    [-1, -1],
    ['2', 2],
    [' 7 ', 7],
    [1.4, 1],
    ['2.6', 3],
    ['1e1', 10],
  ])('%j → %s', (value, expected) => expect(tagInt(value)).toBe(expected));

  it.each([
    [undefined],
    [null],
    [''],
    ['two'],
    ['3 apples'],
    [true],
    [{}],
    [[1]],
    [Number.POSITIVE_INFINITY],
    ['1e400'],
  ])('%j → null', (value) => expect(tagInt(value)).toBeNull());
});

describe('parseTags', () => {
  it('defaults: eligible, priority 1, no flags, streams from the leader', () => {
    expect(parseTags({})).toEqual({
      nofailover: false,
      failoverPriority: 1,
      nosync: false,
      noloadbalance: false,
      clonefrom: false,
      replicatefrom: null,
    });
    expect(parseTags(null)).toEqual(parseTags({}));
    expect(parseTags(undefined)).toEqual(parseTags({}));
  });

  it.each([
    ['nofailover true means priority 0', { nofailover: true, failover_priority: 3 }, true, 0],
    ['nofailover "true" (YAML/env text) too', { nofailover: 'true' }, true, 0],
    ['nofailover "false" is false, not a non-empty string', { nofailover: 'false' }, false, 1],
    ['failover_priority 0 without nofailover means nofailover', { failover_priority: 0 }, true, 0],
    ['failover_priority "0" as text too', { failover_priority: '0' }, true, 0],
    ['a negative priority too', { failover_priority: -2 }, true, -2],
    [
      'nofailover false wins over priority 0 (priority stays 0)',
      { nofailover: false, failover_priority: 0 },
      false,
      0,
    ],
    ['priority as text', { failover_priority: '5' }, false, 5],
    ['an unreadable priority is the default', { failover_priority: 'high' }, false, 1],
    ['an empty priority is the default, not 0', { failover_priority: '' }, false, 1],
    ['nofailover null is absent', { nofailover: null, failover_priority: 2 }, false, 2],
  ])('%s', (_name, raw, nofailover, failoverPriority) => {
    expect(parseTags(raw)).toMatchObject({ nofailover, failoverPriority });
  });

  it('reads nosync, noloadbalance, clonefrom and replicatefrom', () => {
    expect(
      parseTags({ nosync: 'yes', noloadbalance: 1, clonefrom: true, replicatefrom: 'node2', zone: 'a' }),
    ).toEqual({
      nofailover: false,
      failoverPriority: 1,
      nosync: true,
      noloadbalance: true,
      clonefrom: true,
      replicatefrom: 'node2',
    });
    expect(parseTags({ replicatefrom: '' }).replicatefrom).toBeNull();
    expect(parseTags({ replicatefrom: 7 }).replicatefrom).toBeNull();
  });

  it('own properties only: an inherited key is no tag', () => {
    const tags = JSON.parse('{"__proto__": {"nofailover": true}}') as Record<string, unknown>;
    expect(parseTags(tags).nofailover).toBe(false);
    expect(parseTags(Object.create({ nosync: true })).nosync).toBe(false);
  });

  const tagValue = fc.oneof(
    fc.boolean(),
    fc.integer({ min: -5, max: 5 }),
    fc.constantFrom(
      'true',
      'false',
      'True',
      'FALSE',
      'yes',
      'no',
      'on',
      'off',
      '1',
      '0',
      '',
      'x',
      '2',
      ' 3 ',
    ),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(fc.integer(), { maxLength: 2 }),
  );
  const rawTags = fc.record(
    {
      nofailover: tagValue,
      failover_priority: tagValue,
      nosync: tagValue,
      noloadbalance: tagValue,
      clonefrom: tagValue,
      replicatefrom: fc.oneof(fc.string(), tagValue),
      zone: fc.string(),
    },
    { requiredKeys: [] },
  );

  it('property: total, and never promotable with nofailover or a priority <= 0', () => {
    fc.assert(
      fc.property(rawTags, (raw) => {
        const t = parseTags(raw);
        expect(Number.isSafeInteger(t.failoverPriority)).toBe(true);
        // the tag given as true always wins
        if (tagFlag(raw.nofailover) === true) expect([t.nofailover, t.failoverPriority]).toEqual([true, 0]);
        // without the tag, the priority decides
        if (tagFlag(raw.nofailover) === null) expect(t.nofailover).toBe(t.failoverPriority <= 0);
      }),
    );
  });

  it('property: text words read as the booleans they name', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.constantFrom(
          (b: boolean) => String(b),
          (b: boolean) => String(b).toUpperCase(),
          (b: boolean) => (b ? 'on' : 'off'),
          (b: boolean) => (b ? 'yes' : 'no'),
          (b: boolean) => (b ? '1' : '0'),
          (b: boolean) => (b ? 1 : 0),
        ),
        (b, spell) => {
          const raw = {
            nofailover: spell(b),
            nosync: spell(b),
            noloadbalance: spell(b),
            clonefrom: spell(b),
          };
          expect(parseTags(raw)).toEqual(
            parseTags({ nofailover: b, nosync: b, noloadbalance: b, clonefrom: b }),
          );
        },
      ),
    );
  });

  it('the election reads a member key with text tags as the node wrote them', () => {
    expect(memberCandidate(member('a', { tags: { nofailover: 'true' } }))).toMatchObject({
      nofailover: true,
      failoverPriority: 0,
    });
    expect(memberCandidate(member('a', { tags: { failover_priority: '3' } }))).toMatchObject({
      nofailover: false,
      failoverPriority: 3,
    });
  });

  it("the node's own YAML tags are read by the same rule", () => {
    const yaml = (tags: string) =>
      parseNodeConfig(
        `scope: s\nname: n1\nrestapi:\n  listen: 127.0.0.1:8008\npostgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /tmp/x\ntags:\n${tags}`,
        { fileName: 'n1.yaml', env: {} },
      ).config.tags;
    expect(yaml('  nofailover: true\n  failover_priority: 5\n')).toMatchObject({
      nofailover: true,
      failoverPriority: 0,
    });
    expect(yaml('  failover_priority: 0\n')).toMatchObject({ nofailover: true, failoverPriority: 0 });
    expect(yaml('  zone: a\n')).toMatchObject({ nofailover: false, failoverPriority: 1, all: { zone: 'a' } });
  });
});
