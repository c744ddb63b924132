/**
 * Library entry: the pure functions integrators (a web UI, an Ansible module) build on. Nothing exported here
 * touches the host.
 */
export * from './model/pci-address.js';
export type * from './model/snapshot.js';
export type * from './model/desired.js';
export type * from './model/plan.js';
export { SNAPSHOT_FORMAT_VERSION } from './model/snapshot.js';
export { PLAN_FORMAT_VERSION, ACTION_ORDER } from './model/plan.js';
export * from './errors.js';
