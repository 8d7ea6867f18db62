/** Polls `f` every 5 ms until it gives a truthy value; rejects after `timeoutMs`, naming `what`. */
export async function until<T>(
  what: string,
  f: () => T | null | undefined | false,
  timeoutMs = 2000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
