/**
 * The agent's domain-event streams against a private libvirtd: one `virsh event --all --loop` per host delivers a
 * define as an event of that host; a host no longer followed delivers nothing; a daemon that goes away ends the
 * stream, which is logged and restarted with backoff; close() leaves no virsh behind.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../src/agent/domain-event.js';
import { createDomainEvents } from '../src/io/domain-event-stream.js';
import { defineDomain, libvirtdUnavailable, startPrivateLibvirtd } from './helpers/libvirtd.js';
import type { PrivateLibvirtd } from './helpers/libvirtd.js';

const unavailable = libvirtdUnavailable();
if (unavailable) console.warn(`agent-domain-events: ${unavailable}`);

/** virsh processes following events of `uri` (there must be none once the streams are closed). */
async function eventStreams(uri: string): Promise<number> {
  const ps = await execa('pgrep', ['-f', '-a', 'event --all --loop'], { reject: false });
  return ps.stdout.split('\n').filter((l) => l.includes(uri)).length;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, step: () => Promise<unknown> = async () => undefined, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await step();
    await sleep(100);
  }
}

describe.skipIf(unavailable !== null)('domain event streams (private libvirtd)', () => {
  let libvirtd: PrivateLibvirtd;
  beforeAll(async () => {
    libvirtd = await startPrivateLibvirtd();
  });
  afterAll(() => libvirtd?.stop());

  it('delivers a define as an event of the host, restarts a dead stream, and leaves no virsh behind', async () => {
    const events: { host: string; event: DomainEvent }[] = [];
    const logs: string[] = [];
    const streams = createDomainEvents({
      binary: '/usr/bin/virsh',
      onEvent: (host, event) => events.push({ host, event }),
      log: (level, message) => logs.push(`${level}: ${message}`),
      restartMs: { initial: 100, max: 400 },
    });
    try {
      streams.follow([{ name: 'hv1', uri: libvirtd.uri }]);
      // The stream connects asynchronously: redefine until it has seen one (a define is an event each time).
      let n = 0;
      await until('a lifecycle event', () => events.length > 0, () => defineDomain(libvirtd, { name: `ev-${n++}`, uuid: '6f4c2b1a-0000-4000-8000-0000000000e1' }));
      expect(events[0]).toMatchObject({ host: 'hv1', event: { event: 'lifecycle', detail: expect.stringMatching(/^Defined (Added|Updated)$/) } });
      expect(await eventStreams(libvirtd.uri)).toBe(1);

      // Following no host stops the stream: no more events.
      streams.follow([]);
      await until('the stream to stop', async () => (await eventStreams(libvirtd.uri)) === 0);
      const seen = events.length;
      await libvirtd.virsh(['undefine', '--domain', '6f4c2b1a-0000-4000-8000-0000000000e1']);
      await sleep(300);
      expect(events.length).toBe(seen);

      // The daemon going away ends the stream: logged, and restarted (failing while the daemon is gone).
      streams.follow([{ name: 'hv1', uri: libvirtd.uri }]);
      await until('the stream to run again', async () => (await eventStreams(libvirtd.uri)) === 1);
      await libvirtd.stop();
      await until('two restarts', () => logs.filter((l) => l.includes('libvirt domain events stopped')).length >= 2);
      expect(logs[0]).toMatch(/^warn: hv1: libvirt domain events stopped \(error: .+\); polling every interval meanwhile, restarting the stream in \d+ms$/);
    } finally {
      await streams.close();
    }
    await sleep(200);
    expect(await eventStreams(libvirtd.uri)).toBe(0);
  });
});
