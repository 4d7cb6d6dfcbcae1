#!/usr/bin/env bash
# espeak-ng speaks the offline demo corpus. Install it from Debian's packages when it is missing.
set -euo pipefail
if command -v espeak-ng >/dev/null 2>&1; then
  exit 0
fi
install=(apt-get install -y --no-install-recommends espeak-ng)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -q && "${install[@]}"
elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
  sudo apt-get update -q && sudo "${install[@]}"
else
  echo "espeak-ng is missing and cannot be installed automatically here." >&2
  echo "Install it with your package manager (Debian/Ubuntu: sudo apt-get install espeak-ng; macOS: brew install espeak-ng)." >&2
  exit 1
fi
