#!/usr/bin/env bash
# Builds the tiny test guest that end-to-end tests boot under QEMU (TCG) or User-Mode Linux: a Debian
# x86-64 kernel and one busybox initramfs whose /init configures the NIC from tw.* kernel parameters,
# pings, moves data over TCP and prints one marker line (TWGUEST PASS | TWGUEST FAIL <reason>).
#
# Usage: scripts/build-guest.sh [CACHE_DIR]
#   CACHE_DIR defaults to $TAPWIRE_GUEST_CACHE, then /var/cache/tapwire-guest (never inside the repo).
#   Prints the cache dir on stdout. Quick and idempotent when the cache is complete: the stamp file holds
#   the sha256 of this script, so editing the init below rebuilds it. As root it installs missing Debian
#   packages (qemu-system-x86 busybox-static user-mode-linux cpio), running apt-get update only then.
#   Concurrent runs are serialised with flock on CACHE_DIR/.lock.
#
# Cache layout (CACHE_DIR/):
#   stamp           "tapwire-guest <sha256 of this script>", written last: its presence means complete
#   vmlinuz         x86-64 kernel for QEMU, from linux-image-<abi>-amd64 (apt-get download + dpkg -x)
#   initramfs.gz    newc cpio, gzip: busybox-static, /init, and the NIC driver modules of that kernel
#   kernel.version  the kernel release of vmlinuz (uname -r in the guest)
#   uml             path of the User-Mode Linux kernel binary (from the user-mode-linux package)
#   guest.json      {"kernel","initrd","kernelVersion","uml","umlVersion"} for test/helpers/guest.ts
#
# Guest parameters (kernel command line; QEMU: -append, UML: plain arguments):
#   tw.ip=ADDR/LEN         address for the NIC (required unless tw.ping/tw.tcp* are all absent)
#   tw.if=NAME             the NIC to use; default: the first non-loopback one (eth0 under QEMU, vec0 UML)
#   tw.mac=MAC             set this MAC on the NIC before bringing it up
#   tw.mtu=N               set this MTU on the NIC
#   tw.gw=ADDR             default route via ADDR
#   tw.ping=A[,B...]       ping each address until it answers (tw.tries attempts, 1 s apart, each)
#   tw.tries=N             ping attempts per address (default 30)
#   tw.tcptx=HOST:PORT:N   send N random bytes to a tw peer: "PUT N\n" + data; the peer answers
#                          "OK <count> <sha256>\n" and the guest checks count and checksum
#   tw.tcprx=HOST:PORT:N   receive N bytes from a tw peer: "GET N\n"; the peer sends N bytes then
#                          "<sha256>\n" and closes; the guest checks count and checksum
#   tw.hold=SECONDS        after the marker, keep running (answering pings) for at most SECONDS
#   tw.debug=1             print the NIC's state and the routing table before the checks
# The guest prints "TWGUEST INFO ..." lines along the way, then exactly one marker line, then powers off
# (poweroff -f, which ends QEMU through ACPI and UML directly). If /init itself dies the kernel panics, and
# panic=-1 with QEMU's -no-reboot ends QEMU; the helper's timeout ends anything else.
set -euo pipefail

CACHE=${1:-${TAPWIRE_GUEST_CACHE:-/var/cache/tapwire-guest}}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
case "$CACHE" in
  /*) ;;
  *) echo "build-guest: cache dir must be an absolute path: $CACHE" >&2; exit 2 ;;
esac
REPO=$(dirname "$(dirname "$SELF")")
case "$(readlink -m "$CACHE")/" in
  "$REPO"/*) echo "build-guest: the cache must not be inside the repository ($CACHE)" >&2; exit 2 ;;
esac

STAMP="tapwire-guest $(sha256sum "$SELF" | cut -d' ' -f1)"
if [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP" ]; then
  echo "$CACHE"
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 600 9 || { echo "build-guest: timed out waiting for $CACHE/.lock" >&2; exit 1; }
# Another run may have finished the build while this one waited.
if [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP" ]; then
  echo "$CACHE"
  exit 0
fi

log() { echo "build-guest: $*" >&2; }

# --- packages -------------------------------------------------------------------------------------
declare -A need=(
  [qemu-system-x86_64]=qemu-system-x86
  [linux.uml]=user-mode-linux
  [cpio]=cpio
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# busybox-static, not the dynamic busybox: the initramfs has no libc.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o APT::Sandbox::User=root -qq)
apt_updated=0
apt_update() {
  if [ "$apt_updated" -eq 0 ]; then
    apt-get "${APT_OPTS[@]}" update >&2
    apt_updated=1
  fi
}
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing packages: ${missing[*]} (run this script as root, or apt-get install them)"
    exit 1
  fi
  log "installing ${missing[*]}"
  apt_update
  apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" >&2
fi
BUSYBOX=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1)
[ -x "$BUSYBOX" ] || { log "busybox-static installed but no busybox binary found"; exit 1; }
UML=$(command -v linux.uml)

# --- work dir -------------------------------------------------------------------------------------
WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- kernel: the ABI package that the candidate linux-image-amd64 depends on -----------------------
kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1
}
PKG=$(kernel_pkg)
if [ -z "$PKG" ]; then
  apt_update
  PKG=$(kernel_pkg)
fi
[ -n "$PKG" ] || { log "cannot resolve the dependency of linux-image-amd64 (apt-cache depends)"; exit 1; }
log "kernel package $PKG"
(cd "$WORK" && apt-get "${APT_OPTS[@]}" download "$PKG" >&2) || {
  apt_update
  (cd "$WORK" && apt-get "${APT_OPTS[@]}" download "$PKG" >&2)
}
dpkg -x "$WORK"/"$PKG"_*.deb "$WORK/pkg"
KVER=${PKG#linux-image-}
[ -f "$WORK/pkg/boot/vmlinuz-$KVER" ] || { log "no /boot/vmlinuz-$KVER in $PKG"; exit 1; }
MODDIR="$WORK/pkg/lib/modules/$KVER"

# --- initramfs tree -------------------------------------------------------------------------------
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,lib/modules}
cp "$BUSYBOX" "$ROOT/bin/busybox"
if [ "$(id -u)" -eq 0 ]; then
  mknod -m 600 "$ROOT/dev/console" c 5 1
  mknod -m 666 "$ROOT/dev/null" c 1 3
fi

# NIC drivers are modules in Debian's kernel (CONFIG_VIRTIO_NET=m, CONFIG_VIRTIO_PCI=m, CONFIG_E1000=m):
# copy each with its dependencies (read from the module's own depends= field) and write the load order,
# dependencies first, for busybox insmod (which resolves nothing itself).
declare -A seen=()
order=()
add_module() {
  local name=$1 file deps dep
  [ -n "${seen[$name]:-}" ] && return 0
  seen[$name]=1
  file=$(find "$MODDIR/kernel" -name "$name.ko" -print -quit)
  if [ -z "$file" ]; then
    # Built in (modules.builtin) is fine; anything else is an error.
    grep -q "/$name.ko\$" "$MODDIR/modules.builtin" && return 0
    log "module $name not found in $PKG"
    exit 1
  fi
  deps=$(grep -a -o -m1 'depends=[A-Za-z0-9_,-]*' "$file" | head -n1 | cut -d= -f2)
  for dep in ${deps//,/ }; do
    add_module "$dep"
  done
  cp "$file" "$ROOT/lib/modules/$name.ko"
  order+=("$name")
}
for m in virtio_pci virtio_net e1000; do
  add_module "$m"
done
printf '%s\n' "${order[@]}" >"$ROOT/lib/modules/load.order"
echo "$KVER" >"$ROOT/lib/modules/kernel.version"

cat >"$ROOT/init" <<'INIT'
#!/bin/busybox sh
# tapwire test guest: see scripts/build-guest.sh for the tw.* parameters.
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp
# The kernel may have found no /dev/console in the archive (built without root): take it now.
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1

finish() {
  sync
  poweroff -f
  sleep 2
  halt -f
}
hold() {
  if [ -n "$TW_HOLD" ]; then
    echo "TWGUEST INFO holding for at most $TW_HOLD s"
    sleep "$TW_HOLD"
  fi
}
fail() {
  echo "TWGUEST FAIL $*"
  finish
}
now() { cut -d' ' -f1 /proc/uptime; }

TW_IP= TW_IF= TW_MAC= TW_MTU= TW_GW= TW_PING= TW_TRIES=30 TW_TCPTX= TW_TCPRX= TW_HOLD= TW_DEBUG=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    tw.ip=*) TW_IP=${arg#tw.ip=} ;;
    tw.if=*) TW_IF=${arg#tw.if=} ;;
    tw.mac=*) TW_MAC=${arg#tw.mac=} ;;
    tw.mtu=*) TW_MTU=${arg#tw.mtu=} ;;
    tw.gw=*) TW_GW=${arg#tw.gw=} ;;
    tw.ping=*) TW_PING=${arg#tw.ping=} ;;
    tw.tries=*) TW_TRIES=${arg#tw.tries=} ;;
    tw.tcptx=*) TW_TCPTX=${arg#tw.tcptx=} ;;
    tw.tcprx=*) TW_TCPRX=${arg#tw.tcprx=} ;;
    tw.hold=*) TW_HOLD=${arg#tw.hold=} ;;
    tw.debug=*) TW_DEBUG=${arg#tw.debug=} ;;
  esac
done
echo "TWGUEST INFO boot $(uname -r) $(uname -m) at $(now) s"

# NIC drivers, only for the kernel they were built for (UML's vector NIC is built in).
if [ -f /lib/modules/load.order ] && [ "$(uname -r)" = "$(cat /lib/modules/kernel.version)" ]; then
  while read -r m; do
    insmod "/lib/modules/$m.ko" 2>/dev/null || echo "TWGUEST INFO insmod $m failed"
  done </lib/modules/load.order
fi
ip link set lo up

# The NIC: the named one, else the first that is not loopback (PCI probing may take a moment).
IF=
i=0
while [ $i -lt 100 ]; do
  if [ -n "$TW_IF" ]; then
    [ -e "/sys/class/net/$TW_IF" ] && IF=$TW_IF
  else
    for d in /sys/class/net/*; do
      n=${d##*/}
      [ "$n" = lo ] && continue
      [ -e "$d" ] && { IF=$n; break; }
    done
  fi
  [ -n "$IF" ] && break
  sleep 0.1
  i=$((i + 1))
done
[ -n "$IF" ] || fail "no network interface${TW_IF:+ $TW_IF}"
if [ -n "$TW_MAC" ]; then ip link set dev "$IF" address "$TW_MAC" || fail "cannot set mac $TW_MAC"; fi
if [ -n "$TW_MTU" ]; then ip link set dev "$IF" mtu "$TW_MTU" || fail "cannot set mtu $TW_MTU"; fi
ip link set dev "$IF" up || fail "cannot bring $IF up"
if [ -n "$TW_IP" ]; then ip addr add "$TW_IP" dev "$IF" || fail "cannot add $TW_IP"; fi
if [ -n "$TW_GW" ]; then ip route add default via "$TW_GW" || fail "cannot add default route via $TW_GW"; fi
echo "TWGUEST INFO nic $IF $(cat "/sys/class/net/$IF/address") ${TW_IP:-no-address}"
if [ -n "$TW_DEBUG" ]; then
  ip addr show dev "$IF"
  ip route
fi

for target in $(echo "$TW_PING" | tr ',' ' '); do
  ok=0
  i=0
  while [ $i -lt "$TW_TRIES" ]; do
    if ping -c 1 -W 1 "$target" >/dev/null 2>&1; then ok=1; break; fi
    i=$((i + 1))
    sleep 0.5
  done
  [ $ok = 1 ] || fail "ping $target: no reply in $TW_TRIES tries"
  echo "TWGUEST INFO ping $target ok after $i failed tries"
done

# HOST:PORT:BYTES -> "HOST PORT BYTES"
split3() { echo "$1" | sed -n 's/^\(.*\):\([0-9][0-9]*\):\([0-9][0-9]*\)$/\1 \2 \3/p'; }

if [ -n "$TW_TCPTX" ]; then
  set -- $(split3 "$TW_TCPTX")
  [ $# = 3 ] || fail "bad tw.tcptx=$TW_TCPTX"
  host=$1 port=$2 n=$3
  head -c "$n" /dev/urandom >/tmp/tx || fail "tcptx: cannot make $n bytes"
  want=$(sha256sum </tmp/tx | cut -d' ' -f1)
  t0=$(now)
  { echo "PUT $n"; cat /tmp/tx; } | timeout 120 nc -w 10 "$host" "$port" >/tmp/txreply 2>/tmp/txerr
  t1=$(now)
  reply=$(head -n1 /tmp/txreply)
  [ "$reply" = "OK $n $want" ] || fail "tcptx $host:$port: peer answered '$reply' ($(head -c 200 /tmp/txerr)), expected OK $n $want"
  echo "TWGUEST INFO tcptx $n bytes to $host:$port in $t0..$t1 s"
  rm -f /tmp/tx
fi

if [ -n "$TW_TCPRX" ]; then
  set -- $(split3 "$TW_TCPRX")
  [ $# = 3 ] || fail "bad tw.tcprx=$TW_TCPRX"
  host=$1 port=$2 n=$3
  t0=$(now)
  echo "GET $n" | timeout 120 nc -w 10 "$host" "$port" >/tmp/rx 2>/tmp/rxerr
  t1=$(now)
  got=$(wc -c </tmp/rx)
  [ "$got" = $((n + 65)) ] || fail "tcprx $host:$port: got $got bytes, expected $n + 65 ($(head -c 200 /tmp/rxerr))"
  want=$(tail -c 65 /tmp/rx | head -c 64)
  have=$(head -c "$n" /tmp/rx | sha256sum | cut -d' ' -f1)
  [ "$have" = "$want" ] || fail "tcprx $host:$port: sha256 $have, peer sent $want"
  echo "TWGUEST INFO tcprx $n bytes from $host:$port in $t0..$t1 s"
  rm -f /tmp/rx
fi

echo "TWGUEST PASS"
hold
finish
INIT
chmod 755 "$ROOT/init"

(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --owner=0:0) | gzip -6 >"$WORK/initramfs.gz"

# --- publish --------------------------------------------------------------------------------------
UMLVER=$(ls /usr/lib/uml/modules 2>/dev/null | sort -V | tail -n1 || true)
cp "$WORK/pkg/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
echo "$KVER" >"$WORK/kernel.version"
echo "$UML" >"$WORK/uml"
cat >"$WORK/guest.json" <<JSON
{"kernel":"$CACHE/vmlinuz","initrd":"$CACHE/initramfs.gz","kernelVersion":"$KVER","uml":"$UML","umlVersion":"$UMLVER"}
JSON
rm -f "$CACHE/stamp"
for f in vmlinuz initramfs.gz kernel.version uml guest.json; do
  mv -f "$WORK/$f" "$CACHE/$f"
done
echo "$STAMP" >"$CACHE/stamp"
log "built guest in $CACHE (kernel $KVER, modules: ${order[*]})"
echo "$CACHE"
