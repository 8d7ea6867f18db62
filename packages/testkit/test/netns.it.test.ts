import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetLab } from '../src/netns.js';
import type { TrackedProcess } from '../src/proc.js';

/** A connect attempt from inside `from` (or from the root namespace) to `to:7000`: what happened. */
function probe(lab: NetLab, from: string | null, to: string): string {
  const script = `const s=require('net').connect(7000,'${lab.host(to).address}');s.setTimeout(700);
    s.on('connect',()=>{console.log('connected');process.exit(0)});
    s.on('timeout',()=>{console.log('timeout');process.exit(0)});
    s.on('error',(e)=>{console.log(e.code);process.exit(0)});`;
  const args = ['-e', script];
  const out =
    from === null
      ? execFileSync(process.execPath, args, { encoding: 'utf8' })
      : execFileSync('ip', ['netns', 'exec', lab.host(from).ns, process.execPath, ...args], {
          encoding: 'utf8',
        });
  return out.trim();
}

describe('NetLab: namespaced hosts whose packets a cut drops', () => {
  let lab: NetLab;
  let server: TrackedProcess;

  beforeAll(async () => {
    lab = await NetLab.create(['a', 'b']);
    server = lab
      .host('b')
      .spawn(process.execPath, [
        '-e',
        `require('net').createServer((c)=>c.end()).listen(7000,'${lab.host('b').address}',()=>console.log('up'))`,
      ]);
    await once(server.child.stdout!, 'data');
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('hosts reach each other and clients reach both; each host has its own address', () => {
    expect(lab.host('a').address).not.toBe(lab.host('b').address);
    expect(probe(lab, 'a', 'b')).toBe('connected');
    expect(probe(lab, null, 'b')).toBe('connected');
  });

  it('a cut drops packets both ways — a connect times out, it is not refused — and heal restores', async () => {
    await lab.cut('b', ['a']);
    expect(probe(lab, 'a', 'b')).toBe('timeout');
    expect(probe(lab, null, 'b')).toBe('connected'); // clients were not cut
    await lab.isolate('b', { clients: true });
    expect(probe(lab, null, 'b')).toBe('timeout');
    expect([...lab.cutsOf('b')].sort()).toEqual(['a', 'clients']);
    await lab.heal('b');
    expect(probe(lab, 'a', 'b')).toBe('connected');
    expect(probe(lab, null, 'b')).toBe('connected');
  });

  it('close removes the namespaces, the bridge and every process in them', async () => {
    const other = await NetLab.create(['x']);
    const p = other.host('x').spawn('sleep', ['600']);
    await other.close();
    await p.exited;
    const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(ns).not.toContain(other.host('x').ns);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(other.bridge);
  });
});
