import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Helpers of the deploy/ tests (Compose, Kubernetes): reading the files as data. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export function repoFile(path: string): string {
  return readFileSync(resolve(REPO_ROOT, path), 'utf8');
}

/**
 * Compose's variable interpolation, for the forms the files use: `${NAME}`, `${NAME:-default}`,
 * `${NAME-default}`, and `$$` for a literal `$`.
 */
export function interpolate(text: string, env: Readonly<Record<string, string>> = {}): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}/g,
    (match, name: string | undefined, colon: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$';
      const value = env[name!];
      if (value === undefined || (colon === ':' && value === '')) return fallback ?? '';
      return value;
    },
  );
}

/** An HAProxy config as sections (`listen primary`, `defaults`, ...) of trimmed, comment-free lines. */
export function haproxySections(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (line.trim() === '') continue;
    if (!/^\s/.test(line)) {
      current = [];
      sections.set(line.trim().replace(/\s+/g, ' '), current);
    } else current?.push(line.trim().replace(/\s+/g, ' '));
  }
  return sections;
}

/** `--flag=value` arguments as a map (a bare `--flag` maps to ''). */
export function flags(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of args) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m) out.set(m[1]!, m[2] ?? '');
  }
  return out;
}

/** `a=x,b=y` (etcd's --initial-cluster) as a map. */
export function initialCluster(value: string): Map<string, string> {
  return new Map(
    value.split(',').map((member) => {
      const eq = member.indexOf('=');
      return [member.slice(0, eq), member.slice(eq + 1)] as [string, string];
    }),
  );
}
