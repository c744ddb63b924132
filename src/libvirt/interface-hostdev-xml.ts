/**
 * What an SR-IOV `<interface type='hostdev'>` says beyond its source address and MAC (SPEC 11): its VLAN tags and
 * `trustGuestRxFilters`, read as libvirt reads them: each `<vlan><tag id='N'/>` (several tags = a trunk), and the
 * attribute `yes` or anything else (no). It takes the raw attribute values, so that the domain parser hands them
 * over without this file depending on its XML reader.
 */
import { HostError } from '../errors.js';

/** The VF interface settings passthru owns; each only when set (an untagged, untrusted VF has neither). */
export interface VfInterfaceSettings {
  vlan?: number[];
  trust?: true;
}

/**
 * The settings of one `<interface type='hostdev'>`, from its tags' `id` attributes and its `trustGuestRxFilters`
 * attribute (undefined when absent). Throws a HostError for a tag id that is not a VLAN ID.
 */
export function readVfInterfaceSettings(tagIds: readonly (string | undefined)[], trust: string | undefined, what: string): VfInterfaceSettings {
  const vlan = tagIds.map((raw) => {
    const id = raw?.trim() ?? '';
    if (!/^\d{1,4}$/.test(id) || Number(id) > 4095) throw new HostError(`${what}: <vlan><tag id='${id}'/> is not a VLAN ID (0-4095)`);
    return Number(id);
  });
  return { ...(vlan.length > 0 ? { vlan } : {}), ...(trust === 'yes' ? { trust: true as const } : {}) };
}
