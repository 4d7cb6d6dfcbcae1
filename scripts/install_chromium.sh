#!/usr/bin/env bash
# Headless Chromium and its WebDriver (Debian's chromium + chromium-driver) for the page tests.
set -euo pipefail
if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
  exit 0
fi
install=(apt-get install -y --no-install-recommends chromium chromium-driver)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -q && "${install[@]}"
elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
  sudo apt-get update -q && sudo "${install[@]}"
else
  echo "chromium and chromedriver are missing and cannot be installed automatically here." >&2
  echo "Install them with your package manager (Debian/Ubuntu: sudo apt-get install chromium chromium-driver)." >&2
  exit 1
fi
