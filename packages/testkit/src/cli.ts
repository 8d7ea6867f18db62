#!/usr/bin/env node
import { cleanupTestDisks } from './host-faults.js';
import { cleanupNetLabs } from './netns.js';

/**
 * `npm run testkit -- cleanup`: removes what a crashed test run left on the machine — every
 * `hapg<N>-*` network namespace (and the processes in it), every `hapgbr<N>` bridge, and every
 * test tmpfs (`hapg-test-disk`) still mounted.
 */
const USAGE = 'usage: testkit cleanup';

function main(argv: readonly string[]): number {
  if (argv[0] !== 'cleanup' || argv.length > 1) {
    console.error(USAGE);
    return 2;
  }
  const removed = [...cleanupNetLabs(), ...cleanupTestDisks()];
  console.log(removed.length === 0 ? 'nothing to clean up' : `removed: ${removed.join(' ')}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
