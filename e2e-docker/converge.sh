#!/usr/bin/env bash
# The convergence scenario in containers, against docker-compose.yml:
#   1. bring up an agent node and two keepers (fresh volumes);
#   2. give the agent's personal group both keepers;
#   3. write N items on the agent, each carrying a unique plaintext marker;
#   4. wait until both keepers' raw listings hold N items (push: no sync call);
#   5. check: no stored ciphertext contains the marker, the keepers hold no
#      vault or key, a keeper refuses a decrypted read, the owner reads it back;
#   6. tear everything down (volumes too).
#
# Usage: ./converge.sh [N]          N items, default 100
#   TIMEOUT=seconds                 how long convergence may take (default 90)
#   KEEP_UP=1                       leave the network running afterwards
# Needs Docker with the compose plugin (v2). Exit status 0 = every check passed.
set -euo pipefail

cd "$(dirname "$0")"
N="${1:-${N:-100}}"
TIMEOUT="${TIMEOUT:-90}"
MARKER="cairn-e2e-marker-$(date +%s)-$$"
START=$(date +%s)

dc() { docker compose -f docker-compose.yml "$@"; }
step() { printf '\n[%4ss] %s\n' "$(($(date +%s) - START))" "$*"; }
ok() { printf '        ok    %s\n' "$*"; }
fail() { printf '        FAIL  %s\n' "$*" >&2; exit 1; }
# The first value of "key" in cairn's --json output (a string or a number), without jq.
field() {
  local j
  j=$(cat)
  { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" <<<"$j"; sed -n "s/.*\"$1\": *\([0-9][0-9]*\).*/\1/p" <<<"$j"; } | head -n 1
}

finish() {
  local code=$?
  if [ "$code" -ne 0 ]; then
    printf '\n---- last log lines of each node ----\n' >&2
    dc logs --no-color --tail 25 >&2 || true
  fi
  if [ "${KEEP_UP:-0}" = 1 ]; then
    step "KEEP_UP=1: the network stays up; stop it with: docker compose -f $(pwd)/docker-compose.yml down -v"
  else
    step "tear down"
    dc down -v --remove-orphans >/dev/null 2>&1 || true
    ok "containers, network and volumes removed"
  fi
  if [ "$code" -eq 0 ]; then printf '\nPASS: %s items converged on 2 keepers; keepers hold ciphertext only\n' "$N"
  else printf '\nFAIL (exit %s)\n' "$code" >&2; fi
  exit "$code"
}

# Lists a group's raw envelopes on a node through its local API (the CLI has no
# raw verb): prints "<items> <items whose ciphertext contains the marker>".
RAW_JS=$(cat <<'JS'
const fs = require('node:fs')
const dir = process.env.CAIRN_DATA_DIR || '/data'
const [gid, marker] = process.argv.slice(1)
const d = JSON.parse(fs.readFileSync(dir + '/daemon.json', 'utf8'))
const token = fs.readFileSync(dir + '/api-token', 'utf8').trim()
;(async () => {
  let cursor = null, n = 0, leaked = 0
  do {
    const url = `http://${d.apiHost}:${d.apiPort}/api/v1/groups/${gid}/raw?limit=1000` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '')
    const r = await fetch(url, { headers: { authorization: 'Bearer ' + token } })
    if (r.status === 404) break
    if (!r.ok) throw new Error(`${r.status} ${await r.text()}`)
    const j = await r.json()
    for (const it of j.items) {
      if (it.tombstone) continue
      n++
      if (Buffer.from(it.ciphertext, 'base64').includes(marker) || it.ciphertext.includes(marker)) leaked++
    }
    cursor = j.nextCursor
  } while (cursor)
  console.log(`${n} ${leaked}`)
})().catch(e => { console.error(e.message); process.exit(1) })
JS
)

step "preflight"
docker compose version >/dev/null 2>&1 || fail "docker compose (v2 plugin) is not installed"
docker info >/dev/null 2>&1 || fail "no Docker engine answers (is the daemon running?)"
if ! [[ "$N" =~ ^[1-9][0-9]*$ ]]; then fail "N must be a positive whole number, got $N"; fi
mkdir -p secrets
if [ ! -s secrets/passphrase ]; then
  # A throwaway passphrase for this scenario only. World-readable because the
  # container user (uid 1000) reads it through the secret's bind mount; a real
  # deployment sets owner and mode through its orchestrator's secrets.
  (umask 022 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > secrets/passphrase && echo >> secrets/passphrase)
  ok "created a throwaway passphrase in $(pwd)/secrets/passphrase (a Docker secret)"
fi
ok "docker $(docker version --format '{{.Server.Version}}'), $(docker compose version --short)"
trap finish EXIT

step "bring up agent + keeper1 + keeper2 (build, fresh volumes, wait until healthy)"
dc down -v --remove-orphans >/dev/null 2>&1 || true
dc up -d --build --wait
ok "all three nodes answer"

step "who is who"
AGENT_JSON=$(dc exec -T agent cairn --json status)
GID=$(field personalGroupId <<<"$AGENT_JSON")
ENTITY=$(field entityId <<<"$AGENT_JSON")
if [ -z "$GID" ] || [ -z "$ENTITY" ]; then fail "the agent's status has no entity or personal group: $AGENT_JSON"; fi
ok "agent entity $ENTITY, personal group $GID"
declare -A ADDR PEER
for k in keeper1 keeper2; do
  ADDR[$k]=$(dc exec -T agent cat "/addrs/$k.multiaddr" | tr -d '\r\n')
  PEER[$k]="${ADDR[$k]##*/p2p/}"
  KJSON=$(dc exec -T "$k" cairn --json status)
  [ "$(field peerId <<<"$KJSON")" = "${PEER[$k]}" ] || fail "$k published ${ADDR[$k]} but its status says $(field peerId <<<"$KJSON")"
  ok "$k ${ADDR[$k]}"
done
connected() { grep -q "${PEER[keeper1]}" <<<"$PEERS" && grep -q "${PEER[keeper2]}" <<<"$PEERS"; }
for _ in $(seq 1 30); do
  PEERS=$(dc exec -T agent cairn --json peers)
  if connected; then break; fi
  sleep 1
done
connected || fail "the agent did not connect to both keepers (bootstrap): $PEERS"
ok "the agent is connected to both keepers (bootstrap)"

step "add both keepers to the agent's personal group"
for k in keeper1 keeper2; do
  dc exec -T agent cairn --json group add-keeper "$GID" "${PEER[$k]}" --multiaddr "${ADDR[$k]}" >/dev/null
  groups=0
  for _ in $(seq 1 30); do
    groups=$(dc exec -T "$k" cairn --json status | field groups)
    if [ "${groups:-0}" -ge 1 ]; then break; fi
    sleep 1
  done
  [ "${groups:-0}" -ge 1 ] || fail "$k never received the group descriptor"
  ok "$k holds group $GID"
done

step "write $N items on the agent (marker $MARKER)"
T0=$(date +%s)
seq 1 "$N" | dc exec -T agent xargs -P 4 -I '{}' cairn put --type note "$MARKER item {}: the user prefers tea over coffee after 4pm" >/dev/null
ok "$N items written in $(($(date +%s) - T0)) s"

step "wait until both keepers' raw listings hold $N items (push only, no sync call)"
deadline=$(($(date +%s) + TIMEOUT))
declare -A COUNT LEAKED
while :; do
  done_all=1
  line=""
  for k in keeper1 keeper2; do
    out=$(dc exec -T "$k" node -e "$RAW_JS" "$GID" "$MARKER") || fail "cannot list $k's raw items"
    read -r "COUNT[$k]" "LEAKED[$k]" <<<"$out"
    line="$line $k=${COUNT[$k]}"
    [ "${COUNT[$k]}" -ge "$N" ] || done_all=0
  done
  printf '        …    %s\n' "$line"
  [ "$done_all" = 1 ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "no convergence within $TIMEOUT s:$line (want $N each)"
  sleep 1
done
ok "both keepers hold $N items, $(($(date +%s) - T0)) s after the first write"

step "what the keepers hold"
for k in keeper1 keeper2; do
  [ "${COUNT[$k]}" -eq "$N" ] || fail "$k lists ${COUNT[$k]} items, want exactly $N"
  [ "${LEAKED[$k]}" -eq 0 ] || fail "$k holds ${LEAKED[$k]} ciphertexts containing the plaintext marker"
  ok "$k: $N ciphertexts, none contains the marker"
  dc exec -T "$k" test ! -e /data/vault.cbor || fail "$k has a vault"
  ok "$k: no vault in its data dir ($(dc exec -T "$k" ls /data | tr '\n' ' '))"
done

step "a keeper refuses a decrypted read; the owner reads it"
ITEM=$(dc exec -T agent cairn --json ls -n 1 | field id)
[ -n "$ITEM" ] || fail "the agent lists no item"
if REFUSAL=$(dc exec -T keeper1 cairn --json get "$ITEM"); then fail "keeper1 answered a decrypted read: $REFUSAL"; fi
grep -q KEEPER_HAS_NO_KEYS <<<"$REFUSAL" || fail "keeper1 refused, but not with KEEPER_HAS_NO_KEYS: $REFUSAL"
ok "keeper1: $(field message <<<"$REFUSAL")"
dc exec -T agent cairn --json get "$ITEM" | grep -q "$MARKER" || fail "the agent cannot read its own item $ITEM"
ok "agent reads item $ITEM in plaintext"
