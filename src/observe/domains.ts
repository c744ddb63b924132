/**
 * Every libvirt domain of a host, with its persistent and live hostdevs, in two virsh processes whatever the number
 * of domains (SPEC 5): one lists the UUIDs, one batch reads state and both XMLs of each. Domains are addressed by
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

  const results = await virsh.batch(
    uri,
    uuids.flatMap((uuid) => [
      ['domstate', '--domain', uuid],
      ['dumpxml', '--inactive', '--domain', uuid],
      ['dumpxml', '--domain', uuid],
    ]),
  );
  const domains: DomainSnapshot[] = [];
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
  return domains.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.uuid < b.uuid ? -1 : 1));
}

function parseXml(xml: string, uuid: string, uri: string): ParsedDomain {
  try {
    return parseDomainXml(xml);
  } catch (error) {
    throw new HostError(`cannot read the XML of domain ${uuid} on ${uri}: ${(error as Error).message}`, { cause: error });
  }
}
