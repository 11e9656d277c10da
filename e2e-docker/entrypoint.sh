#!/bin/sh
# Entry point of the cairn e2e containers. It runs the command it is given
# (`cairn start …`, from docker-compose.yml) after doing two things that
# `cairn start` does not do by itself:
#
# 1. Initialise the data dir on first start. `cairn init` refuses a data dir
#    that already holds a node, so "first start" means "no node.key yet". A
#    keeper (`--keeper` among the start flags) gets `cairn init --keeper`; the
#    agent gets `cairn init --passphrase-file <the file start also uses>`.
# 2. Peer IDs. A bootstrap multiaddr must end in /p2p/<peer ID>, and a peer ID
#    exists only once the node key does. So each keeper writes its multiaddr,
#    /dns4/<hostname>/tcp/<listen port>/p2p/<peer ID>, into the shared /addrs
#    volume at every start; the agent (BOOTSTRAP_PEERS names the keepers) waits
#    for those files and hands them to cairn as CAIRN_NETWORK_BOOTSTRAP (the
#    network.bootstrap setting).
#
# Any other command (`cairn status`, `sh`, …) runs as given.
set -eu

DATA="${CAIRN_DATA_DIR:-/data}"
ADDRS="${ADDRS_DIR:-/addrs}"
WAIT_SECONDS="${BOOTSTRAP_WAIT_SECONDS:-120}"
HOST=$(cat /etc/hostname)   # the compose service sets it (hostname: keeper1)

log() { printf 'cairn-entrypoint: %s\n' "$*" >&2; }

if [ "${1:-}" != cairn ] || [ "${2:-}" != start ]; then
  exec "$@"
fi

# What the start command says: keeper or not, where it listens, where the passphrase is.
keeper=no
listen=""
passfile=""
prev=""
for a in "$@"; do
  case "$prev" in
    --listen) listen="$a" ;;
    --passphrase-file) passfile="$a" ;;
  esac
  case "$a" in
    --keeper) keeper=yes ;;
    --listen=*) listen="${a#--listen=}" ;;
    --passphrase-file=*) passfile="${a#--passphrase-file=}" ;;
  esac
  prev="$a"
done

if [ ! -e "$DATA/node.key" ]; then
  if [ "$keeper" = yes ]; then
    log "first start: initialising a keeper node in $DATA"
    cairn init --keeper
  else
    if [ -z "$passfile" ]; then
      log "the agent needs --passphrase-file (a Docker secret) to create its vault"
      exit 1
    fi
    log "first start: initialising an agent node in $DATA"
    cairn init --passphrase-file "$passfile"
  fi
elif [ ! -e "$DATA/identity.json" ]; then
  log "$DATA holds node.key but no identity.json: an earlier init was interrupted; remove the volume and start again"
  exit 1
fi

peer_id=$(node -p 'require(process.argv[1]).peerId' "$DATA/identity.json")
port=$(printf '%s' "$listen" | sed -n 's|.*/tcp/\([0-9][0-9]*\).*|\1|p')
port="${port:-9474}"
log "peer ID $peer_id, libp2p port $port"

if [ "$keeper" = yes ] && [ -d "$ADDRS" ]; then
  addr="/dns4/$HOST/tcp/$port/p2p/$peer_id"
  printf '%s\n' "$addr" > "$ADDRS/.$HOST.tmp"
  mv "$ADDRS/.$HOST.tmp" "$ADDRS/$HOST.multiaddr"
  log "published $addr to $ADDRS/$HOST.multiaddr"
fi

if [ "$keeper" = no ] && [ -n "${BOOTSTRAP_PEERS:-}" ]; then
  list=""
  for k in $BOOTSTRAP_PEERS; do
    f="$ADDRS/$k.multiaddr"
    waited=0
    while [ ! -s "$f" ]; do
      if [ "$waited" -ge "$WAIT_SECONDS" ]; then
        log "no multiaddr from $k after ${WAIT_SECONDS} s ($f)"
        exit 1
      fi
      sleep 1
      waited=$((waited + 1))
    done
    list="${list:+$list,}$(cat "$f")"
  done
  CAIRN_NETWORK_BOOTSTRAP="$list"
  export CAIRN_NETWORK_BOOTSTRAP
  log "bootstrapping to $list"
fi

exec "$@"
