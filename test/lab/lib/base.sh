# The base root filesystem: Debian 12 minbase built once with debootstrap and cached
# under $LAB_STATE/cache/base-<hash>, where the hash covers everything that shapes it.

# What a minimal server has; deliberately NOT haproxy, keepalived, chrony, etcd,
# containerd, runc or docker: those must come from the installer's own depot.
BASE_PACKAGES=(
  systemd systemd-sysv dbus openssh-server
  iproute2 iputils-ping procps kmod curl ca-certificates netbase
  less iptables conntrack socat ebtables ethtool
  util-linux e2fsprogs tar gzip xz-utils
)
# Bump when base_customize changes so old caches are not reused.
BASE_RECIPE=3

base_hash() {
  printf '%s\n' "$LAB_SUITE" minbase "$BASE_RECIPE" "${BASE_PACKAGES[@]}" | sha256sum | cut -c1-16
}
base_dir() { echo "$LAB_STATE/cache/base-$(base_hash)"; }

ensure_host_tools() {
  local missing=() tool pkg
  for tool in debootstrap:debootstrap systemd-nspawn:systemd-container ssh:openssh-client \
              ssh-keygen:openssh-client ip:iproute2 flock:util-linux; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  ((${#missing[@]})) || return 0
  say "installing host tools from Debian: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2 \
    || die "could not install ${missing[*]}; is Debian's package mirror reachable?"
}

# Build the base tree if the cache does not have it yet. Built under a temporary
# name and renamed at the end, so a killed build never looks like a finished one.
ensure_base() {
  local dir tmp
  dir=$(base_dir)
  [[ -f $dir/.complete ]] && return 0
  tmp="$dir.building"
  rm_tree "$tmp"
  mkdir -p "$tmp"
  say "building the base tree (debootstrap $LAB_SUITE minbase; a few minutes, once)"
  local inc
  inc=$(IFS=,; echo "${BASE_PACKAGES[*]}")
  # Run inside the lab's cgroup (so `down` ends it if this `up` is killed) and
  # without the lab lock's fd 9 (so a killed `up` does not leave the lock held).
  if ! ( join_lab_cgroup build
         exec debootstrap --variant=minbase --include="$inc" "$LAB_SUITE" "$tmp" "$LAB_MIRROR"
       ) >"$LAB_STATE/cache/debootstrap.log" 2>&1 9>&-; then
    tail -n 20 "$LAB_STATE/cache/debootstrap.log" >&2
    unmount_under "$tmp"
    die "debootstrap failed (full log: $LAB_STATE/cache/debootstrap.log); Debian's mirror $LAB_MIRROR must be reachable for the first build"
  fi
  unmount_under "$tmp"
  base_customize "$tmp"
  touch "$tmp/.complete"
  rm_tree "$dir"
  mv "$tmp" "$dir"
  say "base tree ready: $dir ($(du -sh "$dir" | cut -f1))"
}

# Turn the debootstrapped tree into an air-gapped node template: no apt sources,
# no per-machine identity (each node gets its own in its overlay), networkd on.
base_customize() {
  local root=$1
  : >"$root/etc/apt/sources.list"
  rm -f "$root"/etc/apt/sources.list.d/*
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
  rm -f "$root"/etc/ssh/ssh_host_*
  echo localhost >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  # No DNS in the air gap; an empty file rather than the build host's resolvers.
  rm -f "$root/etc/resolv.conf"
  : >"$root/etc/resolv.conf"
  chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
  # Nothing waits for "online" in the lab, and wait-online would stall boot by 2 min
  # if a node's link were misconfigured; the ssh wait is the real readiness check.
  chroot "$root" systemctl disable systemd-networkd-wait-online.service >/dev/null 2>&1 || true
}
