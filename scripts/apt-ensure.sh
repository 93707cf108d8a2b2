#!/usr/bin/env bash
# Installs the named Debian packages if any is missing. Idempotent; serialised with a lock so parallel make
# targets do not fight over dpkg. Needs root (CI and the dev machines are root).
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "apt-ensure: missing Debian packages: ${missing[*]} (run as root or install them)" >&2; exit 1
fi
exec 9>/var/lock/migrate-apt.lock
flock 9
stamp=/var/lib/apt/periodic/migrate-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  echo "apt-ensure: apt-get update" >&2
  apt-get update -qq -o DPkg::Lock::Timeout=600 >&2
  mkdir -p "$(dirname "$stamp")"; touch "$stamp"
fi
echo "apt-ensure: installing ${missing[*]}" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2
