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
#   docker/splitbrain.sh [OPTIONS] heal         removes every cut from every firewall
#   docker/splitbrain.sh [OPTIONS] compose ARGS...   docker compose with this lab's project,
#                                               file and profiles (what the sim's driver uses)
# OPTIONS: --mode proto|link|oneway (default proto), --transport raw|udp (default raw),
#          --fw3 (a third firewall), --split SECONDS (default 8, for run); cut and heal
#          need the --mode, --transport and --fw3 of the project they act on
# VIPD_NODE_IMAGE: the image's base (docker/Dockerfile's NODE_IMAGE, node:24-bookworm-slim by
# default), e.g. one built locally where no registry can be reached.
#
# run and up bring the project down when a step fails (exit status kept), so a failed run
# leaves no containers behind; the other commands act on a project someone else manages.
#
# The cut happens inside the boxes, because containers cannot touch the Docker host's bridge:
# nft tables drop election traffic (VRRP, or UDP 11200 with --transport udp) on input only, so
# every send still succeeds, as on the namespace lab's bridge: proto makes the cut box drop all
# of it and the other firewalls drop the cut box's (neither side hears the other); oneway only
# the latter (the others stop hearing it, it still hears them). link drops everything on the cut
# box's eth0 both ways, ARP included: its sends fail with EPERM and vipd reports a socket fault,
# as it would for a box whose link is gone.
#
# run prints a status line per box (last transition, VIP held, client's ARP entry) before the
# cut, every 2 s during it and once the boxes agree again, with `--- CUT ... at <UTC time> ---`
# and `--- HEAL at <UTC time> ---` between them (the times of vipd's log lines, which it lists at
# the end). It fails when no single master is elected within 30 s before the cut or when the
# boxes do not agree on one VIP holder within 30 s of the heal.
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

# The v2 plugin when present, else Debian's docker-compose 1.29: both read this file.
COMPOSE=(docker compose)
docker compose version >/dev/null 2>&1 || COMPOSE=(docker-compose)

compose() {
  local cmd=("${COMPOSE[@]}")
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

# A firewall's address on the lan network (docker-compose.yml's ipv4_address): the others drop
# the cut box's election traffic by its source.
address() {
  case "$1" in
    fw1) echo 10.99.0.1 ;;
    fw2) echo 10.99.0.2 ;;
    fw3) echo 10.99.0.3 ;;
    *) echo "splitbrain: $1 is not a firewall (fw1, fw2, fw3)" >&2; return 2 ;;
  esac
}

# The nft ruleset that makes the cut on one side: `cut_rules self` in the cut box, `cut_rules
# peer BOX` in each other firewall ('' when that side has nothing to drop); deleting table
# $TABLE (inet and arp) heals it. VRRP and CARP by number: nft resolves protocol names through
# /etc/protocols, which slim images lack (no netbase).
cut_rules() {
  local side="$1" match="meta l4proto 112" from
  [ "$VIPD_TRANSPORT" = udp ] && match="udp dport $UDP_PORT"
  local input="type filter hook input priority 0; policy accept;"
  case "$side:$mode" in
    self:proto) echo "table inet $TABLE { chain in { $input $match drop; }; }" ;;
    self:oneway | peer:link) ;;
    peer:proto | peer:oneway)
      from="$(address "$2")" || return
      echo "table inet $TABLE { chain in { $input ip saddr $from $match drop; }; }"
      ;;
    self:link)
      # `fwd` is a reserved word in nft, hence `forw`.
      echo "table inet $TABLE {" \
        "chain in { $input iifname \"eth0\" drop; };" \
        "chain forw { type filter hook forward priority 0; policy accept; iifname \"eth0\" drop; oifname \"eth0\" drop; };" \
        "chain out { type filter hook output priority 0; policy accept; oifname \"eth0\" drop; }; };" \
        "table arp $TABLE {" \
        "chain in { $input iifname \"eth0\" drop; };" \
        "chain out { type filter hook output priority 0; policy accept; oifname \"eth0\" drop; }; }"
      ;;
  esac
}

# The container of a compose service, by the labels both compose implementations set: `docker
# exec` and `docker logs` on it take a fraction of a second where docker-compose 1.29's exec and
# logs take about two (Python start-up), which would stretch every status round.
declare -A ids=()
resolve() {
  local service
  for service in "$@"; do
    [ -n "${ids[$service]:-}" ] && continue
    ids[$service]="$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
      --filter "label=com.docker.compose.service=$service")"
    if [ -z "${ids[$service]}" ]; then
      echo "splitbrain: $service is not running (docker/splitbrain.sh up starts the project)" >&2
      return 1
    fi
  done
}

# A command in a service's container; resolve it first in the calling shell, where the id is
# kept (a `$(in_box ...)` subshell would resolve it again each time).
in_box() {
  local service="$1"
  shift
  resolve "$service"
  docker exec "${ids[$service]}" "$@"
}

cut() {
  local box="${1:-fw1}" other rules
  address "$box" >/dev/null
  # shellcheck disable=SC2046 # firewalls prints names
  resolve $(firewalls)
  for other in $(firewalls); do
    if [ "$other" = "$box" ]; then rules="$(cut_rules self)"; else rules="$(cut_rules peer "$box")"; fi
    if [ -n "$rules" ]; then in_box "$other" nft "$rules"; fi
  done
}

heal() {
  local box
  # shellcheck disable=SC2046
  resolve $(firewalls)
  # add-then-delete: deletes the tables whether or not this mode created both.
  for box in $(firewalls); do
    in_box "$box" nft "add table inet $TABLE; delete table inet $TABLE; add table arp $TABLE; delete table arp $TABLE"
  done
}

up() {
  # Every service names the same image (docker-compose.yml): building it for one is enough,
  # where `compose build` would send the context and check each step once per service.
  compose build fw1
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
  local box holds last mac arp state
  # shellcheck disable=SC2046
  resolve client $(firewalls)
  arp="$(in_box client ip neigh show "$VIP" |
    awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')"
  for box in $(firewalls); do
    # One exec for both: the interface's MAC, then its addresses.
    state="$(in_box "$box" sh -c 'cat /sys/class/net/eth0/address; ip -4 -o addr show dev eth0')"
    mac="${state%%$'\n'*}"
    holds=no
    grep -q " $VIP/" <<<"$state" && holds=yes
    # grep finding nothing is an answer ("no transition yet"), not a failure of the run.
    last="$(logs "$box" | { grep '"event":"transition"' || true; } | tail -n 1 |
      sed -E 's/.*"from":"([^"]*)","to":"([^"]*)","reason":"([^"]*)".*/\1 -> \2 (\3)/')"
    say "$box: ${last:-no transition yet}; VIP: $holds; client ARP here: $([ -n "$arp" ] && [ "$arp" = "$mac" ] && echo yes || echo no)"
  done
}

# vipd's JSON lines of one box (anything before the JSON, such as compose's "fw1  | ", removed).
logs() {
  resolve "$1"
  docker logs "${ids[$1]}" 2>&1 | sed -n -E 's/^[^{]*(\{.*)$/\1/p'
}

vip_holders() {
  local box n=0
  for box in $(firewalls); do
    in_box "$box" ip -4 -o addr show dev eth0 | grep -q " $VIP/" && n=$((n + 1))
  done
  echo "$n"
}

# Waits until exactly one firewall has held the VIP for 3 s (three adverts, the namespace
# scenario's "agreed"), polling; fails after $1 seconds.
agree() {
  local limit=$((SECONDS + $1)) since=""
  # shellcheck disable=SC2046
  resolve $(firewalls)
  while [ $SECONDS -lt $limit ]; do
    if [ "$(vip_holders)" = 1 ]; then
      since="${since:-$SECONDS}"
      [ $((SECONDS - since)) -ge 3 ] && return 0
    else
      since=""
    fi
    sleep 0.5
  done
  return 1
}

utc() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

run() {
  say "building and starting $(firewalls | tr '\n' ' ')and client ($VIPD_TRANSPORT transport)"
  up
  # shellcheck disable=SC2046
  resolve client $(firewalls)
  docker exec -d "${ids[client]}" ping -q -i 0.2 "$VIP"
  local agreed=0
  agree 30 && agreed=1
  status
  if [ "$agreed" = 0 ]; then
    echo "splitbrain: no single VIP holder within 30 s of the start" >&2
    return 1
  fi
  say "--- CUT fw1 ($mode) for $split s at $(utc) ---" # the time before the cut
  cut fw1
  local end=$((SECONDS + split))
  while [ $SECONDS -lt $end ]; do
    sleep 2
    status
  done
  # The time before the heal: vipd may react to it before this line is printed.
  local healing
  healing="$(utc)"
  heal
  say "--- HEAL at $healing ---"
  agree 30 && agreed=1 || agreed=0
  status
  say "transitions and split-brain events logged by vipd:"
  local box
  for box in $(firewalls); do
    logs "$box" | { grep -E '"event":"(transition|split-brain|one-way-loss)"' || true; } |
      sed -E "s/^/  $box /; s/\"(level|node|instance|vrid)\":[^,]*,//g"
  done
  if [ "$agreed" = 0 ]; then
    echo "splitbrain: the firewalls did not agree on one VIP holder within 30 s of the heal" >&2
    return 1
  fi
}

case "${1:-run}" in
  run) clean_up_on_failure; run ;;
  up) clean_up_on_failure; up ;;
  status) status ;;
  down) VIPD_FW3=1 compose down --timeout 5 ;;
  cut) cut "${2:-fw1}" ;;
  heal) heal ;;
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
