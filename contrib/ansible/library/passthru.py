#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: passthru contributors
# MIT License (see the passthru-vfio package)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


DOCUMENTATION = r'''
---
module: passthru
short_description: Converge PCI passthrough (libvirt hostdevs, vfio-pci bindings) to a passthrough.yaml
version_added: "0.1.0"
description:
  - Runs L(passthru,https://www.npmjs.com/package/passthru-vfio) on the managed host, which observes the host
    (driver bindings and IOMMU groups from C(/sys), each VM's C(<hostdev>)s from libvirt), plans the changes that
    make it match the desired state, and applies them with verification and rollback.
  - In check mode (and with I(state=planned)) it only plans (C(passthru plan --format json)) and changes nothing;
    C(changed) says whether the plan has changes, and the diff shows each VM's persistent XML and each device's
    driver binding before and after.
  - Otherwise it saves the plan and applies exactly that plan (C(passthru apply PLANFILE --yes --json)); passthru
    refuses it if the host changed in between.
  - A plan with a blocking problem (IOMMU off, a host-critical device, a group that is not viable, ...) or a host
    that cannot be observed fails the task with every problem, in check mode too. Nothing is changed then.
  - Roll out across a fleet with the play's C(serial) and C(max_fail_percentage) (see the example playbook
    C(contrib/ansible/site.yml)).
options:
  file:
    description:
      - Path of the desired state (C(passthrough.yaml)) on the managed host.
      - Exactly one of I(file) and I(content) is required.
    type: path
  content:
    description:
      - The desired state itself, as YAML text, e.g. C("{{ lookup('ansible.builtin.file', 'passthrough.yaml') }}").
      - Written to a private temporary file on the managed host for the run only, so check mode plans the
        file the controller has rather than an older copy on the host.
    type: str
  host:
    description:
      - Only these hosts of the file (C(--host), repeatable); default every host of the file.
      - With a fleet file that names many hypervisors, give the one this task runs on, e.g. C(["{{ inventory_hostname }}"]).
    type: list
    elements: str
    default: []
  connect:
    description:
      - libvirt URI to use instead of the file's (C(-c)); with a file of several hosts, I(host) must pick one.
      - C(qemu:///system) on the hypervisor itself reads its devices through the local C(/sys), which gives passthru
        full host-use protection (routes, mounts, swap, boot VGA).
    type: str
  binary:
    description:
      - The passthru command on the managed host, a name looked up on C(PATH) or a path.
    type: str
    default: passthru
  lock_timeout:
    description:
      - How long an apply waits for another apply of the same host to finish (C(--lock-timeout), e.g. C(30s), C(2m)).
      - Default passthru's, C(0s) (fail at once).
    type: str
  parallelism:
    description:
      - At most this many hosts of the file worked on at once (C(--parallelism), default 10).
    type: int
  state:
    description:
      - C(present) applies the plan (in check mode it only plans).
      - C(planned) only plans, also outside check mode, like C(passthru check) (a drift report in a playbook).
    type: str
    choices: [present, planned]
    default: present
attributes:
  check_mode:
    description: Plans only; nothing is changed.
    support: full
  diff_mode:
    description: Each changed VM's persistent XML, and the driver binding of each device bound or released.
    support: full
  platform:
    description: Linux hosts with libvirt.
    support: full
    platforms: posix
notes:
  - C(PASSTHRU_ROOT), C(PASSTHRU_VIRSH), C(PASSTHRU_JOURNAL) and C(PASSTHRU_STATE_DIR) are read by passthru from the
    environment; set them with the task's or play's C(environment) keyword.
  - Changes made only to a running domain (C(live) hot-plug) are in C(plan) but not in the diff, which shows the
    persistent configuration.
requirements:
  - passthru (npm package C(passthru-vfio), Node.js 20 or later) on the managed host
  - libvirt client (C(virsh)) on the managed host
author:
  - passthru contributors
'''

EXAMPLES = r'''
- name: Converge PCI passthrough on this hypervisor from its own file
  passthru:
    file: /etc/passthru/passthrough.yaml

- name: One fleet file for every hypervisor; each applies its own part, observed locally
  passthru:
    content: "{{ lookup('ansible.builtin.file', 'passthrough.yaml') }}"
    host: ["{{ inventory_hostname }}"]
    connect: qemu:///system
    lock_timeout: 60s

- name: Drift report (never changes anything, also outside check mode)
  passthru:
    file: /etc/passthru/passthrough.yaml
    state: planned
  register: drift

- name: Say which VMs would change
  ansible.builtin.debug:
    msg: "{{ drift.plan.hosts | map(attribute='actions') | flatten | map(attribute='vm', default='-') | unique }}"
'''

RETURN = r'''
plan:
  description:
    - The plan, as C(passthru plan --format json) prints it (format_version C("1")), with C(hosts[].actions),
      C(hosts[].problems) and C(hosts[].error); without C(hosts[].xmlChanges), which are the diff.
  returned: when passthru printed a plan
  type: dict
  sample: {"format_version": "1", "applyable": true, "changes": true, "hosts": [{"name": "hv1", "actions": []}]}
apply:
  description:
    - What the apply did, as C(passthru apply --json) prints it, per host the steps run, and on a failure the rollback
      and whether it restored the host.
  returned: when the plan was applied (not in check mode)
  type: dict
problems:
  description: Every problem of the plan (blocking and warnings), each with the host it is on.
  returned: when passthru printed a plan
  type: list
  elements: dict
  sample: [{"host": "hv1", "severity": "block", "code": "iommu-disabled", "message": "IOMMU is off",
            "hint": "enable VT-d", "address": "0000:07:00.0", "vm": "rhel7.3"}]
host_errors:
  description: The hosts that could not be observed (unreachable, libvirt not answering), with why and what to do.
  returned: when passthru printed a plan
  type: list
  elements: dict
  sample: [{"host": "hv2", "message": "cannot connect to qemu+ssh://root@hv2/system", "hint": "check the URI"}]
cmd:
  description: The last passthru command run.
  returned: always
  type: list
  elements: str
rc:
  description: Its exit code (0 ok, 1 error or blocked plan, 3 apply failed and the rollback could not restore).
  returned: always
  type: int
stderr:
  description: Its standard error (progress and messages).
  returned: always
  type: str
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule

BINDING_ACTIONS = ('nodedev-detach', 'nodedev-reattach')


def selection_args(params):
    """The flags that say which desired state and hosts to plan: -f, --host, -c, --parallelism."""
    args = ['-f', params['file']]
    for host in params['host']:
        args += ['--host', host]
    if params['connect']:
        args += ['-c', params['connect']]
    if params['parallelism'] is not None:
        args += ['--parallelism', str(params['parallelism'])]
    return args


def problems_of(plan):
    """Every problem of every host, each with its host's name."""
    found = []
    for host in plan.get('hosts', []):
        for problem in host.get('problems', []):
            entry = dict(host=host['name'])
            entry.update(problem)
            found.append(entry)
    return found


def host_errors_of(plan):
    """The hosts that could not be observed, with their error."""
    return [dict(host=h['name'], message=h['error'].get('message', ''), hint=h['error'].get('hint'))
            for h in plan.get('hosts', []) if h.get('error')]


def blocked_message(plan):
    """Why the plan cannot be applied, in one message: every blocking problem and every host not observed."""
    parts = []
    for p in problems_of(plan):
        if p.get('severity') == 'block':
            parts.append('%s: %s: %s%s' % (p['host'], p['code'], p['message'], ' (fix: %s)' % p['hint'] if p.get('hint') else ''))
    for e in host_errors_of(plan):
        parts.append('%s could not be observed: %s%s' % (e['host'], e['message'], ' (fix: %s)' % e['hint'] if e.get('hint') else ''))
    return 'passthru: the plan cannot be applied: ' + '; '.join(parts)


def warnings_of(plan):
    """The plan's warnings as lines for module.warn()."""
    return ['passthru: %s: %s: %s' % (p['host'], p['code'], p['message']) for p in problems_of(plan) if p.get('severity') == 'warn']


def plan_diff(plan):
    """
    Ansible's diff of the plan: per VM its persistent XML before and after, and per host the driver binding of each
    device that the plan binds to vfio-pci or gives back to its host driver.
    """
    diffs = []
    for host in plan.get('hosts', []):
        for change in host.get('xmlChanges', []):
            label = '%s/%s.xml' % (host['name'], change['vm'])
            diffs.append(dict(before_header=label, after_header=label, before=change['before'], after=change['after']))
        bindings = sorted((a for a in host.get('actions', []) if a['kind'] in BINDING_ACTIONS), key=lambda a: a['address'])
        if bindings:
            label = '%s: PCI driver bindings' % host['name']
            before = ''.join('%s %s\n' % (a['address'], a.get('fromDriver') or '(no driver)') for a in bindings)
            after = ''.join('%s %s\n' % (a['address'], 'vfio-pci' if a['kind'] == 'nodedev-detach' else '(host driver)')
                            for a in bindings)
            diffs.append(dict(before_header=label, after_header=label, before=before, after=after))
    return diffs


def applied_steps(report):
    """How many planned steps the apply ran, over every host."""
    return sum(len(h.get('steps', [])) for h in report.get('hosts', []))


def apply_failure_message(report, rc):
    """Where each host stands after a failed apply, in one message."""
    parts = []
    for h in report.get('hosts', []):
        if h.get('ok'):
            continue
        failure = h.get('failure') or {}
        where = 'at step %s' % failure['step'] if failure.get('step') else 'in the final check'
        if h.get('restored'):
            state = 'rolled back, the host is as it was'
        else:
            state = 'the rollback could NOT restore the host: %s' % '; '.join(h.get('leftovers', []))
        parts.append('%s: apply failed %s: %s; %s' % (h.get('host'), where, failure.get('error', ''), state))
    for n in report.get('notApplied', []):
        parts.append('%s: not applied: %s' % (n.get('host'), n.get('error')))
    if not parts:
        parts.append('exit code %s' % rc)
    return 'passthru apply failed: ' + '; '.join(parts)


def without_xml(plan):
    """The plan without each host's xmlChanges: the whole XML of every changed VM, twice, is what the diff is for."""
    hosts = [dict((k, v) for k, v in h.items() if k != 'xmlChanges') for h in plan.get('hosts', [])]
    return dict(plan, hosts=hosts)


def parse_json(text):
    """The JSON document passthru printed, or None when it printed none (an error before any report)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class Passthru(object):
    """Runs passthru commands, remembering the last one for the task's result."""

    def __init__(self, module, binary):
        self.module = module
        self.binary = binary
        self.last = dict(cmd=[], rc=0, stderr='')

    def run(self, args):
        cmd = [self.binary] + args + ['--no-color']
        rc, out, err = self.module.run_command(cmd)
        self.last = dict(cmd=cmd, rc=rc, stderr=err)
        return rc, out, err

    def fail(self, msg, **extra):
        result = dict(self.last)
        result.update(extra)
        self.module.fail_json(msg=msg, **result)

    def fail_without_report(self, what, out, err):
        said = (err.strip() or out.strip() or 'no output').splitlines()
        self.fail('passthru %s failed: %s' % (what, ' '.join(line.strip() for line in said)), stdout=out)


def find_binary(module, binary):
    if os.sep in binary:
        if os.access(binary, os.X_OK):
            return binary
        module.fail_json(msg='passthru binary %s is not an executable file' % binary)
    found = module.get_bin_path(binary)
    if not found:
        module.fail_json(msg='%s not found on the managed host: install it (npm install -g passthru-vfio) or set binary' % binary)
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(
            file=dict(type='path'),
            content=dict(type='str'),
            host=dict(type='list', elements='str', default=[]),
            connect=dict(type='str'),
            binary=dict(type='str', default='passthru'),
            lock_timeout=dict(type='str'),
            parallelism=dict(type='int'),
            state=dict(type='str', choices=['present', 'planned'], default='present'),
        ),
        mutually_exclusive=[('file', 'content')],
        required_one_of=[('file', 'content')],
        supports_check_mode=True,
    )
    params = dict(module.params)
    if params['parallelism'] is not None and params['parallelism'] < 1:
        module.fail_json(msg='parallelism must be at least 1, got %d' % params['parallelism'])
    if params['content'] is not None:
        params['file'] = os.path.join(module.tmpdir, 'passthrough.yaml')
        with open(params['file'], 'w') as f:
            f.write(params['content'])
    passthru = Passthru(module, find_binary(module, params['binary']))
    only_plan = module.check_mode or params['state'] == 'planned'

    # The plan the apply will run is saved, so that what the diff shows is exactly what is applied.
    plan_file = os.path.join(module.tmpdir, 'plan.json')
    rc, out, err = passthru.run(['plan'] + selection_args(params) + ['--format', 'json'] + ([] if only_plan else ['-o', plan_file]))
    plan = parse_json(out)
    if plan is None:
        passthru.fail_without_report('plan', out, err)
    reported = dict(plan=without_xml(plan), problems=problems_of(plan), host_errors=host_errors_of(plan))
    if not plan.get('applyable'):
        passthru.fail(blocked_message(plan), **reported)
    for warning in warnings_of(plan):
        module.warn(warning)
    if module._diff:
        reported['diff'] = plan_diff(plan)
    if only_plan or not plan.get('changes'):
        module.exit_json(changed=bool(plan.get('changes')), **dict(passthru.last, **reported))

    apply_args = ['apply', plan_file, '--yes', '--json']
    if params['lock_timeout']:
        apply_args += ['--lock-timeout', params['lock_timeout']]
    if params['parallelism'] is not None:
        apply_args += ['--parallelism', str(params['parallelism'])]
    rc, out, err = passthru.run(apply_args)
    report = parse_json(out)
    if report is None:
        passthru.fail_without_report('apply', out, err)
    reported['apply'] = report
    if rc != 0 or not report.get('ok'):
        passthru.fail(apply_failure_message(report, rc), **reported)
    module.exit_json(changed=applied_steps(report) > 0, **dict(passthru.last, **reported))


if __name__ == '__main__':
    main()
