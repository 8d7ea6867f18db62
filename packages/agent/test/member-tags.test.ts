import {
  type PgObservation,
  defaultDynamicConfig,
  type NodeConfig,
  parseNodeConfig,
  parseTags,
  toLsn,
  toTimeline,
} from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { statusBody } from '../src/api/bodies.js';
import { memberJson, publishedTags } from '../src/member.js';
import { buildSnapshot, EMPTY_PG_OBSERVATION } from '../src/snapshot-build.js';

/**
 * Tags are published as Patroni publishes them (issue 14 #7): the YAML's tags as written,
 * without `clonefrom`, `nofailover`, `noloadbalance`, `nosync` when false (Patroni 3's
 * `get_tags`), and no `tags` at all when none is left — `patronictl list` shows no Tags column.
 */

const BASE =
  'scope: s\nname: n1\nrestapi:\n  listen: 127.0.0.1:8008\npostgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /tmp/x\n';

const configWith = (tagsYaml: string): NodeConfig =>
  parseNodeConfig(`${BASE}${tagsYaml}`, { fileName: 'n1.yaml', env: {} }).config;

function published(config: NodeConfig) {
  // a running primary: only the tags differ between the cases
  const pg: PgObservation = {
    ...EMPTY_PG_OBSERVATION,
    dataDir: 'initialized',
    systemId: '1',
    process: 'running',
    inRecovery: false,
    wasPrimary: true,
    timeline: toTimeline(1),
    flushLsn: toLsn(100),
  };
  const snap = buildSnapshot({
    version: '1.0',
    config,
    dyn: defaultDynamicConfig(),
    view: null,
    pg,
    status: null,
    decision: null,
    holdsLeaderKey: false,
    leaseDeadlineMs: null,
    dcsReachable: true,
    dcsLastSeenS: null,
    nowMonotonicMs: 0,
  });
  return { member: memberJson(config, pg, snap, '1.0'), patroni: statusBody(snap) };
}

describe('published tags', () => {
  it("Patroni's compat example (every boolean tag false, a user tag): only the user tag", () => {
    const c = configWith(
      'tags:\n  nofailover: false\n  noloadbalance: false\n  clonefrom: false\n  nosync: false\n  datacenter: west\n',
    );
    const { member, patroni } = published(c);
    expect(member.tags).toEqual({ datacenter: 'west' });
    expect(patroni.tags).toEqual({ datacenter: 'west' });
  });

  it('only false boolean tags: no `tags` key at all, in the member key and in /patroni', () => {
    const { member, patroni } = published(configWith('tags:\n  nofailover: false\n  nosync: off\n'));
    expect(member).not.toHaveProperty('tags');
    expect(patroni).not.toHaveProperty('tags');
  });

  it('no tags in the YAML: no `tags` key, and no default is invented', () => {
    const { member, patroni } = published(configWith(''));
    expect(member).not.toHaveProperty('tags');
    expect(patroni).not.toHaveProperty('tags');
  });

  it("true boolean tags, failover_priority (even 1 or 0) and user tags are kept with the user's values", () => {
    const c = configWith(
      'tags:\n  nofailover: true\n  nosync: yes\n  failover_priority: 1\n  replicatefrom: n2\n  rack: r1\n  zone: ""\n',
    );
    expect(published(c).member.tags).toEqual({
      nofailover: true,
      nosync: true,
      failover_priority: 1,
      replicatefrom: 'n2',
      rack: 'r1',
      zone: '',
    });
    expect(published(configWith('tags:\n  failover_priority: 0\n')).member.tags).toEqual({
      failover_priority: 0,
    });
  });

  it('what readers make of the published tags is what the node makes of its own YAML', () => {
    for (const yaml of [
      'tags:\n  nofailover: false\n  noloadbalance: false\n  clonefrom: false\n  nosync: false\n',
      'tags:\n  nofailover: true\n  failover_priority: 3\n',
      'tags:\n  nofailover: false\n  failover_priority: 2\n  nosync: true\n',
      'tags:\n  noloadbalance: true\n  clonefrom: true\n',
      '',
    ]) {
      const c = configWith(yaml);
      const { all: _all, ...own } = c.tags;
      expect(parseTags(published(c).member.tags), yaml).toEqual(own);
    }
  });

  it('publishedTags keeps odd keys as own properties (a __proto__ tag is no prototype)', () => {
    const all = JSON.parse('{"__proto__": {"x": 1}, "nosync": false, "a": 1}') as Record<string, unknown>;
    const out = publishedTags(all);
    expect(Object.keys(out)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});
