# The pure parts of the passthru module: what it makes of passthru's JSON. Run with the Python that has ansible:
#   /usr/bin/python3 -m unittest discover -s contrib/ansible/tests
# (test/ansible.test.ts runs it, and the module itself through ansible-playbook.)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'library'))

import passthru  # noqa: E402  (the module, found through the path above)

BLOCKED = {
    'format_version': '1',
    'applyable': False,
    'changes': True,
    'hosts': [
        {
            'name': 'hv1',
            'uri': 'qemu:///system',
            'actions': [{'kind': 'nodedev-detach', 'address': '0000:07:00.0', 'fromDriver': 'igb', 'reason': 'r'}],
            'problems': [
                {'severity': 'block', 'code': 'iommu-disabled', 'message': 'the IOMMU is off', 'hint': 'enable VT-d'},
                {'severity': 'warn', 'code': 'takes-effect-at-next-start', 'message': 'VM web runs', 'vm': 'web'},
            ],
        },
        {
            'name': 'hv2',
            'uri': 'qemu+ssh://root@hv2/system',
            'fingerprint': None,
            'actions': [],
            'problems': [],
            'error': {'message': 'cannot connect to qemu+ssh://root@hv2/system: Connection refused', 'hint': 'check the URI'},
        },
    ],
}


class SelectionArgs(unittest.TestCase):
    def test_every_flag_in_order(self):
        params = dict(file='/etc/p.yaml', host=['hv1', 'hv2'], connect='qemu:///system', parallelism=3)
        self.assertEqual(passthru.selection_args(params),
                         ['-f', '/etc/p.yaml', '--host', 'hv1', '--host', 'hv2', '-c', 'qemu:///system', '--parallelism', '3'])

    def test_only_the_file(self):
        self.assertEqual(passthru.selection_args(dict(file='p.yaml', host=[], connect=None, parallelism=None)), ['-f', 'p.yaml'])


class Problems(unittest.TestCase):
    def test_every_problem_with_its_host(self):
        self.assertEqual([(p['host'], p['code'], p['severity']) for p in passthru.problems_of(BLOCKED)],
                         [('hv1', 'iommu-disabled', 'block'), ('hv1', 'takes-effect-at-next-start', 'warn')])
        self.assertEqual(passthru.problems_of(BLOCKED)[1]['vm'], 'web')

    def test_host_errors(self):
        self.assertEqual(passthru.host_errors_of(BLOCKED), [
            {'host': 'hv2', 'message': 'cannot connect to qemu+ssh://root@hv2/system: Connection refused', 'hint': 'check the URI'},
        ])

    def test_blocked_message_names_every_block_and_every_host_not_observed_but_no_warning(self):
        self.assertEqual(
            passthru.blocked_message(BLOCKED),
            'passthru: the plan cannot be applied: hv1: iommu-disabled: the IOMMU is off (fix: enable VT-d); '
            'hv2 could not be observed: cannot connect to qemu+ssh://root@hv2/system: Connection refused (fix: check the URI)')

    def test_warnings(self):
        self.assertEqual(passthru.warnings_of(BLOCKED), ['passthru: hv1: takes-effect-at-next-start: VM web runs'])


class Diff(unittest.TestCase):
    def test_each_vm_xml_and_the_bindings_of_each_host(self):
        plan = {'hosts': [{
            'name': 'hv1',
            'actions': [
                {'kind': 'detach-hostdev', 'vm': 'a', 'address': '0000:08:00.0'},
                {'kind': 'nodedev-reattach', 'address': '0000:08:00.0', 'fromDriver': 'vfio-pci'},
                {'kind': 'nodedev-detach', 'address': '0000:07:00.0', 'fromDriver': None},
            ],
            'xmlChanges': [{'vm': 'a', 'before': '<domain>1</domain>\n', 'after': '<domain>2</domain>\n'}],
        }, {'name': 'hv2', 'actions': [], 'xmlChanges': []}, {'name': 'hv3', 'actions': [], 'error': {'message': 'x'}}]}
        self.assertEqual(passthru.plan_diff(plan), [
            {'before_header': 'hv1/a.xml', 'after_header': 'hv1/a.xml', 'before': '<domain>1</domain>\n', 'after': '<domain>2</domain>\n'},
            {'before_header': 'hv1: PCI driver bindings', 'after_header': 'hv1: PCI driver bindings',
             'before': '0000:07:00.0 (no driver)\n0000:08:00.0 vfio-pci\n', 'after': '0000:07:00.0 vfio-pci\n0000:08:00.0 (host driver)\n'},
        ])

    def test_no_changes_no_diff(self):
        self.assertEqual(passthru.plan_diff({'hosts': [{'name': 'hv1', 'actions': [], 'xmlChanges': []}]}), [])


class Apply(unittest.TestCase):
    def test_steps_over_every_host(self):
        self.assertEqual(passthru.applied_steps({'hosts': [{'steps': [1, 2]}, {'steps': [3]}]}), 3)
        self.assertEqual(passthru.applied_steps({'hosts': []}), 0)

    def test_failure_says_where_each_host_stands(self):
        report = {'ok': False, 'hosts': [
            {'host': 'hv0', 'ok': True},
            {'host': 'hv1', 'ok': False, 'failure': {'step': 2, 'error': 'virsh said no'}, 'restored': True, 'leftovers': []},
            {'host': 'hv2', 'ok': False, 'failure': {'step': None, 'error': 'a fresh plan is not empty'}, 'restored': False,
             'leftovers': ['0000:07:00.0 is on vfio-pci (was igb)']},
        ], 'notApplied': [{'host': 'hv3', 'error': 'another apply holds the lock'}]}
        self.assertEqual(
            passthru.apply_failure_message(report, 3),
            'passthru apply failed: hv1: apply failed at step 2: virsh said no; rolled back, the host is as it was; '
            'hv2: apply failed in the final check: a fresh plan is not empty; the rollback could NOT restore the host: '
            '0000:07:00.0 is on vfio-pci (was igb); hv3: not applied: another apply holds the lock')

    def test_failure_without_a_host_report(self):
        self.assertEqual(passthru.apply_failure_message({'ok': False, 'hosts': []}, 1), 'passthru apply failed: exit code 1')


class WithoutXml(unittest.TestCase):
    def test_drops_only_the_xml(self):
        plan = {'applyable': True, 'hosts': [{'name': 'hv1', 'actions': [], 'xmlChanges': [{'vm': 'a'}]}, {'name': 'hv2'}]}
        self.assertEqual(passthru.without_xml(plan), {'applyable': True, 'hosts': [{'name': 'hv1', 'actions': []}, {'name': 'hv2'}]})
        self.assertIn('xmlChanges', plan['hosts'][0])


class ParseJson(unittest.TestCase):
    def test_only_a_json_object_is_a_report(self):
        self.assertEqual(passthru.parse_json('{"ok": true}'), {'ok': True})
        self.assertIsNone(passthru.parse_json(''))
        self.assertIsNone(passthru.parse_json('Error: no such file'))
        self.assertIsNone(passthru.parse_json('[1]'))


if __name__ == '__main__':
    unittest.main()
