/**
 * Lines of `virsh event --all --loop` (libvirt 9.0), which the agent follows per host to reconcile soon after a
 * domain changes instead of at the next interval. Recorded real output is in test/fixtures/virsh/event-all-loop.txt:
 *
 *     event 'lifecycle' for domain 'rhel7.3': Started Booted
 *     event 'metadata-change' for domain 'rhel7.3': type description, uri <null>
 *
 * Domain names are printed raw (a name may hold quotes), so the name is taken up to the LAST `'` before the detail;
 * it is only shown in logs. Config-only device changes (`attach-device --config`, `detach-device --config`) emit
 * no event at all (measured with libvirt 9.0): the interval is what catches those.
 */

/** One event line. */
export interface DomainEvent {
  /** `lifecycle`, `device-added`, `metadata-change`, ... */
  event: string;
  domain: string;
  /** `Started Booted`, `Defined Updated`, ...; '' when there is none. */
  detail: string;
}

/** The event in `line`, or null for anything else virsh prints (`events received: 4`, `error: ...`). */
export function parseDomainEventLine(line: string): DomainEvent | null {
  const m = /^event '([^']+)' for domain '(.*)'(?:: (.*))?$/.exec(line.trimEnd());
  return m ? { event: m[1] ?? '', domain: m[2] ?? '', detail: m[3] ?? '' } : null;
}

/**
 * Events that can change what passthru sees: a domain defined, undefined, started, stopped (lifecycle), or a device
 * hot-plugged or unplugged. Metadata, RTC, balloon and job events cannot.
 */
export function changesHostdevs(e: DomainEvent): boolean {
  return e.event === 'lifecycle' || e.event.startsWith('device-');
}
