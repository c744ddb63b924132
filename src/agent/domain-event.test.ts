import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { changesHostdevs, parseDomainEventLine } from './domain-event.js';

/** Real `LC_ALL=C virsh event --all --loop` output (stdout and stderr), recorded against a private libvirtd. */
const recorded = readFileSync(new URL('../../test/fixtures/virsh/event-all-loop.txt', import.meta.url), 'utf8');

describe('parseDomainEventLine', () => {
  it('parses every event of the recorded stream, and nothing else', () => {
    const events = recorded.split('\n').map(parseDomainEventLine);
    expect(events.filter((e) => e !== null)).toEqual([
      { event: 'lifecycle', domain: `rec 'odd' "name"`, detail: 'Defined Added' },
      { event: 'metadata-change', domain: `rec 'odd' "name"`, detail: 'type description, uri <null>' },
      { event: 'lifecycle', domain: `rec 'odd' "name"`, detail: 'Defined Updated' },
      { event: 'lifecycle', domain: `rec 'odd' "name"`, detail: 'Resumed Unpaused' },
      { event: 'lifecycle', domain: `rec 'odd' "name"`, detail: 'Started Booted' },
      { event: 'lifecycle', domain: `rec 'odd' "name"`, detail: 'Suspended Paused' },
      { event: 'lifecycle', domain: `rec 'odd' "name"`, detail: 'Resumed Unpaused' },
      { event: 'lifecycle', domain: `rec 'odd' "name"`, detail: 'Shutdown Finished after host request' },
      { event: 'lifecycle', domain: `rec 'odd' "name"`, detail: 'Stopped Destroyed' },
      { event: 'lifecycle', domain: `rec 'odd' "name"`, detail: 'Undefined Removed' },
    ]);
    // The daemon going away ends the stream with errors and a count, which are not events.
    expect(parseDomainEventLine('events received: 10')).toBeNull();
    expect(parseDomainEventLine('error: Disconnected from qemu+unix:///session?socket=/x due to end of file')).toBeNull();
    expect(parseDomainEventLine('')).toBeNull();
  });

  it('keeps an event without detail', () => {
    expect(parseDomainEventLine("event 'reboot' for domain 'web 01'")).toEqual({ event: 'reboot', domain: 'web 01', detail: '' });
  });
});

describe('changesHostdevs', () => {
  it('lifecycle and device events count; metadata and others do not', () => {
    const e = (event: string) => ({ event, domain: 'x', detail: '' });
    expect(['lifecycle', 'device-added', 'device-removed', 'device-removal-failed'].map((n) => changesHostdevs(e(n)))).toEqual([true, true, true, true]);
    expect(['metadata-change', 'rtc-change', 'balloon-change', 'job-completed', 'reboot'].map((n) => changesHostdevs(e(n)))).toEqual([false, false, false, false, false]);
  });
});
