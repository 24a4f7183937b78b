#!/usr/bin/env bash
# Installs the Debian packages named in a list file (default tests/packages.txt) that are
# not installed yet. Used by tests/run.sh, demo/walkthrough.sh and bench/run.sh.
# Usage: tests/deps.sh [LIST_FILE...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lists=("$@"); [ ${#lists[@]} -gt 0 ] || lists=("$here/packages.txt")
missing=()
for list in "${lists[@]}"; do
  while read -r pkg _; do
    case "$pkg" in ""|\#*) continue ;; esac
    st=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$pkg")
  done < "$list"
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
