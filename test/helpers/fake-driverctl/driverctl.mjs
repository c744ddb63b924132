// A scripted driverctl for tests (SPEC 10): the real one rebinds this machine's devices, which tests must never do.
// It models what passthru relies on of driverctl 0.111 and touches only a fake host tree:
//   set-override DEV DRV   writes <root>/etc/driverctl.d/pci-DEV (DRV and a newline) and the device's
//                          driver_override; the device's driver link is left as it is (passthru runs it on a device
//                          nodedev-detach already put on vfio-pci, where driverctl's unbind + probe puts it back)
//   unset-override DEV     removes that file and clears driver_override
// `--noprobe` / `--nosave` are accepted (`--nosave` then writes no file). A device that is not in the tree fails as
// driverctl does ("no such device").
//
// Environment (set by the wrapper index.ts writes):
//   FAKE_DRIVERCTL_DIR   control directory: control.json ({ "fail": "<args>", "noop": "<args>" }: the call whose
//                        argv, joined by spaces, equals it fails without a change / claims success without one),
//                        calls.jsonl (one line per call)
//   FAKE_DRIVERCTL_ROOT  the fake host tree; must hold fake-host.ts's marker
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const mustEnv = (name) => {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`fake driverctl: ${name} is not set\n`);
    process.exit(99);
  }
  return v;
};
const dir = mustEnv('FAKE_DRIVERCTL_DIR');
const root = path.resolve(mustEnv('FAKE_DRIVERCTL_ROOT'));
if (root === path.parse(root).root || !existsSync(path.join(root, '.passthru-fake-host'))) {
  process.stderr.write(`fake driverctl: refusing ${root}: not a fake host tree\n`);
  process.exit(99);
}

const argv = process.argv.slice(2);
appendFileSync(path.join(dir, 'calls.jsonl'), `${JSON.stringify({ argv })}\n`);
const control = existsSync(path.join(dir, 'control.json')) ? JSON.parse(readFileSync(path.join(dir, 'control.json'), 'utf8')) : {};

const fail = (message) => {
  process.stderr.write(`driverctl: ${message}\n`);
  process.exit(1);
};
let save = true;
const words = argv.filter((a) => {
  if (a === '--nosave') save = false;
  return a !== '--noprobe' && a !== '--nosave';
});
const [cmd, dev, drv] = words;
if (!(cmd === 'set-override' && words.length === 3) && !(cmd === 'unset-override' && words.length === 2)) {
  process.stdout.write('Usage: driverctl [OPTIONS...] {COMMAND}...\n');
  process.exit(1);
}
const joined = words.join(' ');
if (control.fail === joined) fail(`failed to bind device ${dev} to driver ${drv ?? '(default)'}`);
const device = path.join(root, 'sys/bus/pci/devices', dev);
if (!existsSync(device)) fail(`no such device: ${dev}`);
if (control.noop === joined) process.exit(0);

const file = path.join(root, 'etc/driverctl.d', `pci-${dev}`);
writeFileSync(path.join(device, 'driver_override'), cmd === 'set-override' ? `${drv}\n` : '(null)\n');
if (save) {
  if (cmd === 'set-override') {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${drv}\n`);
  } else {
    rmSync(file, { force: true });
  }
}
