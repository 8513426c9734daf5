#!/usr/bin/env bash
# The dashboard test drives Debian's Chromium headless (never a downloaded browser), and the
# dashboard's charts need fonts that render Japanese. Install both from Debian's packages when
# missing; a second run does nothing.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "[setup] installing ${missing[*]} (headless dashboard test, Japanese fonts)"
if [ "$(id -u)" != "0" ]; then SUDO=sudo; else SUDO=""; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" fontconfig >/dev/null
/usr/bin/chromium --version
