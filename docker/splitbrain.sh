#!/usr/bin/env bash
# The split-brain scenario on a real Docker host, with docker/docker-compose.yml.
#
#   docker/splitbrain.sh [OPTIONS] [run]        build, start, wait for a master, cut fw1, watch,
#                                               heal, watch, print vipd's transitions (plain bash)
#   docker/splitbrain.sh [OPTIONS] sim [...]    the same scenario with scripts/splitbrain-sim's
#                                               timeline and summary (needs Node >=22, as
#                                               package.json's engines say, + npm ci here)
#   docker/splitbrain.sh [OPTIONS] up | status | down
#   docker/splitbrain.sh [OPTIONS] cut [BOX]    BOX default fw1
#   docker/splitbrain.sh [OPTIONS] heal [BOX]
#   docker/splitbrain.sh [OPTIONS] compose ARGS...   docker compose with this lab's project,
#                                               file and profiles (what the sim's driver uses)
# OPTIONS: --mode proto|link|oneway (default proto), --transport raw|udp (default raw),
#          --fw3 (a third firewall), --split SECONDS (default 8, for run)
# VIPD_NODE_IMAGE: the image's base (docker/Dockerfile's NODE_IMAGE, node:24-bookworm-slim by
# default), e.g. one built locally where no registry can be reached.
#
# run and up bring the project down when a step fails (exit status kept), so a failed run
# leaves no containers behind; the other commands act on a project someone else manages.
#
# The cut happens inside the box, because containers cannot touch the Docker host's bridge:
# an nft table in the box drops its election traffic (VRRP, or UDP 11200 with --transport udp)
# both ways (proto) or outbound only (oneway: the others stop hearing it, it still hears them);
# link drops everything on its eth0, ARP included. Dropping a box's own output makes its
# sends fail with EPERM (vipd counts them as send-failed), where the namespace lab's bridge
# drops them silently.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
PROJECT=vipd-splitbrain
VIP=10.99.0.100
UDP_PORT=11200
TABLE=vipd_cut

mode=proto
split=8
: "${VIPD_TRANSPORT:=raw}" "${VIPD_FW3:=0}"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode="$2"; shift 2 ;;
    --transport) VIPD_TRANSPORT="$2"; shift 2 ;;
    --fw3) VIPD_FW3=1; shift ;;
    --split) split="$2"; shift 2 ;;
    compose | sim) args+=("$@"); break ;; # the rest belongs to compose / the sim
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"
export VIPD_TRANSPORT VIPD_FW3
case "$mode" in proto | link | oneway) ;; *) echo "splitbrain: bad --mode $mode" >&2; exit 2 ;; esac
case "$VIPD_TRANSPORT" in raw | udp) ;; *) echo "splitbrain: bad --transport $VIPD_TRANSPORT" >&2; exit 2 ;; esac

compose() {
  local cmd=(docker compose)
  # The v2 plugin when present, else Debian's docker-compose 1.29: both read this file.
  docker compose version >/dev/null 2>&1 || cmd=(docker-compose)
  local profile=()
  [ "$VIPD_FW3" = 1 ] && profile=(--profile fw3)
  if [ "${1:-}" = build ] && [ -n "${VIPD_NODE_IMAGE:-}" ]; then
    set -- build --build-arg "NODE_IMAGE=$VIPD_NODE_IMAGE" "${@:2}"
  fi
  cmd+=(-p "$PROJECT" -f "$here/docker-compose.yml" "${profile[@]+"${profile[@]}"}" "$@")
  # The pass-through replaces this shell, so a caller stopping it (`compose logs -f`) stops compose.
  if [ "${COMPOSE_EXEC:-0}" = 1 ]; then exec "${cmd[@]}"; fi
  "${cmd[@]}"
}

firewalls() {
  echo fw1 fw2
  [ "$VIPD_FW3" = 1 ] && echo fw3
  return 0
}

t0="${EPOCHREALTIME/./}"
say() {
  local now="${EPOCHREALTIME/./}" cs
  cs=$(((now - t0) / 10000))
  printf '+%3d.%02ds  %s\n' $((cs / 100)) $((cs % 100)) "$*"
}

# The nft ruleset that makes the cut; deleting table $TABLE (inet and arp) heals it.
# VRRP and CARP by number: nft resolves protocol names through /etc/protocols, which slim images
# lack (no netbase).
cut_rules() {
  local match="meta l4proto 112"
  [ "$VIPD_TRANSPORT" = udp ] && match="udp dport $UDP_PORT"
  local in="chain in { type filter hook input priority 0; policy accept; $match drop; };"
  local out="chain out { type filter hook output priority 0; policy accept; $match drop; };"
  case "$mode" in
    proto) echo "table inet $TABLE { $in $out }" ;;
    oneway) echo "table inet $TABLE { $out }" ;;
    link)
      # `fwd` is a reserved word in nft, hence `forw`.
      echo "table inet $TABLE {" \
        "chain in { type filter hook input priority 0; policy accept; iifname \"eth0\" drop; };" \
        "chain forw { type filter hook forward priority 0; policy accept; iifname \"eth0\" drop; oifname \"eth0\" drop; };" \
        "chain out { type filter hook output priority 0; policy accept; oifname \"eth0\" drop; }; };" \
        "table arp $TABLE {" \
        "chain in { type filter hook input priority 0; policy accept; iifname \"eth0\" drop; };" \
        "chain out { type filter hook output priority 0; policy accept; oifname \"eth0\" drop; }; }"
      ;;
  esac
}

cut() {
  local box="${1:-fw1}"
  compose exec -T "$box" nft "$(cut_rules)"
}

heal() {
  local box="${1:-fw1}"
  # add-then-delete: deletes the tables whether or not this mode created both.
  compose exec -T "$box" nft "add table inet $TABLE; delete table inet $TABLE; add table arp $TABLE; delete table arp $TABLE"
}

up() {
  compose build
  compose up -d --force-recreate
}

# The EXIT trap of run and up: on failure, remove what they started, then exit as the step did.
down_on_failure() {
  local status=$?
  trap - EXIT
  if [ "$status" != 0 ]; then
    echo "splitbrain: failed (exit $status); bringing the project down" >&2
    VIPD_FW3=1 compose down --timeout 5 >&2 || true
  fi
  exit "$status"
}

# Interrupted runs fail too (the EXIT trap sees 130/143 and cleans up).
clean_up_on_failure() {
  trap down_on_failure EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Each box's last transition, whether it holds the VIP, and where the client's ARP entry points.
status() {
  local box holds last mac arp
  arp="$(compose exec -T client ip neigh show "$VIP" |
    awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')"
  for box in $(firewalls); do
    holds=no
    compose exec -T "$box" ip -4 -o addr show dev eth0 | grep -q " $VIP/" && holds=yes
    mac="$(compose exec -T "$box" cat /sys/class/net/eth0/address | tr -d '\r')"
    # grep finding nothing is an answer ("no transition yet"), not a failure of the run.
    last="$(logs "$box" | { grep '"event":"transition"' || true; } | tail -n 1 |
      sed -E 's/.*"from":"([^"]*)","to":"([^"]*)","reason":"([^"]*)".*/\1 -> \2 (\3)/')"
    say "$box: ${last:-no transition yet}; VIP: $holds; client ARP here: $([ "$arp" = "$mac" ] && echo yes || echo no)"
  done
}

# vipd's JSON lines of one box (compose's "fw1  | " prefix removed).
logs() {
  compose logs --no-color "$1" | sed -n -E 's/^[^{]*(\{.*)$/\1/p'
}

vip_holders() {
  local box n=0
  for box in $(firewalls); do
    compose exec -T "$box" ip -4 -o addr show dev eth0 | grep -q " $VIP/" && n=$((n + 1))
  done
  echo "$n"
}

run() {
  say "building and starting $(firewalls | tr '\n' ' ')and client ($VIPD_TRANSPORT transport)"
  up
  compose exec -d -T client ping -q -i 0.2 "$VIP"
  for _ in $(seq 30); do
    [ "$(vip_holders)" = 1 ] && break
    sleep 1
  done
  status
  say "--- CUT fw1 ($mode) for $split s ---"
  cut fw1
  local end=$((SECONDS + split))
  while [ $SECONDS -lt $end ]; do
    sleep 2
    status
  done
  heal fw1
  say "--- HEAL ---"
  sleep 2
  status
  sleep 4
  status
  say "transitions and split-brain events logged by vipd:"
  local box
  for box in $(firewalls); do
    logs "$box" | { grep -E '"event":"(transition|split-brain|one-way-loss)"' || true; } |
      sed -E "s/^/  $box /; s/\"(level|node|instance|vrid)\":[^,]*,//g"
  done
  [ "$(vip_holders)" = 1 ]
}

case "${1:-run}" in
  run) clean_up_on_failure; run ;;
  up) clean_up_on_failure; up ;;
  status) status ;;
  down) VIPD_FW3=1 compose down --timeout 5 ;;
  cut) cut "${2:-fw1}" ;;
  heal) heal "${2:-fw1}" ;;
  compose) shift; COMPOSE_EXEC=1 compose "$@" ;;
  sim)
    shift
    cd "$root"
    fw3=()
    [ "$VIPD_FW3" = 1 ] && fw3=(--fw3)
    exec npx tsx scripts/splitbrain/sim.ts --driver docker --mode "$mode" \
      --transport "$VIPD_TRANSPORT" "${fw3[@]+"${fw3[@]}"}" "$@"
    ;;
  *) echo "splitbrain: unknown command $1 (run, sim, up, status, down, cut, heal, compose)" >&2; exit 2 ;;
esac
