# Nodes: one systemd-nspawn container per node, booting systemd on a copy-on-write
# overlay of the base tree, in its own cgroup under the lab's so `down` finds it.

# The cgroup hierarchies nspawn uses: the v2 root, or on hybrid hosts the v1
# name=systemd one plus the v2 "unified" one. The first is where processes are found.
cgroup_hierarchies() {
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then echo /sys/fs/cgroup; return 0; fi
  [[ -d /sys/fs/cgroup/systemd ]] \
    || die "no cgroup v2 root and no name=systemd hierarchy under /sys/fs/cgroup; systemd-nspawn cannot run here"
  echo /sys/fs/cgroup/systemd
  [[ -f /sys/fs/cgroup/unified/cgroup.procs ]] && echo /sys/fs/cgroup/unified
  return 0
}
cgroup_root() { cgroup_hierarchies | head -n 1; }
# Every hierarchy the lab (or the containers' systemd) may have made directories in.
lab_cgroup_dirs() {
  local h
  for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [[ -d $h/$LAB_CGROUP_NAME ]] && echo "$h/$LAB_CGROUP_NAME"
  done
  return 0
}
# Move the calling (sub)shell into the lab's cgroup $1 in every hierarchy: without
# this, nspawn --keep-unit puts its "payload" and "supervisor" groups next to ours.
join_lab_cgroup() {
  local h
  for h in $(cgroup_hierarchies); do
    mkdir -p "$h/$LAB_CGROUP_NAME/$1"
    echo "$BASHPID" >"$h/$LAB_CGROUP_NAME/$1/cgroup.procs"
  done
}

# Per-node identity and config, written into the node's upper (writable) layer.
node_prepare() {
  local i=$1 name addr dir upper
  name=$(node_name "$i"); addr=$(node_address "$i")
  dir="$LAB_STATE/nodes/$name"; upper="$dir/upper"
  mkdir -p "$upper"/etc/systemd/network "$upper"/etc/ssh
  install -d -m 700 "$upper/root" "$upper/root/.ssh"
  echo "$name" >"$upper/etc/hostname"
  # Unique machine-id per node; nspawn also derives host0's MAC from the machine name.
  tr -d '-' </proc/sys/kernel/random/uuid >"$upper/etc/machine-id"
  cat >"$upper/etc/systemd/network/10-host0.network" <<NET
# Written by the k8s lab: static address on the lab bridge, no gateway (air gap).
# Sorts before systemd's 80-container-host0.network, which would ask for DHCP.
[Match]
Name=host0

[Network]
Address=$addr/24
IPv6AcceptRA=no
NET
  ssh-keygen -q -A -f "$upper" >/dev/null
  install -m 600 "$LAB_KEY.pub" "$upper/root/.ssh/authorized_keys"
  if (( i == 0 )); then
    # The installer runs on master1 and SSHes from there to the others.
    install -m 600 "$LAB_KEY" "$upper/root/.ssh/lab_ed25519"
    install -m 644 "$LAB_KEY.pub" "$upper/root/.ssh/lab_ed25519.pub"
  fi
  printf '%s,%s %s\n' "$name" "$addr" "$(cut -d' ' -f1,2 "$upper/etc/ssh/ssh_host_ed25519_key.pub")" \
    >>"$LAB_STATE/ssh/known_hosts"
}

node_start() {
  local name=$1 base=$2 dir extra=()
  dir="$LAB_STATE/nodes/$name"
  # Word-split on purpose: a list of extra nspawn options for experiments.
  read -r -a extra <<<"${K8S_LAB_NSPAWN_ARGS-}"
  # The subshell joins the node's cgroup, then becomes nspawn (same pid), in a new
  # session so that a terminal hang-up does not take the node down.
  (
    join_lab_cgroup "$name"
    close_inherited_fds
    exec setsid systemd-nspawn --quiet --boot --register=no --keep-unit \
      --machine="$name" -D "$base" --overlay="$base:$dir/upper:/" \
      --network-bridge="$LAB_BRIDGE" --console=read-only \
      --resolv-conf=off --timezone=off --link-journal=no "${extra[@]}"
  ) </dev/null >"$dir/console.log" 2>&1 &
  echo $! >"$dir/pid"
}

# nspawn creates vb-<machine> on the host side and attaches it to the bridge; with
# no systemd-networkd on the host nobody brings it up, so we do.
node_link_up() {
  local name=$1 link="vb-$1" n=0
  until ip link show "$link" >/dev/null 2>&1; do
    # Our own child, just started: kill -0 is enough (it may not have joined its cgroup yet).
    kill -0 "$(node_pid "$name")" 2>/dev/null || node_fail "$name" "the container exited while starting"
    (( n++ < 150 )) || node_fail "$name" "host-side link $link did not appear within 15 s"
    sleep 0.1
  done
  ip link set "$link" up
}

# A node is alive while its nspawn runs; "its" is proven by the process being in
# the node's lab cgroup, so a stale pid file can never make us signal a stranger.
node_pid() { cat "$LAB_STATE/nodes/$1/pid" 2>/dev/null; }
node_alive() {
  local pid
  pid=$(node_pid "$1") || return 1
  grep -q ":/$LAB_CGROUP_NAME/$1\(/\|\$\)" "/proc/$pid/cgroup" 2>/dev/null \
    && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

# Last words of a node that did not come up: its console (systemd's boot messages).
node_fail() {
  local name=$1 why=$2
  say "node $name did not come up: $why"
  say "last console lines of $name ($LAB_STATE/nodes/$name/console.log):"
  tail -n 25 "$LAB_STATE/nodes/$name/console.log" 2>/dev/null | sed 's/^/  | /' >&2
  exit 1
}

# Bounded wait until sshd answers on every node, naming the node that did not.
wait_for_ssh() {
  local deadline=$((SECONDS + LAB_BOOT_TIMEOUT)) name addr
  for name in "$@"; do
    until ssh -n -F "$LAB_SSH_CONFIG" -o ConnectTimeout=2 "$name" true 2>/dev/null; do
      node_alive "$name" || node_fail "$name" "the container exited"
      (( SECONDS < deadline )) || node_fail "$name" "sshd did not answer within ${LAB_BOOT_TIMEOUT}s"
      sleep 0.5
    done
  done
}

# End every process of the lab: a polite shutdown through nspawn first (SIGTERM
# makes it power the container off), then SIGKILL for anything left in the cgroups.
nodes_stop() {
  local name pid pids=() n
  for name in $(existing_nodes); do
    if node_alive "$name"; then
      pid=$(node_pid "$name"); kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  for pid in "${pids[@]}"; do
    for (( n = 0; n < 100; n++ )); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
  done
  local cg
  for (( n = 0; n < 50; n++ )); do
    local left=()
    while read -r cg; do
      mapfile -t -O "${#left[@]}" left < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
    done < <(lab_cgroup_dirs)
    ((${#left[@]})) || break
    kill -KILL "${left[@]}" 2>/dev/null || true
    sleep 0.1
  done
  # Remove the (now empty) cgroup directories, deepest first.
  while read -r cg; do
    find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done < <(lab_cgroup_dirs)
}

# SIGKILL every process in one node's cgroups (nspawn included) and wait until none is left.
node_kill() {
  local name=$1 h n left
  for (( n = 0; n < 50; n++ )); do
    left=$(for h in $(cgroup_hierarchies); do find "$h/$LAB_CGROUP_NAME/$name" -name cgroup.procs -exec cat {} + 2>/dev/null || true; done | sort -u)
    [[ -n $left ]] || break
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    sleep 0.1
  done
  [[ -z $left ]] || die "$name: processes left after SIGKILL: $left"
  for h in $(cgroup_hierarchies); do
    [[ -d $h/$LAB_CGROUP_NAME/$name ]] && find "$h/$LAB_CGROUP_NAME/$name" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  return 0
}

# nspawn keeps per-machine dirs and image locks under /run/systemd/nspawn on the
# host, and they outlive a killed nspawn. Remember whether that dir was ours.
NSPAWN_RUN=/run/systemd/nspawn
nspawn_rundir_record() {
  mkdir -p "$LAB_STATE/run"
  [[ -d $NSPAWN_RUN ]] || touch "$LAB_STATE/run/nspawn-rundir"
}
nspawn_rundir_clean() {
  local name base
  for name in $(existing_nodes) "$BASE_BUILD_MACHINE"; do
    rm -rf "${NSPAWN_RUN:?}/propagate/$name"
  done
  for base in "$LAB_STATE"/cache/base-*/ "$LAB_STATE"/cache/base-*.building/; do
    [[ -d $base ]] && rm -f "$NSPAWN_RUN/locks/inode-$(stat -c %d:%i "$base")"
  done
  if [[ -f $LAB_STATE/run/nspawn-rundir ]]; then
    rmdir "$NSPAWN_RUN/propagate" "$NSPAWN_RUN/locks" "$NSPAWN_RUN" 2>/dev/null || true
  fi
  return 0
}
