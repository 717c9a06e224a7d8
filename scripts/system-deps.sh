#!/usr/bin/env bash
# Debian packages and local services the test suite talks to: Kamailio and its modules,
# sipp, rtpengine, openssl (test certificates), systemd-analyze (checks deploy/'s units),
# headless Chromium and its WebDriver (tests/console drives the console through Selenium),
# and PostgreSQL and Redis running on loopback. Idempotent: installs only what is missing
# and starts only what is down.
set -euo pipefail
packages=(kamailio kamailio-utils-modules kamailio-extra-modules kamailio-json-modules
          kamailio-redis-modules kamailio-tls-modules sip-tester systemd openssl
          rtpengine-daemon rtpengine-utils chromium chromium-driver)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: missing ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort | tail -n 1)" main start
fi
if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
