/**
 * Config files are UTF-8. A file saved as UTF-16 or UTF-32 (Windows
 * editors, PowerShell's `>`) is refused with one line that says so, before
 * its bytes reach the YAML parser: read as UTF-8 it is one long string with
 * a NUL after every letter, and every message about it would quote it.
 */

export type WideEncoding = 'UTF-16LE' | 'UTF-16BE' | 'UTF-32LE' | 'UTF-32BE';

/** How many leading bytes decide the encoding of a file without a byte order mark. */
const SAMPLE_BYTES = 4096;

function bomOf(b: Uint8Array): WideEncoding | null {
  if (b[0] === 0xff && b[1] === 0xfe) return b[2] === 0 && b[3] === 0 ? 'UTF-32LE' : 'UTF-16LE';
  if (b[0] === 0xfe && b[1] === 0xff) return 'UTF-16BE';
  if (b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) return 'UTF-32BE';
  return null;
}

/**
 * Which wide encoding NUL bytes point to: mostly-ASCII text has NULs at odd
 * offsets in UTF-16LE, even ones in UTF-16BE, and three of every four in UTF-32.
 */
function byNulBytes(b: Uint8Array): WideEncoding {
  const nuls = [0, 0, 0, 0];
  const n = Math.min(b.length, SAMPLE_BYTES);
  for (let i = 0; i < n; i++) if (b[i] === 0) nuls[i % 4]!++;
  const groups = n / 4;
  const [c0, c1, c2, c3] = nuls as [number, number, number, number];
  if (c2 > groups / 2 && c3 > groups / 2 && c0 < groups / 2) return 'UTF-32LE';
  if (c0 > groups / 2 && c1 > groups / 2 && c3 < groups / 2) return 'UTF-32BE';
  return c1 + c3 >= c0 + c2 ? 'UTF-16LE' : 'UTF-16BE';
}

/**
 * The wide encoding of a file's bytes, by its byte order mark or, without
 * one, by its NUL bytes (no UTF-8 YAML file holds one); null for UTF-8.
 */
export function wideEncodingOf(bytes: Uint8Array): { encoding: WideEncoding; bom: boolean } | null {
  const bom = bomOf(bytes);
  if (bom !== null) return { encoding: bom, bom: true };
  return bytes.includes(0) ? { encoding: byNulBytes(bytes), bom: false } : null;
}

/** The one-line message for a file in a wide encoding: what it is and how to fix it. */
export function wideEncodingMessage(w: { encoding: WideEncoding; bom: boolean }): string {
  const family = w.encoding.slice(0, 6);
  // with a byte order mark iconv finds the byte order itself (and drops the mark)
  const from = w.bom ? family : w.encoding;
  return `file is ${family} (${w.encoding}${w.bom ? ' with a byte order mark' : ''}); save it as UTF-8 (iconv -f ${from} -t UTF-8)`;
}

/** The same check on text already decoded as UTF-8 (the NULs survive decoding); null when none is found. */
export function nulCharMessage(text: string): string | null {
  return text.includes('\u0000')
    ? 'file contains NUL characters: it is UTF-16 or UTF-32, not UTF-8; save it as UTF-8'
    : null;
}
