#!/usr/bin/env bash
# Makes sure the outside programs the tests use are installed: micromdm's
# scepclient and scepserver (Debian package scep), openssl, curl (HTTPS
# tests), systemd-analyze (the check of deploy/scepgate.service),
# strongSwan's pki --scep (strongswan-pki with libstrongswan-extra-plugins,
# which holds its curl plugin), and chromium for the portal's browser tests
# (e2e/). As root on
# Debian it installs them; otherwise it says exactly what to run.
set -euo pipefail

need=()
command -v scepclient >/dev/null 2>&1 || need+=(scep)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v pki >/dev/null 2>&1 || need+=(strongswan-pki)
[ -e /usr/lib/ipsec/plugins/libstrongswan-curl.so ] || need+=(libstrongswan-extra-plugins)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "Installing ${need[*]} for the tests..."
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	exit 0
fi
echo "The tests need these Debian packages: ${need[*]}" >&2
echo "Install them with: sudo apt-get install ${need[*]}" >&2
exit 1
