#!/usr/bin/env bash
# Installs the real programs the e2e tests drive (Debian packages). Idempotent:
# does nothing when every tool is already there. Needs root (or sudo).
set -euo pipefail
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus >/dev/null || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null || need+=(prometheus-pushgateway)
command -v capnp >/dev/null || need+=(capnproto)
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v nc >/dev/null || need+=(netcat-openbsd)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v ping >/dev/null || need+=(iputils-ping)
command -v ss >/dev/null || need+=(iproute2)
command -v pgrep >/dev/null || need+=(procps)
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || need+=(python3-prometheus-client)
/usr/bin/python3 -c 'import snappy' 2>/dev/null || need+=(python3-snappy)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
