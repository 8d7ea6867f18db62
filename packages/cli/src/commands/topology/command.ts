import { parseCommandArgs } from '../../args.js';
import { type Command, withReader } from '../command.js';
import { renderTopology } from './topology.js';

const USAGE = `usage: hactl topology [global options]

The replication tree: the leader, and under each member the members that
stream from it (its replicatefrom member while that one runs, else the
leader: the rule the agents follow).`;

export const topologyCommand: Command = {
  name: 'topology',
  summary: 'show the replication tree',
  usage: USAGE,
  async run(args, ctx) {
    parseCommandArgs(args, {}, USAGE);
    ctx.settings();
    return withReader(ctx, async (reader) => {
      ctx.io.out(renderTopology(await reader.readView(), ctx.format));
      return 0;
    });
  },
};
