#!/usr/bin/env bash
# Install what tests/test_browser_ui.py needs: Debian's chromium package.
# The test drives Chromium over the DevTools protocol with the websockets
# package (installed with delegraph's uvicorn[standard]), so it needs neither
# chromium-driver nor a browser download. Does nothing when Chromium is found.
set -euo pipefail

for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then
    echo "Chromium found: $(command -v "$name")"
    exit 0
  fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Chromium not found and apt-get is missing: install Chromium and set DELEGRAPH_CHROMIUM to its path" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium
