/**
 * The offline SR-IOV checks between entries (SPEC 11): a PF listed twice under `sriov`, a VF index the PF's
 * declared count does not have, a PF both split into VFs and claimed whole, one VF claimed twice as
 * `vf: { pf, index }`, and one MAC given to two VF interfaces. A VF claimed once by address and once by PF + index
 * cannot be told offline (its address depends on the PF's offset and stride): the planner blocks that one.
 */
import type { InputDiagnostic } from '../errors.js';
import type { DesiredState, SourcePos, SriovPf } from '../model/desired.js';
import { canonicalOverlaps } from '../model/pci-address.js';
import { describePath } from './source.js';

const at = (pos: SourcePos) => `${pos.line}:${pos.col}`;

/** Every SR-IOV conflict of `state`, one diagnostic at the later (or offending) entry; hosts are kept apart. */
export function findSriovConflicts(state: DesiredState): InputDiagnostic[] {
  const diagnostics: InputDiagnostic[] = [];
  for (const host of state.hosts) {
    const split = new Map<string, SriovPf>();
    for (const entry of (state.sriov ?? []).filter((e) => e.host === host.name)) {
      const earlier = split.get(entry.pf);
      if (earlier) {
        diagnostics.push({
          ...entry.pos,
          message: `${entry.pf} is already listed under sriov (${at(earlier.pos)}) on host ${host.name}`,
          hint: 'a PF has one VF count: remove one of the entries',
        });
        continue;
      }
      split.set(entry.pf, entry);
    }
    const vfs = new Map<string, string>();
    const macs = new Map<string, { where: string; pos: SourcePos }>();
    for (const vm of state.vms.filter((v) => v.host === host.name)) {
      vm.devices.forEach((claim, i) => {
        const where = describePath(['vms', vm.name, 'devices', i]);
        const mac = claim.interface?.mac ?? null;
        if (mac !== null) {
          const earlier = macs.get(mac);
          if (earlier) {
            diagnostics.push({
              ...claim.pos,
              message: `${where}: MAC ${mac} is already given to ${earlier.where} (${at(earlier.pos)}) on host ${host.name}`,
              hint: 'two NICs with one MAC break both: give each VF interface its own MAC, or leave mac out to let libvirt pick one',
            });
          } else macs.set(mac, { where, pos: claim.pos });
        }
        if (claim.kind === 'address') {
          const pf = [...split.values()].find((e) => e.numVfs > 0 && canonicalOverlaps(claim.address, e.pf));
          if (pf) {
            diagnostics.push({
              ...claim.pos,
              message: `${where} claims ${claim.address}, which sriov (${at(pf.pos)}) splits into ${pf.numVfs} VFs`,
              hint: 'a PF with VFs stays on its host driver: claim its VFs (vf: { pf, index } or match: { pf }), or set numVfs: 0',
            });
          }
          return;
        }
        if (claim.kind !== 'vf' && claim.kind !== 'vf-match') return;
        const declared = split.get(claim.pf);
        const wanted = claim.kind === 'vf' ? claim.index + 1 : claim.count;
        if (declared && wanted > declared.numVfs) {
          diagnostics.push({
            ...claim.pos,
            message:
              claim.kind === 'vf'
                ? `${where}: VF ${claim.index} of ${claim.pf} does not exist: sriov (${at(declared.pos)}) gives it ${declared.numVfs} VFs (0-${declared.numVfs - 1})`
                : `${where} wants ${claim.count} VFs of ${claim.pf}, but sriov (${at(declared.pos)}) gives it ${declared.numVfs}`,
            hint: `raise numVfs at ${at(declared.pos)}, or pick a VF below ${declared.numVfs}`,
          });
        }
        if (claim.kind !== 'vf') return;
        const key = `${claim.pf}/${claim.index}`;
        const earlier = vfs.get(key);
        if (earlier) {
          diagnostics.push({
            ...claim.pos,
            message: `${where}: VF ${claim.index} of ${claim.pf} is already claimed by ${earlier}`,
            hint: 'a VF can be passed through to one VM only: remove one of the claims',
          });
        } else vfs.set(key, `${where} (${at(claim.pos)})`);
      });
    }
  }
  return diagnostics;
}
