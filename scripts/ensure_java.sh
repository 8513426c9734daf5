#!/usr/bin/env bash
# Spark needs a Java runtime (17 or 21). Install one from Debian's packages when none is present.
set -euo pipefail
if java -version >/dev/null 2>&1; then
    exit 0
fi
echo "[setup] no Java runtime found: installing openjdk-17-jre-headless"
if [ "$(id -u)" != "0" ]; then SUDO=sudo; else SUDO=""; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null
java -version
