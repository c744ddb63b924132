/**
 * The systemd units the package ships (SPEC 9) pass `systemd-analyze verify`. Verify insists that ExecStart's binary
 * exists, and /usr/bin/passthru is not installed here, so the units are checked as copies whose ExecStart points at
 * a stand-in executable — the only change made to them. A deliberately broken copy shows that verify does complain.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ANALYZE = '/usr/bin/systemd-analyze';
const UNITS_DIR = path.resolve('contrib/systemd');
const UNITS = ['passthru-agent.service', 'passthru-check.service', 'passthru-check.timer'];
const missing = existsSync(ANALYZE) ? null : `SKIPPED: ${ANALYZE} is not installed (apt-get install systemd)`;
if (missing) console.warn(`systemd-units: ${missing}`);

const unit = (name: string) => readFile(path.join(UNITS_DIR, name), 'utf8');

describe.skipIf(missing !== null)('systemd units', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'passthru-units-'));
    const standIn = path.join(dir, 'passthru');
    await writeFile(standIn, '#!/bin/sh\nexit 0\n');
    await chmod(standIn, 0o755);
    for (const name of UNITS) await writeFile(path.join(dir, name), (await unit(name)).replaceAll('/usr/bin/passthru', standIn));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const verify = (files: string[]) => execa(ANALYZE, ['verify', ...files], { cwd: dir, reject: false, env: { SYSTEMD_LOG_COLOR: '0' } });

  it('are the units the package ships', async () => {
    expect((await readdir(UNITS_DIR)).sort()).toEqual(['passthru-agent.service', 'passthru-check.service', 'passthru-check.timer', 'passthru.default']);
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('contrib');
  });

  it('pass systemd-analyze verify without a single complaint', async () => {
    const r = await verify(UNITS.map((u) => path.join(dir, u)));
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('verify does complain about a broken unit (the check above is not vacuous)', async () => {
    const broken = path.join(dir, 'broken.service');
    await writeFile(broken, (await readFile(path.join(dir, 'passthru-agent.service'), 'utf8')).replace('KillMode=mixed', 'KillMode=mixed\nKilMode=mixed'));
    const r = await verify([broken]);
    expect(r.stderr).toContain("Unknown key 'KilMode' in section [Service]");
  });

  it('the agent runs in apply mode from /etc/default/passthru, after libvirt, restarted on failure, stopped gently', async () => {
    const agent = await unit('passthru-agent.service');
    expect(agent).toContain('ExecStart=/usr/bin/passthru agent --mode apply --source ${PASSTHRU_SOURCE} $PASSTHRU_AGENT_ARGS');
    expect(agent).toContain('EnvironmentFile=-/etc/default/passthru');
    expect(agent).toMatch(/^After=.*libvirtd\.service.*virtqemud\.socket/m);
    expect(agent).toMatch(/^Wants=.*libvirtd\.service.*virtqemud\.socket/m);
    expect(agent).toContain('Restart=on-failure');
    expect(agent).toContain('KillMode=mixed');
    expect(agent).not.toMatch(/^ProtectKernelTunables=yes/m);
    expect(agent).not.toMatch(/^PrivateDevices=yes/m);
    const check = await unit('passthru-check.service');
    expect(check).toContain('ExecStart=/usr/bin/passthru agent --once --mode check --source ${PASSTHRU_SOURCE} $PASSTHRU_CHECK_ARGS');
    expect(await unit('passthru-check.timer')).toContain('WantedBy=timers.target');
  });
});
