/**
 * Library entry: the pure functions integrators (a web UI, an Ansible module) build on (SPEC 7). Nothing exported
 * here touches the host: parse what virsh printed, load a passthrough.yaml text, plan from plain data, render.
 */
export * from './model/pci-address.js';
export type * from './model/snapshot.js';
export type * from './model/desired.js';
export type * from './model/plan.js';
export { SNAPSHOT_FORMAT_VERSION } from './model/snapshot.js';
export { PLAN_FORMAT_VERSION, ACTION_ORDER } from './model/plan.js';
export * from './errors.js';
export { parseDomainXml } from './libvirt/domain-xml.js';
export { parseNodeDeviceXml, type NodeDevice } from './libvirt/nodedev-xml.js';
export { loadDesiredState } from './desired/load.js';
export { withConnectUri } from './desired/connect.js';
export { desiredForHost } from './desired/slice.js';
export { isLocalUri } from './desired/uri.js';
export { planHost } from './plan/plan-host.js';
export { planAll, assemblePlan } from './plan/plan-all.js';
export { fingerprintSnapshot } from './plan/fingerprint.js';
export { simulate, type SimulateOptions } from './plan/simulate.js';
export { renderPlanText } from './render/plan-text.js';
export { renderPlanJson, type PlanJson, type HostPlanJson } from './render/plan-json.js';
export { renderPlanDiff } from './render/plan-diff.js';
export { renderPlanSh } from './render/plan-sh.js';
export { renderCheckJunit } from './render/check-junit.js';
export { hostdevXml, interfaceHostdevXml } from './libvirt/hostdev-xml.js';
export { plainStyle, colorStyle, type Style } from './render/style.js';
export { doctorChecks, type DoctorCheck } from './doctor/checks.js';
