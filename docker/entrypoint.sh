#!/usr/bin/env bash
# A firewall container's entrypoint: writes this box's vipd config from the environment and runs
# vipd in the foreground (exec, so `docker stop`'s SIGTERM reaches it and it resigns with a
# priority-0 advert).
#
#   NODE_NAME  box name (required)          PRIORITY   1..254 (required)
#   VIP        CIDR, e.g. 10.99.0.100/24    INTERFACE  default eth0
#   TRANSPORT  raw (default) or udp         VRID 51, ADVERT 1 (s), INSTANCE VI_1, UDP_PORT 11200
#   LOG_LEVEL  default info                 CONFIG     default /etc/vipd/vipd.json (written here)
#   CONTROL_SOCKET  default /run/vipd/vipd.sock (its directory is created, as systemd's
#              RuntimeDirectory would)
# Logs are JSON lines (VIPD_LOG_FORMAT=json unless set): the scenario parses them, and a
# container's stdout may be a TTY, which would switch vipd to its human format.
#
# `entrypoint.sh --print-config` prints the config and exits: the unit tests feed it to
# `vipd check`, so what containers run is validated without a Docker engine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

fail() {
  echo "entrypoint: $*" >&2
  exit 2
}
# Values go into JSON unquoted or between quotes without escaping: allow only what they need.
want() {
  local name="$1" pattern="$2" value="${!1:-}"
  [ -n "$value" ] || fail "$name is required"
  [[ "$value" =~ ^($pattern)$ ]] || fail "$name=\"$value\" does not match $pattern"
}

: "${INTERFACE:=eth0}" "${TRANSPORT:=raw}" "${VRID:=51}" "${ADVERT:=1}" "${INSTANCE:=VI_1}"
: "${UDP_PORT:=11200}" "${LOG_LEVEL:=info}" "${CONFIG:=/etc/vipd/vipd.json}"
: "${CONTROL_SOCKET:=/run/vipd/vipd.sock}"
want NODE_NAME '[A-Za-z0-9._-]+'
want PRIORITY '[0-9]+'
want VIP '[0-9.]+/[0-9]+'
want INTERFACE '[A-Za-z0-9._@-]+'
want TRANSPORT 'raw|udp'
want VRID '[0-9]+'
want ADVERT '[0-9]+(\.[0-9]+)?'
want INSTANCE '[A-Za-z0-9._-]+'
want UDP_PORT '[0-9]+'
want LOG_LEVEL 'trace|debug|info|warn|error|fatal'
want CONTROL_SOCKET '/[A-Za-z0-9._/-]+'

config() {
  cat <<EOF
{
  "node": { "name": "$NODE_NAME" },
  "log": { "level": "$LOG_LEVEL" },
  "control": { "socket": "$CONTROL_SOCKET" },
  "instances": [
    {
      "name": "$INSTANCE",
      "interface": "$INTERFACE",
      "vrid": $VRID,
      "priority": $PRIORITY,
      "version": 3,
      "advertInterval": $ADVERT,
      "transport": "$TRANSPORT",
      "udpPort": $UDP_PORT,
      "vips": ["$VIP"]
    }
  ]
}
EOF
}

if [ "${1:-}" = "--print-config" ]; then
  config
  exit 0
fi
[ $# -eq 0 ] || fail "unknown arguments: $* (only --print-config)"

mkdir -p "$(dirname "$CONFIG")"
mkdir -p -m 0700 "$(dirname "$CONTROL_SOCKET")"
config >"$CONFIG"
export VIPD_LOG_FORMAT="${VIPD_LOG_FORMAT:-json}"
exec node "$root/dist/src/cli.js" run --config "$CONFIG"
