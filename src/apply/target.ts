/**
 * What `apply` looks at to verify a step: the one device's driver, or the one domain's XML. A full observation per
 * step would cost a whole-host sweep; verifying needs only the target, read fresh, judged by plan/expectation.ts.
 */
import { HostError } from '../errors.js';
import { describeExit, virshError, type Virsh } from '../io/virsh.js';

export { virshError };
import type { VirshBatchResult } from '../libvirt/virsh-batch.js';
import { nodedevName, pciFunction } from '../model/pci-address.js';
import type { ParsedDomain } from '../model/snapshot.js';
import type { Expectation } from '../plan/action-steps.js';
import { HOLDS, judgeDomain, judgeDriver, judgeNumVfs, judgePersisted, type Verdict } from '../plan/expectation.js';
import { readOverride } from '../observe/driverctl.js';
import { parseDomainXml } from '../libvirt/domain-xml.js';
import { parseNodeDeviceXml } from '../libvirt/nodedev-xml.js';
import { DOMAIN_VANISHED, readDomainState } from '../libvirt/domain-state.js';
import { HostFs } from '../io/host-fs.js';
import { sriovSysfs, type SriovSysfs } from '../io/sriov-sysfs.js';
import { InternalError } from '../errors.js';

/** Reads back the target of a step. Both methods observe the host anew on every call (no caching). */
export interface TargetObserver {
  /** The driver bound to a PCI function (`igb`, `vfio-pci`), or null when none is. */
  deviceDriver(address: string): Promise<string | null>;
  /**
   * A domain's persistent (`dumpxml --inactive`) or live XML, parsed; null when the domain does not exist or, for
   * `live`, is not running.
   */
  domain(uuid: string, which: 'persistent' | 'live'): Promise<ParsedDomain | null>;
  /**
   * The local host's SR-IOV controls: read to verify, and written by the `set-numvfs`/`persist-numvfs` steps.
   * Absent for a remote host (the planner blocks VF count changes there).
   */
  sriov?: SriovSysfs;
  /** The driver the device's driverctl override persists (`/etc/driverctl.d/pci-ADDR`), or null when there is none. */
  persistedOverride(address: string): Promise<string | null>;
}

/** How to reach the host whose steps are verified. */
export interface HostTargetOptions {
  uri: string;
  virsh: Virsh;
  /**
   * The local host's file tree (`--root`): drivers are read from its sysfs. Null for a remote host, whose drivers
   * come from `nodedev-dumpxml` (one virsh process per check).
   */
  root: string | null;
  /** Timeout of each virsh process. */
  timeoutMs?: number;
}

/** The real observer: sysfs (or node devices) for drivers, `virsh dumpxml` for domains. */
export function hostTarget(options: HostTargetOptions): TargetObserver {
  const { uri, virsh, root, timeoutMs } = options;
  /** stdout of one virsh command; null when `missingDomain` and the domain does not exist. */
  const run = async (args: string[], missingDomain = false): Promise<string | null> => {
    const r = await virsh.run(uri, args, { timeoutMs });
    if (r.exitCode === 0 && !r.timedOut) return r.stdout;
    if (missingDomain && DOMAIN_VANISHED.test(r.stderr)) return null;
    const why = r.timedOut ? `timed out after ${timeoutMs} ms` : (virshError(r.stderr) ?? `virsh ${describeExit(r)}`);
    throw new HostError(`virsh ${args.join(' ')} failed: ${why}`);
  };
  return {
    ...(root === null ? {} : { sriov: sriovSysfs(root) }),
    async deviceDriver(address) {
      if (root !== null) {
        // A fresh HostFs: its link cache must not outlive this one reading.
        const link = new HostFs(root).readlink(`/sys/bus/pci/devices/${address}/driver`);
        return link === null ? null : (link.split('/').pop() ?? null);
      }
      const xml = await run(['nodedev-dumpxml', '--device', nodedevName(pciFunction(address))]);
      // The same reading of node device XML as observation's, so a step is judged by what planned it.
      return parseNodeDeviceXml(xml ?? '')?.driver ?? null;
    },
    async domain(uuid, which) {
      if (which === 'persistent') {
        const xml = await run(['dumpxml', '--inactive', '--domain', uuid], true);
        return xml === null ? null : parseDomainXml(xml);
      }
      // `dumpxml` of a shut-off domain prints its inactive XML, so ask for the state in the same process.
      const commands = [['domstate', '--domain', uuid], ['dumpxml', '--domain', uuid]];
      const results = await virsh.batch(uri, commands, { timeoutMs });
      const failed = commands.findIndex((_, k) => !results[k]?.ok);
      if (failed >= 0) {
        const error = results[failed]?.error ?? 'no result';
        if (DOMAIN_VANISHED.test(error)) return null;
        // An unreadable live XML must fail the verification, not pass an "absent" one as "not running".
        throw new HostError(`virsh ${commands[failed]?.join(' ')} failed: ${error}`);
      }
      const [state, xml] = results as [VirshBatchResult, VirshBatchResult];
      return readDomainState(state.output).active ? parseDomainXml(xml.output) : null;
    },
    async persistedOverride(address) {
      if (root === null) throw new HostError(`the persisted binding of ${address} cannot be read: ${uri} is a remote host (its /etc is not visible)`);
      const override = readOverride(new HostFs(root), address);
      if (override?.unreadable !== undefined) throw new HostError(override.unreadable);
      return override?.driver ?? null;
    },
  };
}

/**
 * Observes the target of `e` afresh and judges it (plan/expectation.ts). Observation errors propagate: the step
 * fails with them.
 */
export async function verify(e: Expectation, target: TargetObserver): Promise<Verdict> {
  if (e.what === 'driver' || e.what === 'released') return judgeDriver(e, await target.deviceDriver(e.address));
  if (e.what === 'numvfs' || e.what === 'numvfs-persisted') {
    if (!target.sriov) throw new InternalError(`${e.address}: SR-IOV counts are verified on the local host only`);
    return judgeNumVfs(e, e.what === 'numvfs' ? await target.sriov.read(e.address) : await target.sriov.persisted(e.address));
  }
  if (e.what === 'persisted') return judgePersisted(e, await target.persistedOverride(e.address));
  for (const scope of e.scopes) {
    const verdict = judgeDomain(e, await target.domain(e.uuid, scope), scope);
    if (!verdict.holds) return verdict;
  }
  return HOLDS;
}
