# Shared settings and small helpers for test/lab/lab. Sourced, not run.

LAB_STATE=${K8S_LAB_STATE:-/var/lib/k8s-lab}
LAB_MARKER="$LAB_STATE/.created-by-k8s-lab"
LAB_BRIDGE=k8slab0
LAB_PREFIX=192.168.217          # mirrors the seed deployment's addresses
LAB_SUBNET=$LAB_PREFIX.0/24
LAB_HOST_ADDR=$LAB_PREFIX.1
LAB_VIP=$LAB_PREFIX.100
LAB_FIRST_HOST=19               # master1 = .19, master2 = .20, ...
LAB_KEY="$LAB_STATE/ssh/lab_ed25519"
LAB_SSH_CONFIG="$LAB_STATE/ssh/config"
# The name=systemd v1 hierarchy (hybrid hosts) or the v2 root: every process of the
# lab is started inside $cgroup_root/k8s-lab so `down` can find and end all of them.
LAB_CGROUP_NAME=k8s-lab
LAB_SUITE=bookworm
# The Debian mirror debootstrap uses: K8S_LAB_MIRROR, or the source the host's own apt uses for
# $LAB_SUITE (no mirror is written into the repository). Resolved when a build needs it.
LAB_MIRROR=${K8S_LAB_MIRROR:-}
LAB_BOOT_TIMEOUT=${K8S_LAB_BOOT_TIMEOUT:-120}

say() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [[ $(id -u) == 0 ]] || die "the lab needs root (network bridge, containers); run it as root"
}

# Name of node i (0-based): master1..3, then node1, node2, ...
node_name() {
  local i=$1
  if (( i < 3 )); then echo "master$((i + 1))"; else echo "node$((i - 2))"; fi
}
node_address() { echo "$LAB_PREFIX.$((LAB_FIRST_HOST + $1))"; }
node_roles() { if (( $1 < 3 )); then echo control-plane; else echo worker; fi; }

# Names of the nodes the current (possibly half-built) lab has on disk.
existing_nodes() {
  local d
  for d in "$LAB_STATE"/nodes/*/; do
    [[ -d $d ]] && basename "$d"
  done
  return 0
}

# Unmount everything mounted at or below $1 (deepest first). debootstrap leaves
# /proc and /sys mounted inside its target when it is killed half-way.
unmount_under() {
  local root=${1%/} m
  [[ -n $root ]] || return 0
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done < <(awk -v r="$root" '{ m = $2; gsub(/\\040/, " ", m); if (m == r || index(m, r "/") == 1) print m }' /proc/mounts | sort -r)
}

# rm -rf that first makes sure nothing is still mounted inside, so it can never
# reach through a bind mount into the host's /proc, /sys or /dev.
rm_tree() {
  local t=$1
  [[ -e $t ]] || return 0
  case $t in "$LAB_STATE"/?*) ;; *) die "internal: refusing to delete $t outside $LAB_STATE" ;; esac
  unmount_under "$t"
  rm -rf --one-file-system "$t"
}

# For processes that outlive this command (containers, a build a killed `up`
# leaves running): close every inherited descriptor above stderr. A lock held
# by the caller (`flock FILE lab up`) or our own lock on fd 9 must not live on
# inside them.
close_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    if (( fd > 2 )); then eval "exec $fd>&-"; fi
  done
}
