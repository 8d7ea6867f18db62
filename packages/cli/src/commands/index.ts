import type { Command } from './command.js';
import { dsnCommand } from './dsn/command.js';
import { editConfigCommand } from './edit-config/command.js';
import { failoverCommand } from './failover/command.js';
import { flushCommand } from './flush/command.js';
import { haproxyConfigCommand } from './haproxy-config/command.js';
import { historyCommand } from './history/command.js';
import { listCommand } from './list/command.js';
import { pauseCmd, resumeCmd } from './pause/command.js';
import { reinitCommand } from './reinit/command.js';
import { reloadCommand } from './reload/command.js';
import { removeCommand } from './remove/command.js';
import { restartCommand } from './restart/command.js';
import { showConfigCommand } from './show-config/command.js';
import { switchoverCommand } from './switchover/command.js';
import { topologyCommand } from './topology/command.js';
import { uiCommand } from './ui/command.js';

export type { Command, CommandContext } from './command.js';

/** Every verb, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  listCommand,
  topologyCommand,
  historyCommand,
  showConfigCommand,
  dsnCommand,
  haproxyConfigCommand,
  switchoverCommand,
  failoverCommand,
  flushCommand,
  editConfigCommand,
  pauseCmd,
  resumeCmd,
  restartCommand,
  reloadCommand,
  reinitCommand,
  removeCommand,
  uiCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
