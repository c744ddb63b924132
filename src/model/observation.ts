/**
 * What observing one host of a run gave: its snapshot, or why there is none (unreachable, virsh missing, not in the
 * `--snapshot` file). Hosts are observed independently (SPEC 12): one host's error is reported with that host and
 * never stops or hides another's result.
 */
import type { DesiredHost } from './desired.js';
import type { HostSnapshot } from './snapshot.js';

/** A host that was observed. */
export interface HostObserved {
  host: DesiredHost;
  snapshot: HostSnapshot;
}

/** A host that could not be observed; `error` is the typed error (a PassthruError, with its hint) that said why. */
export interface HostUnobserved {
  host: DesiredHost;
  error: Error;
}

/** One host's observation, in the order of the desired state's hosts. */
export type HostObservation = HostObserved | HostUnobserved;

/** The plain-data form of a host's error in reports (`hosts[].error` in `plan --format json`). */
export interface HostErrorReport {
  message: string;
  /** What to do about it, when known. */
  hint?: string;
}
