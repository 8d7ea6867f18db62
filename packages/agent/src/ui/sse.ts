/**
 * Server-sent events framing (the WHATWG `text/event-stream` format). A frame is
 * `event:`/`id:` lines, one `data:` line per line of the payload, and a blank
 * line; a line starting with `:` is a comment the browser ignores, used as a
 * heartbeat so proxies do not close an idle stream.
 */
export interface SseFrame {
  readonly event?: string;
  readonly id?: string;
  /** ms the browser waits before reconnecting after the stream drops */
  readonly retryMs?: number;
  readonly data: string;
}

/** One frame as text. Field values never contain a newline: one would start a new field. */
export function sseFrame(frame: SseFrame): string {
  let out = '';
  if (frame.event !== undefined) out += `event: ${singleLine(frame.event)}\n`;
  if (frame.id !== undefined) out += `id: ${singleLine(frame.id)}\n`;
  if (frame.retryMs !== undefined) out += `retry: ${Math.max(0, Math.floor(frame.retryMs))}\n`;
  // a payload line break (\r\n, \r or \n) becomes a new data: line; the browser joins them with \n
  for (const line of frame.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** A comment line: keeps the connection busy without an event reaching the page. */
export function sseComment(text: string): string {
  return `: ${singleLine(text)}\n\n`;
}

function singleLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}
