#!/usr/bin/env node
/**
 * A scripted `virsh` for apply tests. Node-device commands (`nodedev-detach`, `nodedev-reattach`) NEVER reach the
 * real virsh: they re-point the driver symlink of the device in a fake sysfs tree. Every other command is passed to
 * the real virsh, so domain steps run against a real (private) libvirtd.
 *
 * Environment (set by the wrapper `createFakeVirsh` writes):
 *   FAKE_VIRSH_DIR    control directory: control.json (faults, host drivers), calls.jsonl (log), counter
 *   FAKE_VIRSH_SYSFS  root of the fake host tree (holds sys/bus/pci/devices/...); must not be `/`
 *   FAKE_VIRSH_REAL   the real virsh (default /usr/bin/virsh)
 *
 * control.json: { "faults": [{ "call"?: N, "command"?: "attach-device", "mode": MODE, "hangMs"?: N, "element"?: "vlan" }],
 *                 "hostDrivers": { "0000:07:00.1": "igb" } }
 * MODE: "fail" (error, nothing changed), "hang" (nothing changed, sleeps past any timeout), "leave-driver" (claims
 * success, driver unchanged), "apply-then-fail" (the command takes effect, then virsh reports an error),
 * "apply-then-hang" (takes effect, then hangs for hangMs — default an hour — and exits 0), "unbind" (a node-device
 * command claims success but leaves the device bound to no driver: a device that did not come back), "drop-element" (the
 * XML file loses its <element> children before the real virsh gets it: libvirt dropping part of a device), "hold" (the
 * command waits until the file `release` exists in the control directory, then runs unfaulted, or fails as "fail" when
 * the file holds `fail`: a step held in flight).
 * `call` counts only state-changing commands (1-based, across the test); a fault applies when all its given
 * fields match. `hostDrivers` says which driver a reattach binds (what the kernel's reprobe would pick) for a
 * device this fake did not see leave its host driver.
 * `guest`: { "agent": { "<execute>": REPLY, ... } | absent, "monitor": { "<execute>": REPLY } | absent } answers
 * `qemu-agent-command` / `qemu-monitor-command` (never passed on: a test domain has no guest): REPLY is the JSON
 * text virsh would print, or { "stderr": "...", "exit": 1 }. No `agent` answers like a guest without one.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout } from 'node:timers';

const MUTATING = new Set(['nodedev-detach', 'nodedev-dettach', 'nodedev-reattach', 'nodedev-reset', 'attach-device', 'detach-device']);
const NODEDEV = /nodedev-(det+ach|reattach|reset)/;

const dir = mustEnv('FAKE_VIRSH_DIR');
const sysfs = path.resolve(mustEnv('FAKE_VIRSH_SYSFS'));
const realVirsh = process.env.FAKE_VIRSH_REAL || '/usr/bin/virsh';
// The marker fake-host.ts writes: without it this could be a real /sys, which this script must never write to.
if (sysfs === '/' || !fs.existsSync(path.join(sysfs, '.passthru-fake-host'))) die(`fake virsh: ${sysfs} is not a fake host tree`, 2);

const argv = process.argv.slice(2);
const sub = subcommand(argv);
const control = readJson(path.join(dir, 'control.json'), { faults: [], hostDrivers: {} });
const call = MUTATING.has(sub) ? bumpCounter() : null;
fs.appendFileSync(path.join(dir, 'calls.jsonl'), `${JSON.stringify({ call, sub, argv })}\n`);

const fault = call === null ? undefined : control.faults.find((f) => (f.call ?? call) === call && (f.command ?? sub) === sub);
/** What happens once the command itself is done (exit code 0 when it worked). */
const afterwards = (code) => {
  if (code !== 0 || fault === undefined) process.exit(code);
  if (fault.mode === 'apply-then-fail') die(`error: Failed to ${sub}\nerror: injected fault after applying at call ${call}`, 1);
  if (fault.mode === 'apply-then-hang') setTimeout(() => process.exit(0), fault.hangMs ?? 3_600_000);
  else process.exit(0);
};
// hold: the command waits (changing nothing, logged already) until the test creates `release` in the control
// directory, then runs as if there were no fault — or fails like "fail" when `release` says `fail`: a test can act
// while a step is known to be in flight, whatever the machine's load.
const release = path.join(dir, 'release');
if (fault?.mode === 'hold') whenExists(release, () => (fs.readFileSync(release, 'utf8') === 'fail' ? die(`error: Failed to ${sub}\nerror: injected fault at call ${call}`, 1) : dispatch()));
else dispatch();

/** Runs the command: a scripted reply, an injected fault, a node-device emulation, or the real virsh. */
function dispatch() {
  if (sub === 'qemu-agent-command' || sub === 'qemu-monitor-command') {
    guestCommand(sub === 'qemu-agent-command' ? control.guest?.agent : control.guest?.monitor, argv.at(-1));
  } else if (fault?.mode === 'hang') {
    setTimeout(() => {}, 3_600_000);
  } else if (fault?.mode === 'fail') {
    die(`error: Failed to ${sub}\nerror: injected fault at call ${call}`, 1);
  } else if (sub.startsWith('nodedev-')) {
    nodedev(sub, argv, fault?.mode === 'leave-driver', fault?.mode === 'unbind');
    afterwards(0);
  } else if (argv.some((a) => NODEDEV.test(a))) {
    die('error: fake virsh refuses node-device commands it does not emulate (batch or unknown form)', 2);
  } else if (sub === '') {
    // A batch on stdin (io/execa-virsh.ts): the same refusal, on what the real virsh would read.
    const script = fs.readFileSync(0, 'utf8');
    if (NODEDEV.test(script)) die('error: fake virsh refuses node-device commands it does not emulate (batch or unknown form)', 2);
    const child = spawn(realVirsh, argv, { stdio: ['pipe', 'inherit', 'inherit'] });
    child.stdin.on('error', () => {});
    child.stdin.end(script);
    child.on('exit', (code, signal) => afterwards(code ?? (signal ? 128 : 1)));
  } else {
    if (fault?.mode === 'drop-element') dropElement(argv.includes('--file') ? argv[argv.indexOf('--file') + 1] : undefined, fault.element);
    const child = spawn(realVirsh, argv, { stdio: 'inherit' });
    child.on('exit', (code, signal) => afterwards(code ?? (signal ? 128 : 1)));
  }
}

/** Calls `then` once `file` exists (polled: the test creates it from another process). */
function whenExists(file, then) {
  if (fs.existsSync(file)) then();
  else setTimeout(() => whenExists(file, then), 20);
}

/** Prints the scripted reply to a guest agent / monitor command (its JSON is the last argument). */
function guestCommand(replies, commandText) {
  if (!replies) die('error: Guest agent is not responding: QEMU guest agent is not connected', 1);
  const execute = JSON.parse(commandText).execute;
  const reply = replies[execute];
  if (reply === undefined) die(`error: internal error: unable to execute QEMU agent command '${execute}': The command ${execute} has not been found`, 1);
  if (typeof reply === 'object') die(reply.stderr, reply.exit ?? 1);
  process.stdout.write(`${reply}\n`);
  process.exit(0);
}

/** Removes every <element>…</element> (or self-closing one) from the XML file a domain command was given. */
function dropElement(file, element) {
  if (!file || !element) die(`fake virsh: drop-element needs --file and an element name`, 2);
  const text = fs.readFileSync(file, 'utf8');
  const pattern = new RegExp(`<${element}\\b[^>]*/>|<${element}\\b[\\s\\S]*?</${element}>`, 'g');
  fs.writeFileSync(file, text.replace(pattern, ''));
}

/** The command name: the first argument that is not a global option (`-c URI`, `-q`, ...). */
function subcommand(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-c' || a === '--connect' || a === '-l' || a === '--log' || a === '-k' || a === '-K' || a === '-e') i++;
    else if (!a.startsWith('-')) return a.trim().split(/\s+/)[0];
  }
  return '';
}

function nodedev(cmd, args, leaveDriver, unbind) {
  const name = args.find((a) => /^pci_[0-9a-f]{4}_[0-9a-f]{2}_[0-9a-f]{2}_[0-7]$/.test(a));
  if (!name) die(`error: fake virsh: no pci_* device name in: ${args.join(' ')}`, 1);
  const [, d, b, s, f] = name.split('_');
  const address = `${d}:${b}:${s}.${f}`;
  const devDir = path.join(sysfs, 'sys/bus/pci/devices', address);
  if (!fs.existsSync(devDir)) die(`error: Could not find matching device '${name}'\nerror: Node device not found`, 1);
  const real = fs.realpathSync(devDir);
  if (!real.startsWith(`${fs.realpathSync(sysfs)}/`)) die(`fake virsh: ${devDir} resolves outside the fake tree`, 2);
  const current = driverOf(real);
  const remembered = readJson(path.join(dir, 'host-drivers.json'), {});
  if (cmd === 'nodedev-reset') {
    process.stdout.write(`Device ${name} reset\n\n`);
    return;
  }
  if (unbind) {
    bind(real, null);
    process.stdout.write(`Device ${name} ${cmd === 'nodedev-reattach' ? 're-attached' : 'detached'}\n\n`);
    return;
  }
  if (cmd === 'nodedev-reattach') {
    if (!leaveDriver) {
      bind(real, remembered[address] ?? control.hostDrivers?.[address] ?? null);
      writeOverride(real, '(null)');
    }
    process.stdout.write(`Device ${name} re-attached\n\n`);
    return;
  }
  if (current !== 'vfio-pci' && current !== null) {
    remembered[address] = current;
    fs.writeFileSync(path.join(dir, 'host-drivers.json'), JSON.stringify(remembered));
  }
  if (!leaveDriver) {
    writeOverride(real, 'vfio-pci');
    bind(real, 'vfio-pci');
  }
  process.stdout.write(`Device ${name} detached\n\n`);
}

function driverOf(devDir) {
  try {
    return path.basename(fs.readlinkSync(path.join(devDir, 'driver')));
  } catch {
    return null;
  }
}

/**
 * Unbinds and binds like the kernel (and fake-host.ts `bind`): the device's `driver` link and the driver
 * directory's link back to the device, both relative. null leaves the device unbound.
 */
function bind(devDir, driver) {
  const address = path.basename(devDir);
  const link = path.join(devDir, 'driver');
  const old = driverOf(devDir);
  if (old !== null) fs.rmSync(path.join(sysfs, 'sys/bus/pci/drivers', old, address), { force: true });
  fs.rmSync(link, { force: true });
  if (driver === null) return;
  const driverDir = path.join(sysfs, 'sys/bus/pci/drivers', driver);
  fs.mkdirSync(driverDir, { recursive: true });
  fs.symlinkSync(path.relative(driverDir, devDir), path.join(driverDir, address));
  fs.symlinkSync(path.relative(devDir, driverDir), link);
}

function writeOverride(devDir, value) {
  const file = path.join(devDir, 'driver_override');
  if (fs.existsSync(file)) fs.writeFileSync(file, `${value}\n`);
}

function bumpCounter() {
  const file = path.join(dir, 'counter');
  const n = Number(readJson(file, 0)) + 1;
  fs.writeFileSync(file, String(n));
  return n;
}

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
}

function mustEnv(name) {
  const v = process.env[name];
  if (!v) die(`fake virsh: ${name} is not set`, 2);
  return v;
}

function die(message, code) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}
