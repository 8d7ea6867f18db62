import { describe, expect, it } from 'vitest';
import { runEditConfig } from '../src/commands/edit-config/edit-config.js';
import { parseSetting } from '../src/commands/edit-config/settings.js';
import { fakeDeps, outcome } from './action-fakes.js';
import { cluster } from './cluster-fixture.js';

/** `hactl edit-config -p ...` against the fixture cluster; returns what was sent and written. */
async function editParameters(settings: string[], views = [cluster()]) {
  const { deps, api, store } = fakeDeps({ views, routes: { 'PATCH /config@8432': { status: 200 } } });
  const r = await outcome(() =>
    runEditConfig(
      { ...deps, editText: async () => '' },
      {
        change: { kind: 'patch', applyText: null, settings: settings.map((s) => parseSetting(s, '-p', 'u')) },
        force: true,
      },
    ),
  );
  return { ...r, api, store };
}

describe('hactl edit-config: Postgres parameters are checked before anything is written', () => {
  it('defect 1: a newline in a value is refused, naming the key', async () => {
    const { deps, api, store } = fakeDeps({ views: [cluster()] });
    const r = await outcome(() =>
      runEditConfig(
        { ...deps, editText: async () => '' },
        {
          change: {
            kind: 'patch',
            applyText: 'postgresql:\n  parameters:\n    work_mem: "8MB\\nfsync = off"\n',
            settings: [],
          },
          force: true,
        },
      ),
    );
    expect(r.error).toBe(
      'invalid config, nothing written: new config: postgresql.parameters.work_mem: value contains the control character U+000A at offset 3; postgresql.conf cannot hold newlines, tabs or other control characters in a value',
    );
    expect(api.calls).toEqual([]);
    expect(store.writes).toEqual([]);
  });

  it('defect 2: parameters hapg manages and malformed names are refused', async () => {
    for (const [setting, reason] of [
      ['port=5433', 'port: managed by hapg; set postgresql.listen instead'],
      ['data_directory=/tmp/x', 'data_directory: managed by hapg; set postgresql.data_dir instead'],
      ['bad name; x=1', '"bad name; x" is not a parameter name'],
    ] as const) {
      const r = await editParameters([setting]);
      expect(r.error, setting).toContain(reason);
      expect(r.api.calls, setting).toEqual([]);
    }
  });

  it('a valid parameter goes through to the leader (whose server knows the names)', async () => {
    const r = await editParameters(['work_mem=8MB', 'pg_stat_statements.max=500']);
    expect(r.error).toBeNull();
    expect(r.api.calls.map((c) => c.body)).toEqual([
      { postgresql: { parameters: { work_mem: '8MB', 'pg_stat_statements.max': 500 } } },
    ]);
  });
});
