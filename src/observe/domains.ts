/**
 * Every libvirt domain of a host, with its persistent and live hostdevs, in two virsh batches whatever the number
 * of domains (SPEC 5): one lists the UUIDs, one reads state and both XMLs of each (in as many processes as its
 * argument length needs: one up to ~380 domains). Domains are addressed by
 * UUID: names may hold any character and a numeric name would be looked up as an ID first.
 *
 * Transient domains (`virsh create`, no persistent config) are observed like the others: `dumpxml --inactive` of
 * one prints its running definition, so `persistent` is what it runs with. They must be seen — their hostdevs make a
 * device busy — but `attach-device --config` fails on them, so they are flagged `transient` for the planner.
 */
import { HostError } from '../errors.js';
import type { Virsh } from '../io/virsh.js';
import type { DomainSnapshot, ParsedDomain } from '../model/snapshot.js';
import { parseDomainXml } from '../libvirt/domain-xml.js';
import { DOMAIN_VANISHED, readDomainState } from '../libvirt/domain-state.js';
import { chunkCommands, type BatchChunk, type VirshBatchResult } from '../libvirt/virsh-batch.js';

const PER_DOMAIN = 3;

/**
 * Observes every domain (`list --all`) of the host at `uri`, sorted by name. A domain undefined between the
 * listing and the reading is left out; any other failure to read one is a HostError, because a domain we cannot
 * see may hold the very device a plan would hand out.
 */
export async function observeDomains(virsh: Virsh, uri: string): Promise<DomainSnapshot[]> {
  const [list, transientList] = await virsh.batch(uri, [
    ['list', '--all', '--uuid'],
    ['list', '--transient', '--uuid'],
  ]);
  if (!list?.ok) throw new HostError(`cannot list the domains of ${uri}: ${list?.error ?? 'no output'}`);
  const lines = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
  const uuids = lines(list.output);
  const transient = new Set(transientList?.ok ? lines(transientList.output) : []);
  if (uuids.length === 0) return [];

  const commands = uuids.flatMap((uuid) => [
    ['domstate', '--domain', uuid],
    ['dumpxml', '--inactive', '--domain', uuid],
    ['dumpxml', '--domain', uuid],
  ]);
  // The runs one batch would cut anyway (one process each), read one after the other but parsed while virsh prints
  // the next: on a host of hundreds of domains the XML parsing overlaps the next process instead of following it.
  const chunks = chunkCommands(commands, PER_DOMAIN);
  const domains: DomainSnapshot[] = [];
  let pending = virsh.batch(uri, chunks[0]?.commands ?? []);
  for (let k = 0; k < chunks.length; k++) {
    const results = await pending;
    const chunk = chunks[k] as BatchChunk;
    const next = chunks[k + 1];
    if (next !== undefined) {
      pending = virsh.batch(uri, next.commands);
      // Awaited on the next turn of the loop; until then a failure must not count as unhandled (if parsing this
      // run throws first, the error reported is the parse's).
      pending.catch(() => {});
    }
    const first = chunk.first / PER_DOMAIN;
    readDomains(uuids.slice(first, first + chunk.commands.length / PER_DOMAIN), results, transient, uri, domains);
  }
  return domains.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.uuid < b.uuid ? -1 : 1));
}

/** The domains of one run of batch results (PER_DOMAIN a domain, in `uuids` order), appended to `domains`. */
function readDomains(uuids: string[], results: VirshBatchResult[], transient: Set<string>, uri: string, domains: DomainSnapshot[]): void {
  if (results.length !== uuids.length * PER_DOMAIN) {
    throw new HostError(`virsh returned too few results observing the domains of ${uri}`);
  }
  uuids.forEach((uuid, i) => {
    const [state, inactive, live] = results.slice(i * PER_DOMAIN, (i + 1) * PER_DOMAIN);
    if (state === undefined || inactive === undefined || live === undefined) {
      throw new HostError(`virsh returned too few results observing the domains of ${uri}`);
    }
    const failed = [state, inactive, live].find((r) => !r.ok);
    if (failed) {
      if (DOMAIN_VANISHED.test(failed.error ?? '')) return;
      throw new HostError(`cannot observe domain ${uuid} on ${uri}: ${failed.error}`);
    }
    const known = readDomainState(state.output);
    const persistent = parseXml(inactive.output, uuid, uri);
    domains.push({
      name: persistent.name,
      uuid,
      state: known.state,
      active: known.active,
      transient: transient.has(uuid),
      persistent,
      live: known.active ? parseXml(live.output, uuid, uri) : null,
      persistentXml: inactive.output,
    });
  });
}

function parseXml(xml: string, uuid: string, uri: string): ParsedDomain {
  try {
    return parseDomainXml(xml);
  } catch (error) {
    throw new HostError(`cannot read the XML of domain ${uuid} on ${uri}: ${(error as Error).message}`, { cause: error });
  }
}
