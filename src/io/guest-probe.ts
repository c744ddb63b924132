/**
 * Asking a running guest which PCI devices it has (SPEC 13 `verify`): through the QEMU guest agent where it answers
 * (`guest-get-osinfo`; then `guest-get-devices` on Windows, else `guest-exec` of a sysfs listing and bounded
 * `guest-exec-status` polling), else, only when allowed (`--qmp`), through QEMU's monitor (`query-pci`), which makes
 * libvirt mark the domain tainted. Every virsh process has a timeout; the replies are read by libvirt/guest-replies.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PassthruError } from '../errors.js';
import {
  GUEST_PCI_LISTING,
  parseExecStarted,
  parseExecStatus,
  parseGuestDevices,
  parseGuestListing,
  parseOsInfo,
  parseQueryPci,
} from '../libvirt/guest-replies.js';
import type { GuestView } from '../plan/guest-verify.js';
import { describeExit, virshError, type Virsh } from './virsh.js';

/** How long and how often to ask. */
export interface GuestProbeOptions {
  /** Use QEMU's monitor when the agent does not answer. */
  qmp: boolean;
  /** Seconds the agent has for each command (`qemu-agent-command --timeout`). */
  agentTimeoutSeconds: number;
  /** `guest-exec-status` readings before the listing counts as hung, and the wait between them. */
  execPolls: number;
  execPollMs: number;
  /** How often, and how far apart, an agent command is asked again while libvirt holds the agent unavailable. */
  agentRetries: number;
  agentRetryMs: number;
  /** Per virsh process. */
  timeoutMs: number;
  sleep(ms: number): Promise<void>;
}

/** What `verify` uses; how long the listing may take comes from `--guest-timeout` (execPolls = that / execPollMs). */
export const DEFAULT_GUEST_PROBE: Omit<GuestProbeOptions, 'qmp' | 'execPolls'> = {
  agentTimeoutSeconds: 5,
  execPollMs: 250,
  agentRetries: 6,
  agentRetryMs: 5_000,
  timeoutMs: 30_000,
  sleep: (ms) => sleep(ms),
};

/**
 * libvirt's answer while it holds a connected agent unavailable: after the agent missed a guest-sync (a busy guest:
 * the lab's nested L2 beside other work), until the agent answers again. Worth asking again, unlike "not connected"
 * (no agent in the guest), which is the answer at once.
 */
const AGENT_UNAVAILABLE_FOR_NOW = /Guest agent not available for now|didn't respond to synchronization/;

/** A virsh command that failed: its message (virsh's own, or how it ended). */
class GuestCommandError extends PassthruError {}

/** Called when QEMU's monitor is used, so the CLI can warn that libvirt marks the domain tainted. */
export type TaintNotice = (uuid: string) => void;

/** What the guest of domain `uuid` lists, or why that could not be found out. Never throws for the guest's sake. */
export async function probeGuest(virsh: Virsh, uri: string, uuid: string, options: GuestProbeOptions, onTaint?: TaintNotice): Promise<GuestView> {
  const run = async (args: string[]): Promise<string> => {
    const r = await virsh.run(uri, args, { timeoutMs: options.timeoutMs });
    if (r.timedOut) throw new GuestCommandError(`virsh ${args[0]} timed out after ${options.timeoutMs} ms`);
    if (r.exitCode !== 0) throw new GuestCommandError(virshError(r.stderr) ?? `virsh ${describeExit(r)}`);
    return r.stdout;
  };
  const agent = async (command: object): Promise<string> => {
    const args = ['qemu-agent-command', '--domain', uuid, '--timeout', String(options.agentTimeoutSeconds), JSON.stringify(command)];
    for (let k = 0; ; k++) {
      try {
        return await run(args);
      } catch (err) {
        if (!(err instanceof GuestCommandError && AGENT_UNAVAILABLE_FOR_NOW.test(err.message)) || k >= options.agentRetries) throw err;
        await options.sleep(options.agentRetryMs);
      }
    }
  };
  let agentProblem: string;
  try {
    return { via: 'agent', devices: await agentListing(agent, options) };
  } catch (err) {
    if (!(err instanceof PassthruError)) throw err;
    agentProblem = err.message;
  }
  if (!options.qmp) return { via: null, reason: `no answer from the guest agent (${agentProblem}); --qmp asks QEMU instead (libvirt then marks the domain tainted)` };
  try {
    onTaint?.(uuid);
    return { via: 'qmp', devices: parseQueryPci(await run(['qemu-monitor-command', '--domain', uuid, '--pretty', JSON.stringify({ execute: 'query-pci' })])) };
  } catch (err) {
    if (!(err instanceof PassthruError)) throw err;
    return { via: null, reason: `no answer from the guest agent (${agentProblem}) nor from QEMU's query-pci (${err.message})` };
  }
}

/** The guest's PCI functions through its agent: Windows lists devices itself, Linux runs the sysfs listing. */
async function agentListing(agent: (command: object) => Promise<string>, options: GuestProbeOptions) {
  const os = parseOsInfo(await agent({ execute: 'guest-get-osinfo' }));
  if (os.windows) return parseGuestDevices(await agent({ execute: 'guest-get-devices' }));
  const pid = parseExecStarted(await agent({ execute: 'guest-exec', arguments: { path: '/bin/sh', arg: ['-c', GUEST_PCI_LISTING], 'capture-output': true } }));
  for (let k = 0; k <= options.execPolls; k++) {
    const status = parseExecStatus(await agent({ execute: 'guest-exec-status', arguments: { pid } }));
    if (status.exited) {
      if (status.exitcode !== 0) throw new GuestCommandError(`the PCI listing exited with ${status.exitcode ?? 'a signal'} in the guest`);
      if (status.truncated) throw new GuestCommandError('the guest agent truncated the PCI listing');
      return parseGuestListing(status.out);
    }
    if (k < options.execPolls) await options.sleep(options.execPollMs);
  }
  throw new GuestCommandError(`the PCI listing did not finish in the guest within ${(options.execPolls * options.execPollMs) / 1000} s`);
}
