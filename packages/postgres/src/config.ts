import { isIP } from 'node:net';
import { describeParameterProblems, HapgError, splitParameters } from '@hapg/core';

/**
 * Pure rendering of the configuration files hapg owns in the data directory.
 * initdb's postgresql.conf is kept as `postgresql.base.conf` and included, so
 * hapg's `postgresql.conf` holds only what hapg manages and can be rewritten
 * whole on every start or re-point without parsing anything.
 */

export type ParameterValue = string | number | boolean;
export type Parameters = Readonly<Record<string, ParameterValue>>;

export const BASE_CONF = 'postgresql.base.conf';
export const MAIN_CONF = 'postgresql.conf';
export const HBA_CONF = 'pg_hba.conf';
export const STANDBY_SIGNAL = 'standby.signal';
export const RECOVERY_SIGNAL = 'recovery.signal';

/**
 * Defaults a user may override. data checksums are on from initdb, and
 * wal_log_hints too so that pg_rewind works even on clusters initialised
 * without checksums (adopted from elsewhere).
 */
export const DEFAULT_PARAMETERS: Parameters = {
  wal_level: 'replica',
  hot_standby: 'on',
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_log_hints: 'on',
  wal_keep_size: '128MB',
  password_encryption: 'scram-sha-256',
};

/**
 * GUC string quoting: single quotes doubled, backslashes doubled (the config lexer reads `\x`
 * escapes). Control characters cannot be quoted (a newline ends the value's line whatever the
 * quoting): `checkParameterValue` keeps them out of user parameters, and this refuses them.
 */
export function quoteGucValue(value: ParameterValue): string {
  const text = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
  // e.g. a conninfo built from a hostile member key: refuse rather than corrupt the file
  if (/\p{Cc}/u.test(text))
    throw new HapgError('CONFIG_INVALID', 'a control character cannot be written into postgresql.conf');
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * Everything rendered went through `splitParameters` first (the config parsers, then
 * `PostgresNode.setParameters`): a parameter that could break postgresql.conf or override
 * hapg's own settings reaching the renderer is a programmer error.
 */
export function assertRenderableParameters(params: Parameters): void {
  const { problems } = splitParameters(params, { known: null });
  if (problems.length > 0)
    throw new HapgError('CONFIG_INVALID', `postgresql.parameters: ${describeParameterProblems(problems)}`);
}

export interface RecoverySettings {
  /** rendered conninfo (see `renderConninfo`), including application_name */
  readonly primaryConninfo: string;
  readonly primarySlotName: string | null;
}

export interface PostgresqlConfInput {
  readonly listenAddresses: string;
  readonly port: number;
  readonly hbaFile: string;
  readonly parameters: Parameters;
  /** replica settings; null on a primary */
  readonly recovery: RecoverySettings | null;
}

export function renderPostgresqlConf(input: PostgresqlConfInput): string {
  assertRenderableParameters(input.parameters);
  const lines = [
    '# Written by hapg; it is rewritten on every start and re-point, so edits here are lost.',
    '# Put settings into postgresql.parameters of the hapg config instead.',
    `include '${BASE_CONF}'`,
    '',
  ];
  const merged: Record<string, ParameterValue> = { ...DEFAULT_PARAMETERS, ...input.parameters };
  for (const name of Object.keys(merged).sort()) lines.push(`${name} = ${quoteGucValue(merged[name]!)}`);
  lines.push('', '# managed by hapg');
  lines.push(`listen_addresses = ${quoteGucValue(input.listenAddresses)}`);
  lines.push(`port = ${input.port}`);
  lines.push(`hba_file = ${quoteGucValue(input.hbaFile)}`);
  // Always written (a restart-only setting): dropping it on promotion would leave the new
  // primary reporting pending_restart; it is ignored outside recovery.
  lines.push(`recovery_target_timeline = 'latest'`);
  if (input.recovery) {
    lines.push(`primary_conninfo = ${quoteGucValue(input.recovery.primaryConninfo)}`);
    if (input.recovery.primarySlotName)
      lines.push(`primary_slot_name = ${quoteGucValue(input.recovery.primarySlotName)}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface PgHbaInput {
  readonly superuser: string;
  readonly replicationUser: string;
  /** networks the other members connect from (replication, and pg_rewind as the superuser) */
  readonly memberCidrs: readonly string[];
  /**
   * Addresses this node reaches its own server on (listen and connect hosts). A connection to
   * one's own non-loopback address comes from that address, so without a rule for it the
   * agent's TCP connection is refused ("no pg_hba.conf entry for host 10.0.0.11").
   */
  readonly selfAddresses?: readonly string[];
  /** `postgresql.pg_hba` (the node's, else the dynamic one): when given it is the whole file, as in Patroni */
  readonly lines?: readonly string[] | null;
  /** `bootstrap.pg_hba`: appended to the generated default, as Patroni appends it to initdb's file */
  readonly extraLines?: readonly string[] | null;
}

function hbaName(name: string): string {
  return /^[A-Za-z0-9_]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** `10.0.0.11/32`, `fd00::1/128`; null for names and wildcards (no single address to allow). */
export function hostCidr(host: string): string | null {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(bare);
  if (family === 4) return bare === '0.0.0.0' ? null : `${bare}/32`;
  if (family === 6) return bare === '::' ? null : `${bare}/128`;
  return null;
}

const LOOPBACK_CIDRS: ReadonlySet<string> = new Set(['127.0.0.1/32', '::1/128']);

export function renderPgHba(input: PgHbaInput): string {
  const header = '# Written by hapg; edits here are lost. Configure postgresql.pg_hba instead.';
  if (input.lines && input.lines.length > 0) return `${[header, ...input.lines].join('\n')}\n`;
  const repl = hbaName(input.replicationUser);
  const su = hbaName(input.superuser);
  const lines = [
    header,
    // peer: only the OS user of the same name, only through the local socket
    'local all all peer',
    'host all all 127.0.0.1/32 scram-sha-256',
    'host replication all 127.0.0.1/32 scram-sha-256',
    'host all all ::1/128 scram-sha-256',
    'host replication all ::1/128 scram-sha-256',
  ];
  const self = new Set<string>();
  for (const host of input.selfAddresses ?? []) {
    const cidr = hostCidr(host);
    if (cidr !== null && !LOOPBACK_CIDRS.has(cidr)) self.add(cidr);
  }
  // the agent's own connection over TCP (when it cannot use the socket) arrives from here
  for (const cidr of self) lines.push(`host all ${su} ${cidr} scram-sha-256`);
  for (const cidr of input.memberCidrs) {
    lines.push(`host replication ${repl} ${cidr} scram-sha-256`);
    // pg_rewind --source-server connects to an ordinary database as the superuser
    lines.push(`host all ${su} ${cidr} scram-sha-256`);
  }
  if (input.extraLines && input.extraLines.length > 0) lines.push('# bootstrap.pg_hba', ...input.extraLines);
  return `${lines.join('\n')}\n`;
}

/** Replication slot names allow only [a-z0-9_]; member names are mapped as Patroni does. */
export function slotNameFor(member: string): string {
  const name = member.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return name.slice(0, 63);
}
