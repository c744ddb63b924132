#!/bin/bash
# Builds (or reuses) the L1 "hypervisor" image of the passthru lab.
#
#   test/lab/build-image.sh            build into test/lab/cache/<key>/ unless it is there; print that path last
#   test/lab/build-image.sh --key      print the cache key only
#   FORCE=1 test/lab/build-image.sh    rebuild even when cached
# Progress goes to stderr; stdout is the image directory only.
#
# The cache key is the sha256 of the recipe: this file (every file copied into the image is written by it), so any
# change here gives a new image and an unchanged recipe is never rebuilt. Output, in test/lab/cache/<key>/:
#   l1.qcow2    compressed qcow2, ext4 root fs: Debian 12 minbase + kernel + libvirt + QEMU (opened with -snapshot,
#               so it never changes once built)
#   vmlinuz     L1 kernel (booted directly with -kernel; the same kernel boots L2 inside L1)
#   initrd.img  L1 initramfs (initramfs-tools, MODULES=list: virtio_blk + ext4)
#   build.log   what mmdebstrap said; BUILD-OK marks a complete build
# Nothing of the project is in the image: the project tree (/proj) and the host's node binary (/hostnode) are
# shared read-only by 9p at run time (see run-lab.sh), the test scripts arrive with the per-run share (/lab).
# Needs root and Debian's mirror. No KVM.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KEY=$(cat "$HERE/build-image.sh" | sha256sum | cut -c1-16)
if [ "${1:-}" = --key ]; then echo "$KEY"; exit 0; fi

CACHE=${LAB_CACHE:-$HERE/cache}
DEST=$CACHE/$KEY
mkdir -p "$CACHE"
# one build at a time (a loop and a manual run may race for the same key)
exec 9>"$CACHE/.build.lock"
flock -w 900 9 || { echo "build-image: could not get $CACHE/.build.lock within 900s" >&2; exit 1; }
if [ -f "$DEST/BUILD-OK" ] && [ "${FORCE:-0}" != 1 ]; then
  echo "build-image: cached image $KEY (recipe unchanged), no build" >&2
  echo "$DEST"; exit 0
fi

MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${SECMIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
IMG_SIZE=${IMG_SIZE:-3G}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-900}

t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
need=()
for c in mmdebstrap:mmdebstrap busybox:busybox-static cpio:cpio qemu-img:qemu-utils mkfs.ext4:e2fsprogs; do
  command -v "${c%%:*}" >/dev/null || need+=("${c#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2
fi

TMP=$CACHE/$KEY.tmp
rm -rf "$TMP"; mkdir -p "$TMP"
ROOTFS=$TMP/rootfs
OVL=$TMP/overlay
trap 'rm -rf "$TMP"' EXIT

########## files copied into the image ##########
mkdir -p "$OVL/etc/systemd/system/multi-user.target.wants" "$OVL/usr/local/sbin" "$OVL/usr/local/bin" \
         "$OVL/etc/systemd/system/serial-getty@ttyS0.service.d" "$OVL/lab" "$OVL/proj" "$OVL/hostnode" \
         "$OVL/var/lib/lab" "$OVL/etc/initramfs-tools/conf.d" "$OVL/etc/dpkg/dpkg.cfg.d" \
         "$OVL/etc/systemd/network"

echo l1 > "$OVL/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 l1\n' > "$OVL/etc/hosts"
# 9p shares from the outer machine (qemu -virtfs):
#   lab       per-run dir: test scripts in, results out (read-write)
#   proj      the project tree with node_modules and dist (read-only)
#   hostnode  a copy of the outer machine's node binary (read-only; Debian 12 on both sides)
cat > "$OVL/etc/fstab" <<'EOF'
/dev/vda  /          ext4  defaults,noatime  0 1
lab       /lab       9p    trans=virtio,version=9p2000.L,msize=262144,nofail,x-systemd.device-timeout=5s  0 0
proj      /proj      9p    trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose,nofail,x-systemd.device-timeout=5s  0 0
hostnode  /hostnode  9p    trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose,nofail,x-systemd.device-timeout=5s  0 0
EOF
ln -s /hostnode/node "$OVL/usr/local/bin/node"

# L1's management NIC (the e1000e at 05:00.0, MAC 52:54:00:00:05:01, user-mode net with restrict=on): a static
# address and the default route, so that it is a host-critical device passthru must refuse to take. It is matched by
# MAC; the other NICs (the passthrough candidates) are left unconfigured and down.
cat > "$OVL/etc/systemd/network/10-mgmt.network" <<'EOF'
[Match]
MACAddress=52:54:00:00:05:01
[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF

# root autologin on the serial console (interactive debugging: LAB_INTERACTIVE=1)
cat > "$OVL/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM
EOF

# Boot-time test runner: runs /lab/test.sh (from the per-run share) under a hard timeout, writes /lab/out/test.log
# (also to the console), then powers off. Without /lab/test.sh it does nothing (interactive use).
cat > "$OVL/usr/local/sbin/lab-runner" <<'EOF'
#!/bin/sh
[ -x /lab/test.sh ] || { echo "lab-runner: no /lab/test.sh, staying up" > /dev/console; exit 0; }
mkdir -p /lab/out
GUEST_TIMEOUT=600; [ -f /lab/lab.env ] && . /lab/lab.env
echo "lab-runner: starting /lab/test.sh at uptime $(cut -d' ' -f1 /proc/uptime)s" | tee /lab/out/test.log > /dev/console
timeout -k 10 "$GUEST_TIMEOUT" /lab/test.sh 2>&1 | tee -a /lab/out/test.log > /dev/console
echo "lab-runner: done at uptime $(cut -d' ' -f1 /proc/uptime)s" | tee -a /lab/out/test.log > /dev/console
sync
[ -e /lab/no-poweroff ] || systemctl --no-block poweroff
EOF
chmod +x "$OVL/usr/local/sbin/lab-runner"
cat > "$OVL/etc/systemd/system/lab-runner.service" <<'EOF'
[Unit]
Description=passthru lab test runner
Wants=libvirtd.service
After=libvirtd.service lab.mount proj.mount hostnode.mount systemd-networkd.service local-fs.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/lab-runner
StandardOutput=journal+console
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/lab-runner.service "$OVL/etc/systemd/system/multi-user.target.wants/lab-runner.service"

# keep the image small: no docs/man/locales, no kernel modules that cannot matter in a QEMU guest
cat > "$OVL/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/lib/modules/*/kernel/sound/*
path-exclude=/lib/modules/*/kernel/drivers/media/*
path-exclude=/lib/modules/*/kernel/drivers/gpu/*
path-exclude=/lib/modules/*/kernel/drivers/net/wireless/*
path-exclude=/lib/modules/*/kernel/net/wireless/*
path-exclude=/lib/modules/*/kernel/net/mac80211/*
path-exclude=/lib/modules/*/kernel/net/bluetooth/*
path-exclude=/lib/modules/*/kernel/drivers/bluetooth/*
path-exclude=/lib/modules/*/kernel/drivers/infiniband/*
path-exclude=/lib/modules/*/kernel/drivers/iio/*
path-exclude=/lib/modules/*/kernel/drivers/staging/*
path-exclude=/lib/modules/*/kernel/drivers/comedi/*
path-exclude=/lib/modules/*/kernel/drivers/isdn/*
path-exclude=/lib/modules/*/kernel/drivers/hwmon/*
path-exclude=/lib/modules/*/kernel/drivers/net/ethernet/mellanox/*
path-exclude=/lib/modules/*/kernel/drivers/net/ethernet/broadcom/*
path-exclude=/lib/modules/*/kernel/drivers/net/ethernet/chelsio/*
path-exclude=/lib/modules/*/kernel/drivers/net/ethernet/qlogic/*
path-exclude=/lib/modules/*/kernel/drivers/net/ethernet/marvell/*
path-exclude=/lib/modules/*/kernel/drivers/net/ethernet/cavium/*
EOF

# small L1 initramfs: only what mounts /dev/vda (virtio-blk + ext4)
echo "MODULES=list" > "$OVL/etc/initramfs-tools/conf.d/lab"
printf 'virtio_pci\nvirtio_blk\next4\ncrc32c_generic\n' > "$OVL/etc/initramfs-tools/modules"

########## root filesystem ##########
PKGS=linux-image-amd64,initramfs-tools,systemd-sysv,udev,dbus,kmod,procps,iproute2,pciutils,less,libstdc++6
PKGS+=,libvirt-daemon-system,libvirt-daemon-system-systemd,libvirt-clients,iptables
PKGS+=,qemu-system-x86,ipxe-qemu,busybox-static
# the agent pulls its desired state with the system git; driverctl persists vfio-pci bindings across reboots (SPEC 10)
PKGS+=,git,driverctl
# L2's guest agent (issue 14): its binary and libraries are copied into L2's initramfs below
PKGS+=,qemu-guest-agent

echo "build-image: building $KEY (mmdebstrap $SUITE from $MIRROR) ..." >&2
t1=$(date +%s)
timeout "$BUILD_TIMEOUT" mmdebstrap --variant=minbase --include="$PKGS" \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt="$OVL/etc/dpkg/dpkg.cfg.d/01-nodoc" \
  --essential-hook="mkdir -p \"\$1/etc/initramfs-tools/conf.d\"; cp $OVL/etc/initramfs-tools/conf.d/lab \"\$1/etc/initramfs-tools/conf.d/\"; cp $OVL/etc/initramfs-tools/modules \"\$1/etc/initramfs-tools/\"" \
  --customize-hook="cp -a $OVL/. \"\$1\"/" \
  --customize-hook='chroot "$1" passwd -d root' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd.service' \
  --customize-hook='chroot "$1" systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer' \
  --customize-hook='rm -f "$1"/etc/libvirt/qemu/networks/autostart/default.xml' \
  --customize-hook='chroot "$1" apt-get clean; rm -rf "$1"/var/lib/apt/lists/*' \
  "$SUITE" "$ROOTFS" \
  "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECMIRROR $SUITE-security main" \
  > "$TMP/build.log" 2>&1 || { echo "build-image: mmdebstrap failed, log tail:" >&2; tail -40 "$TMP/build.log" >&2; exit 1; }
t2=$(date +%s)

cp "$(ls "$ROOTFS"/boot/vmlinuz-* | tail -1)" "$TMP/vmlinuz"
cp "$(ls "$ROOTFS"/boot/initrd.img-* | tail -1)" "$TMP/initrd.img"
rm -f "$ROOTFS"/boot/initrd.img-*      # shipped beside the image; /boot/vmlinuz-* stays (L2 boots it)

# Tiny L2 guest initramfs (busybox), booted by L1's libvirt with L1's kernel: prints its PCI devices (vendor/device
# read from its own sysfs) and its NICs' MACs, then powers off. It carries igbvf and what igbvf needs (from the
# kernel's modules.dep), so that an SR-IOV VF given to L2 becomes a NIC whose MAC L2 itself prints, and
# virtio_console + Debian's qemu-ga with its shared libraries (ldd in the image), so that a domain with the
# org.qemu.guest_agent.0 channel answers guest agent commands (/bin/l2-agent starts it). Built after mmdebstrap
# because modules and binaries come from the image itself.
L2IRD=$TMP/l2ird
mkdir -p "$L2IRD/bin" "$L2IRD/proc" "$L2IRD/sys" "$L2IRD/dev" "$L2IRD/modules" "$L2IRD/tmp" "$L2IRD/var/run" "$L2IRD/usr/sbin"
cp "$(command -v busybox)" "$L2IRD/bin/busybox"
MODDIR=$(ls -d "$ROOTFS"/lib/modules/* | tail -1)
i=0; loaded=" "
for want in kernel/drivers/net/ethernet/intel/igbvf/igbvf kernel/drivers/virtio/virtio_pci kernel/drivers/char/virtio_console; do
  grep -q "^$want.ko$" "$MODDIR/modules.builtin" && continue   # built into the kernel
  mod=$(cd "$MODDIR" && ls $want.ko*) || { echo "build-image: no $want module in $MODDIR" >&2; exit 1; }
  deps=$(grep "^$mod:" "$MODDIR/modules.dep" | cut -d: -f2)
  # modules.dep lists the dependencies nearest first: load them in reverse, then the module (numbered in that order)
  for m in $(echo "$deps" | tr ' ' '\n' | grep . | tac) "$mod"; do
    case "$loaded" in *" $m "*) continue ;; esac
    loaded+="$m "; i=$((i + 1)); f=$L2IRD/modules/$(printf '%02d' $i)-$(basename "${m%.xz}")
    case "$m" in *.xz) xz -dc "$MODDIR/$m" > "$f" ;; *) cp "$MODDIR/$m" "$f" ;; esac   # busybox insmod: uncompressed
  done
done
cp "$ROOTFS/usr/sbin/qemu-ga" "$L2IRD/usr/sbin/qemu-ga"
chroot "$ROOTFS" qemu-ga --version > "$TMP/qemu-ga-version" 2>&1 || true
for lib in $(chroot "$ROOTFS" ldd /usr/sbin/qemu-ga | grep -o '/[^ ]*'); do
  mkdir -p "$L2IRD$(dirname "$lib")"; cp -L "$ROOTFS$lib" "$L2IRD$lib"
done
# l2-agent: qemu-ga on the virtio port named org.qemu.guest_agent.0 (no udev here: the port is found through sysfs)
cat > "$L2IRD/bin/l2-agent" <<'EOF'
#!/bin/busybox sh
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
  dev=/dev/${p##*/}
  [ -e "$dev" ] || mknod "$dev" c "$(cut -d: -f1 "$p/dev")" "$(cut -d: -f2 "$p/dev")"
  /usr/sbin/qemu-ga -m virtio-serial -p "$dev" -t /tmp -d && echo "L2-AGENT started on $dev ($(/usr/sbin/qemu-ga --version 2>&1 | head -1))"
  exit 0
done
echo "L2-AGENT none (no org.qemu.guest_agent.0 port)"
EOF
chmod +x "$L2IRD/bin/l2-agent"
cat > "$L2IRD/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "L2-GUEST-UP uptime=$(cut -d' ' -f1 /proc/uptime)"
for d in /sys/bus/pci/devices/*; do
  echo "L2-PCI $(basename $d) vendor=$(cat $d/vendor) device=$(cat $d/device) class=$(cat $d/class)"
done
for m in /modules/*.ko; do insmod "$m" || echo "L2-INSMOD-FAILED $m"; done
sleep 2
for n in /sys/class/net/*; do
  [ -e "$n/device" ] && echo "L2-NET $(basename $n) address=$(cat $n/address) pci=$(basename "$(readlink $n/device)")"
done
# what igbvf said about its MAC (the quiet loglevel keeps it off the console)
dmesg | grep -i igbvf | sed 's/^/L2-DMESG /'
echo "L2-GUEST-DONE"
poweroff -f
EOF
chmod +x "$L2IRD/init"
mkdir -p "$ROOTFS/var/lib/lab"
(cd "$L2IRD" && find . | cpio -o -H newc 2>/dev/null | gzip -9) > "$ROOTFS/var/lib/lab/l2-initrd.gz"
echo "build-image: L2 initramfs modules: $(ls "$L2IRD/modules" | tr '\n' ' '); $(cat "$TMP/qemu-ga-version")" >&2

########## disk image ##########
truncate -s "$IMG_SIZE" "$TMP/l1.raw"
mkfs.ext4 -q -L l1root -d "$ROOTFS" "$TMP/l1.raw"
qemu-img convert -c -O qcow2 "$TMP/l1.raw" "$TMP/l1.qcow2"
rm -f "$TMP/l1.raw"
t3=$(date +%s)

{
  echo "key=$KEY"
  echo "rootfs=$(du -sh "$ROOTFS" | cut -f1) mmdebstrap=$((t2-t1))s total=$((t3-t0))s"
  echo "l2-qemu-ga=$(head -1 "$TMP/qemu-ga-version")"
  echo "qcow2=$(du -h "$TMP/l1.qcow2" | cut -f1) kernel+initrd=$(du -ch "$TMP/vmlinuz" "$TMP/initrd.img" | tail -1 | cut -f1)"
} | tee "$TMP/BUILD-INFO" >&2
rm -rf "$ROOTFS" "$OVL" "$L2IRD"
touch "$TMP/BUILD-OK"
rm -rf "$DEST"; mv "$TMP" "$DEST"; trap - EXIT
# keep only the current image: older keys are dead recipes
for d in "$CACHE"/*/; do d=${d%/}; [ "$d" = "$DEST" ] || rm -rf "$d"; done
echo "build-image: built $KEY in $((t3-t0))s" >&2
echo "$DEST"
