/**
 * One error catalogue. Codes are stable strings (tests, logs and REST bodies
 * use them); `retryable` tells the caller whether waiting may help.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { retryable: false, text: 'configuration is invalid' },
  CONFIG_UNREADABLE: { retryable: false, text: 'configuration file cannot be read' },
  DCS_UNAVAILABLE: { retryable: true, text: 'etcd could not be reached within retry_timeout' },
  DCS_CAS_CONFLICT: { retryable: false, text: 'the key changed since it was read' },
  DCS_KEY_EXISTS: { retryable: false, text: 'the key already exists' },
  DCS_LEASE_LOST: { retryable: false, text: 'the lease expired or was revoked' },
  DCS_DEADLINE_PASSED: { retryable: false, text: 'the local lease deadline passed' },
  PG_COMMAND_FAILED: { retryable: false, text: 'a PostgreSQL program failed' },
  PG_QUERY_FAILED: { retryable: true, text: 'a query to the local PostgreSQL failed' },
  PG_NOT_RUNNING: { retryable: true, text: 'PostgreSQL is not running' },
  PG_CONNECTION_REJECTED: {
    retryable: true,
    text: 'PostgreSQL runs but refuses the connection (pg_hba.conf, password, role, database)',
  },
  PG_START_FAILED: { retryable: false, text: 'PostgreSQL failed to start' },
  PG_STOP_FAILED: { retryable: false, text: 'PostgreSQL failed to stop' },
  PG_SYSTEM_ID_MISMATCH: { retryable: false, text: 'the data directory belongs to another cluster' },
  PG_BINARIES_NOT_FOUND: { retryable: false, text: 'PostgreSQL server binaries not found' },
  TIMEOUT: { retryable: true, text: 'the operation timed out' },
  HOOK_FAILED: { retryable: false, text: 'an operator script (pre_promote) failed' },
  FAILSAFE_PROMISED: { retryable: false, text: 'a failsafe promise or the startup hold forbids leading now' },
  STREAM_RELEASED: {
    retryable: false,
    text: 'this standby promised not to stream from the leader again (a quorum fast failover release)',
  },
  INTERNAL: { retryable: false, text: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class HapgError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(
      message ?? ERROR_CODES[code].text,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'HapgError';
    this.code = code;
    this.retryable = options?.retryable ?? ERROR_CODES[code].retryable;
  }
}

export function isHapgError(e: unknown, code?: ErrorCode): e is HapgError {
  return e instanceof HapgError && (code === undefined || e.code === code);
}

/** Message of anything thrown, for logs. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
