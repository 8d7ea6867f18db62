import { describe, expect, it } from 'vitest';
import { HapgError, NODE_DEFAULTS, parseNodeConfig } from '../src/index.js';

const BASE = 'scope: demo\nname: hapg-0\npostgresql:\n  data_dir: /x\n';

const load = (text: string, env: Record<string, string> = {}) =>
  parseNodeConfig(text, { fileName: 'node.yaml', env });

function errorOf(text: string, env: Record<string, string> = {}): string {
  try {
    load(text, env);
  } catch (e) {
    if (e instanceof HapgError) return e.message;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID, but the config loaded');
}

describe('the kubernetes section (pod role label updater)', () => {
  it('is off without the section', () => {
    expect(load(BASE).config.kubernetes).toBeNull();
  });

  it('an empty section turns it on with Patroni 4 defaults', () => {
    const { config, warnings } = load(`${BASE}kubernetes:\n`);
    expect(config.kubernetes).toEqual({
      namespace: null,
      roleLabel: 'role',
      leaderLabelValue: 'primary',
      followerLabelValue: 'replica',
      standbyLeaderLabelValue: 'primary',
      tmpRoleLabel: null,
      cacert: null,
    });
    expect(warnings).toEqual([]);
    expect(NODE_DEFAULTS['kubernetes.role_label']).toBe('role');
  });

  it("takes Patroni's key names", () => {
    const { config } = load(
      `${BASE}kubernetes:\n  namespace: db\n  role_label: example.com/role\n  leader_label_value: master\n` +
        '  follower_label_value: standby\n  standby_leader_label_value: master\n  tmp_role_label: tmp-role\n' +
        '  cacert: /etc/ca.pem\n',
    );
    expect(config.kubernetes).toEqual({
      namespace: 'db',
      roleLabel: 'example.com/role',
      leaderLabelValue: 'master',
      followerLabelValue: 'standby',
      standbyLeaderLabelValue: 'master',
      tmpRoleLabel: 'tmp-role',
      cacert: '/etc/ca.pem',
    });
  });

  it("accepts and ignores the keys only Patroni's Kubernetes store needs, with one warning", () => {
    const { config, warnings } = load(
      `${BASE}kubernetes:\n  labels:\n    application: patroni\n  use_endpoints: true\n  pod_ip: 10.0.0.5\n`,
    );
    expect(config.kubernetes?.roleLabel).toBe('role');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('kubernetes.labels');
    expect(warnings[0]).toContain('kubernetes.use_endpoints');
  });

  it.each([
    ['role_label', '"-role"', 'a Kubernetes label name'],
    ['role_label', '"Bad_Prefix/role"', 'a Kubernetes label name'],
    ['role_label', '"a/b/c"', 'a Kubernetes label name'],
    ['leader_label_value', '"pri mary"', 'a Kubernetes label value'],
    ['follower_label_value', `"${'r'.repeat(64)}"`, 'a Kubernetes label value'],
    ['leader_label_value', '""', 'a Kubernetes label value'],
  ])('refuses %s: %s', (key, value, expected) => {
    const message = errorOf(`${BASE}kubernetes:\n  ${key}: ${value}\n`);
    expect(message).toContain(`kubernetes.${key}: expected ${expected}`);
  });

  it('refuses a typo with a suggestion', () => {
    expect(errorOf(`${BASE}kubernetes:\n  role_lable: role\n`)).toContain('did you mean "role_label"?');
  });

  it("Patroni's variables turn it on and set its keys", () => {
    const { config } = load(BASE, {
      PATRONI_KUBERNETES_NAMESPACE: 'db',
      PATRONI_KUBERNETES_ROLE_LABEL: 'spilo-role',
      PATRONI_KUBERNETES_LEADER_LABEL_VALUE: 'master',
    });
    expect(config.kubernetes).toMatchObject({
      namespace: 'db',
      roleLabel: 'spilo-role',
      leaderLabelValue: 'master',
      followerLabelValue: 'replica',
    });
  });

  it('a bad value from the environment is placed there', () => {
    expect(errorOf(BASE, { PATRONI_KUBERNETES_ROLE_LABEL: 'no spaces' })).toContain(
      'env PATRONI_KUBERNETES_ROLE_LABEL: kubernetes.role_label: expected a Kubernetes label name',
    );
  });
});
