#!/usr/bin/env bash
# Install everything Kakehashi needs on a fresh Debian machine with Python 3.11.
#   scripts/install.sh         runtime: Python packages, Tesseract OCR (vie, jpn)
#   scripts/install.sh --dev   also test tools: Chromium for browser tests, fonts for PDF fixtures
# System packages are installed only when apt-get is available and we are root;
# otherwise the script says which ones are missing and goes on.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_packages=(tesseract-ocr tesseract-ocr-vie tesseract-ocr-jpn)
[ "$dev" = 1 ] && apt_packages+=(chromium fonts-dejavu-core fonts-ipafont-gothic poppler-utils strace)

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: missing system packages (install them for OCR and browser tests): ${missing[*]}" >&2
  fi
fi

python -m pip install -q --disable-pip-version-check -r requirements.txt
[ "$dev" = 1 ] && python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
echo "install: done"
