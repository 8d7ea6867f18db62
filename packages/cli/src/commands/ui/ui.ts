import { type ClusterView, sortMembers } from '@hapg/core';
import { spawn } from 'node:child_process';
import { ApiUnreachableError, apiBaseUrl, type MemberApi } from '../../api/member-api.js';
import { CliError } from '../../errors.js';

/**
 * The URL of the first member whose dashboard answers: the one named, else the leader first,
 * then the others in `hactl list` order. A member that does not answer is skipped, so the
 * URL printed is one a browser can open now.
 */
export async function reachableDashboard(
  view: ClusterView,
  api: MemberApi,
  member: string | null,
): Promise<string> {
  const members = sortMembers(view).filter((m) => member === null || m.name === member);
  if (members.length === 0)
    throw new CliError(
      member === null
        ? `cluster ${JSON.stringify(view.scope)} has no members`
        : `no member ${JSON.stringify(member)} in cluster ${JSON.stringify(view.scope)}`,
    );
  const tried: string[] = [];
  for (const m of members) {
    try {
      const reply = await api.request(m.apiUrl, 'GET', '/ui/state');
      if (reply.status === 200) return `${apiBaseUrl(m.apiUrl)}/ui`;
      tried.push(`${m.name}: HTTP ${reply.status}`);
    } catch (e) {
      if (!(e instanceof ApiUnreachableError)) throw e;
      tried.push(`${m.name}: ${e.message}`);
    }
  }
  throw new CliError(`no member's dashboard answered (${tried.join('; ')})`);
}

/** Opens `url` in the desktop's browser; an argument array, never a shell string. */
export function openInBrowser(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
    child.once('error', (e) => reject(new CliError(`cannot run xdg-open: ${e.message}`)));
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}
