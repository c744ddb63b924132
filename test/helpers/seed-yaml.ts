/** The desired state tests apply to the seed host (fake-host.ts `seedHost`), for a VM of their own. */

/** The seed runbook for one VM: 07:00.0 replaces the guest's bridge NIC on br0; the management NIC is protected. */
export const seedYaml = (vm: string) => `version: 1
vms:
  ${JSON.stringify(vm)}:
    devices:
      - address: "07:00.0"
        expect: { vendor: "8086", product: "1521" }
    removeInterfaces:
      - { type: bridge, source: br0 }
protect:
  - address: "0000:00:1f.6"
`;
