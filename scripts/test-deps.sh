#!/usr/bin/env bash
# Makes sure the programs the end-to-end tests and benchmarks drive are installed (Debian packages).
# Idempotent and quick when everything is there; installs what is missing when run as root; otherwise
# lists what to install (the end-to-end tests then fail under CI, and are skipped with a reason elsewhere).
set -euo pipefail

# command -> Debian package
declare -A need=(
  [ip]=iproute2
  [ping]=iputils-ping
  [tracepath]=iputils-tracepath
  [iperf3]=iperf3
  [tcpdump]=tcpdump
  [vde_switch]=vde2
  [python3]=python3
  [curl]=curl
  [ethtool]=ethtool
  [promtool]=prometheus
  [systemd-analyze]=systemd
  [systemd-sysusers]=systemd
)

missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
