import type { WatchdogStatus } from './watchdog.js';

/**
 * The fence's wire protocol: one JSON object per line in each direction over a
 * UNIX socket. Parsing is pure and total (a malformed line is a value, never a
 * throw) so nothing the agent sends can crash the fence.
 */

export type FenceCommand =
  | {
      readonly op: 'arm';
      readonly id?: number;
      readonly deadlineMonoNs: bigint;
      readonly pid: number;
      readonly dataDir: string;
      /** the watchdog timeout the agent expects (ttl − safety_margin), bounding the interval pets */
      readonly watchdogTimeoutMs?: number;
    }
  | { readonly op: 'disarm'; readonly id?: number }
  | { readonly op: 'ping'; readonly id?: number }
  /** exit the fence process; refused while armed (an armed fence must not vanish) */
  | { readonly op: 'exit'; readonly id?: number };

export type FenceErrorCode =
  | 'BAD_REQUEST'
  | 'PID_NOT_RUNNING'
  | 'PID_NOT_POSTMASTER'
  | 'PIDFILE_UNREADABLE'
  | 'DEADLINE_PASSED'
  | 'ARMED'
  | 'DISCONNECTED'
  | 'TIMEOUT'
  | 'UNAVAILABLE';

/** What `ping` (and every successful reply) reports about the fence. */
export interface FenceState {
  readonly fencePid: number;
  readonly armed: boolean;
  /** bigint as a decimal string; absent when disarmed */
  readonly deadlineMonoNs?: string;
  readonly remainingMs?: number;
  readonly pid?: number;
  readonly dataDir?: string;
  /** how many times the fence has fired since it started */
  readonly fired: number;
  /** present when the fence runs with `--watchdog` */
  readonly watchdog?: WatchdogStatus;
}

export type FenceReply =
  | ({ readonly ok: true; readonly id?: number; readonly op: FenceCommand['op'] } & FenceState)
  | { readonly ok: false; readonly id?: number; readonly error: FenceErrorCode; readonly message: string };

export type ParseResult =
  | { readonly ok: true; readonly command: FenceCommand }
  | { readonly ok: false; readonly id?: number; readonly message: string };

const MAX_LINE_CHARS = 64 * 1024;

export function parseCommand(line: string): ParseResult {
  if (line.length > MAX_LINE_CHARS) return { ok: false, message: `line longer than ${MAX_LINE_CHARS} chars` };
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return { ok: false, message: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, message: 'not a JSON object' };
  const o = raw as Record<string, unknown>;
  const id = Number.isSafeInteger(o.id) ? (o.id as number) : undefined;
  const withId = <T extends object>(c: T) => (id === undefined ? c : { ...c, id });
  switch (o.op) {
    case 'disarm':
    case 'ping':
    case 'exit':
      return { ok: true, command: withId({ op: o.op }) };
    case 'arm': {
      const bad = (message: string): ParseResult =>
        id === undefined ? { ok: false, message } : { ok: false, id, message };
      if (typeof o.deadlineMonoNs !== 'string' || !/^[0-9]{1,30}$/.test(o.deadlineMonoNs)) {
        return bad('arm: deadlineMonoNs must be a decimal string');
      }
      if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 1)
        return bad('arm: pid must be an integer > 1');
      if (typeof o.dataDir !== 'string' || !o.dataDir.startsWith('/'))
        return bad('arm: dataDir must be an absolute path');
      const wd = o.watchdogTimeoutMs;
      if (wd !== undefined && (!Number.isSafeInteger(wd) || (wd as number) <= 0))
        return bad('arm: watchdogTimeoutMs must be a positive integer');
      return {
        ok: true,
        command: withId({
          op: 'arm',
          deadlineMonoNs: BigInt(o.deadlineMonoNs),
          pid: o.pid as number,
          dataDir: o.dataDir,
          ...(wd === undefined ? {} : { watchdogTimeoutMs: wd as number }),
        }),
      };
    }
    default:
      return id === undefined
        ? { ok: false, message: `unknown op ${JSON.stringify(o.op)}` }
        : { ok: false, id, message: `unknown op ${JSON.stringify(o.op)}` };
  }
}

export function encodeArm(
  id: number,
  deadlineMonoNs: bigint,
  pid: number,
  dataDir: string,
  watchdogTimeoutMs?: number,
): string {
  const wd =
    watchdogTimeoutMs === undefined ? {} : { watchdogTimeoutMs: Math.max(1, Math.round(watchdogTimeoutMs)) };
  return `${JSON.stringify({ op: 'arm', id, deadlineMonoNs: deadlineMonoNs.toString(), pid, dataDir, ...wd })}\n`;
}

export function encodeOp(id: number, op: 'disarm' | 'ping' | 'exit'): string {
  return `${JSON.stringify({ op, id })}\n`;
}

/** Splits a byte stream into lines; keeps the unterminated tail (bounded). */
export class LineSplitter {
  #buf = '';
  /** true once a line overflowed and was dropped */
  overflowed = false;
  push(chunk: string): string[] {
    this.#buf += chunk;
    const parts = this.#buf.split('\n');
    this.#buf = parts.pop() ?? '';
    if (this.#buf.length > MAX_LINE_CHARS) {
      // a peer that never sends '\n' must not grow our memory without bound
      this.#buf = '';
      this.overflowed = true;
    }
    return parts.filter((l) => l.trim() !== '');
  }
}
