/**
 * What an apply did and where each host stands: the reports `apply --format json` prints (a public, versioned
 * view like the plan's: fields may be added), built by the apply stage and rendered by render/apply-report.ts.
 */
import type { Action, StepKind } from './plan.js';

/** The outcome of one step (a planned action, or an undo during rollback). */
export interface StepResult {
  /** 1-based position in the plan; for an undo, the position of the step it undoes. */
  step: number;
  kind: StepKind;
  /** For humans: `nodedev-detach 0000:07:00.0`. */
  label: string;
  ok: boolean;
  /** Commands run: 0 when an undo found nothing to undo, 2 after the seed's detach retry. */
  attempts: number;
  /**
   * Why each attempt before the last one did not do: `virsh reported success but 0000:07:00.0 is on igb (expected
   * vfio-pci)`. Non-empty on a success means the step needed the seed's retry, which the report must say.
   */
  earlierAttempts: string[];
  /** The last virsh argv run (without the connection), or null when none ran. */
  command: string[] | null;
  exitCode: number | null;
  /** virsh's short message, `timed out after 2m`, or what verification observed instead. */
  error: string | null;
  /** A remark on a success, e.g. "already in the domain configuration". */
  note: string | null;
  /**
   * Set when a device did not come back to its host driver (a reattach that timed out, or left it unbound or on
   * vfio-pci): what an operator can do, in order (SPEC 13). Absent otherwise.
   */
  remedies?: string[];
  durationMs: number;
}

/** Why an apply failed: a step (with its position), the final check, or an interruption. */
export interface ApplyFailure {
  kind: 'step' | 'final-check' | 'interrupted';
  /** The failed step; null for the final check and an interruption. */
  step: number | null;
  action: Action | null;
  /** virsh's message, what the final check found, or `interrupted by SIGTERM`. */
  error: string;
}

/** Everything an apply did and where the host stands. */
export interface ApplyReport {
  host: string;
  uri: string;
  ok: boolean;
  /** The planned steps that ran, in order; the last one is the failed one when `failure.kind` is `step`. */
  steps: StepResult[];
  failure: ApplyFailure | null;
  /** The undo steps, in the order they ran (reverse plan order). */
  rollback: StepResult[];
  /** True when the host was observed back in its state before the apply (always true on success). */
  restored: boolean;
  /** When not restored: each thing not as it was, e.g. `0000:07:00.0 is on vfio-pci (was igb)`. */
  leftovers: string[];
}

/**
 * Why a host of the plan was not applied to: `unreachable` (it could not be observed), `blocked` (its plan has
 * blocking problems), `refused` (its lock was held, or it changed since the plan), `not-attempted` (an earlier wave
 * failed, or the apply was interrupted, before its wave began).
 */
export type NotAppliedState = 'unreachable' | 'blocked' | 'refused' | 'not-attempted';

/** A host that was not applied to, and why. `wave` is its 1-based wave (null for a host in no wave). */
export interface HostRefusal {
  host: string;
  state: NotAppliedState;
  error: Error;
  wave: number | null;
}

/** Every host's result: a report for each host whose apply ran, a refusal for each that was not touched. */
export interface ApplyOutcome {
  reports: ApplyReport[];
  refused: HostRefusal[];
  /** The hosts of each wave, in order (one wave without `--batches`); empty when no host had changes to apply. */
  waves: string[][];
}
