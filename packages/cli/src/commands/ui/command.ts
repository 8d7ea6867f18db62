import { parseCommandArgs } from '../../args.js';
import { renderData } from '../../output/index.js';
import { type Command, withReader } from '../command.js';
import { openInBrowser, reachableDashboard } from './ui.js';

const USAGE = `usage: hactl ui [--member NAME] [--open] [global options]

Prints the URL of a reachable member's dashboard (GET /ui): the leader's when it
answers, else another member's.
  --member NAME   that member's dashboard
  --open          also open it with xdg-open
  -o json         {"url": "..."}`;

export const uiCommand: Command = {
  name: 'ui',
  summary: "print (or open) the URL of a member's browser dashboard",
  usage: USAGE,
  async run(args, ctx) {
    const { values } = parseCommandArgs(
      args,
      { member: { type: 'string' }, open: { type: 'boolean' } },
      USAGE,
    );
    ctx.settings();
    const api = ctx.api();
    return withReader(ctx, async (reader) => {
      const url = await reachableDashboard(
        await reader.readView(),
        api,
        (values.member as string | undefined) ?? null,
      );
      ctx.io.out(ctx.format === 'table' ? `${url}\n` : renderData(ctx.format, { url }));
      if (values.open === true) await openInBrowser(url);
      return 0;
    });
  },
};
