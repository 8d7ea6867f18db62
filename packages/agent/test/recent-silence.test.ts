import { describe, expect, it } from 'vitest';
import { rememberSilence } from '../src/fast-failover/recent-silence.js';
import type { TakeoverProbes } from '../src/fast-failover/evidence.js';

const leader = { name: 'b', apiUrl: 'http://b:8008/patroni', connUrl: 'postgres://b:5432/postgres' } as never;

function counting(answers: { rest: boolean; port: boolean }) {
  const calls: string[] = [];
  const called = <T>(what: string, answer: T) => {
    calls.push(what);
    return answer;
  };
  const probes: TakeoverProbes = {
    streamSilenceMs: async () => called('silence', null),
    restAnswers: async () => called('rest', answers.rest),
    portAnswers: async () => called('port', answers.port),
    leaseTimeToLive: async () => called('ttl', null),
  };
  return { probes, calls };
}

describe('rememberSilence: a leader that did not answer is not waited for again at once', () => {
  it('a silent probe is remembered for 2 × its timeout; the stream and the lease are asked each time', async () => {
    let now = 1000;
    const { probes, calls } = counting({ rest: false, port: false });
    const p = rememberSilence(probes, () => now);
    expect(await p.restAnswers(leader, 500)).toBe(false);
    expect(await p.portAnswers(leader, 500)).toBe(false);
    now += 999;
    expect(await p.restAnswers(leader, 500)).toBe(false);
    expect(await p.portAnswers(leader, 500)).toBe(false);
    await p.streamSilenceMs();
    await p.leaseTimeToLive('7');
    expect(calls).toEqual(['rest', 'port', 'silence', 'ttl']);
    now += 1;
    await p.restAnswers(leader, 500);
    expect(calls.at(-1)).toBe('rest');
  });

  it('an answer is never remembered', async () => {
    const answers = { rest: true, port: true };
    const { probes, calls } = counting(answers);
    const p = rememberSilence(probes, () => 0);
    expect(await p.restAnswers(leader, 500)).toBe(true);
    expect(await p.restAnswers(leader, 500)).toBe(true);
    expect(calls).toEqual(['rest', 'rest']);
  });
});
