import { describe, expect, it } from 'vitest';
import { statusBody } from '../src/api/bodies.js';
import { parsePeerStatus } from '../src/peers.js';
import { primaryHealthy } from './api-fixtures.js';

/** What the agent publishes and reads of Patroni's `watchdog_failed` (watchdog.mode required). */
describe('watchdog_failed', () => {
  it('/patroni says watchdog_failed: true only when the required watchdog is unusable', () => {
    expect(statusBody(primaryHealthy)).not.toHaveProperty('watchdog_failed');
    expect(statusBody({ ...primaryHealthy, watchdogFailed: false })).not.toHaveProperty('watchdog_failed');
    const failed = {
      ...primaryHealthy,
      watchdogFailed: true,
      statusReason: 'watchdog required, but /dev/watchdog does not exist',
    };
    expect(statusBody(failed)).toMatchObject({
      watchdog_failed: true,
      status_reason: 'watchdog required, but /dev/watchdog does not exist',
    });
  });

  it("a peer's /patroni watchdog_failed makes it no candidate (PeerStatus.watchdogFailed)", () => {
    expect(parsePeerStatus('n2', { state: 'running', watchdog_failed: true })).toMatchObject({
      watchdogFailed: true,
    });
    expect(parsePeerStatus('n2', { state: 'running' })).not.toHaveProperty('watchdogFailed');
    expect(parsePeerStatus('n2', { state: 'running', watchdog_failed: 'yes' })).not.toHaveProperty(
      'watchdogFailed',
    );
  });
});
