#!/usr/bin/env bash
# Install Debian packages when a command they provide is missing:
#   scripts/install_debian.sh COMMAND PACKAGE...
# e.g. espeak-ng (speaks the offline demo corpus) or chromedriver (the page tests' browser).
set -euo pipefail
command_name=$1
shift
if command -v "$command_name" >/dev/null 2>&1; then
  exit 0
fi
install=(apt-get install -y --no-install-recommends "$@")
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -q && "${install[@]}"
elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
  sudo apt-get update -q && sudo "${install[@]}"
else
  echo "$command_name is missing and cannot be installed automatically here." >&2
  echo "Install it with your package manager (Debian/Ubuntu: sudo apt-get install $*)." >&2
  exit 1
fi
