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
BASE_RECIPE=7
BASE_BUILD_MACHINE=k8s-lab-base-build

base_hash() {
  printf '%s\n' "$LAB_SUITE" minbase "$BASE_RECIPE" "${BASE_PACKAGES[@]}" | sha256sum | cut -c1-16
}
base_dir() { echo "$LAB_STATE/cache/base-$(base_hash)"; }

# The host's apt source for $LAB_SUITE (deb822 or one-line sources alike), e.g. the
# mirror the machine was set up with; K8S_LAB_MIRROR overrides it.
host_mirror() {
  apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)' 'Created-By: Packages' 2>/dev/null \
    | awk -v suite="$LAB_SUITE" '$1 == suite { print $2; exit }'
}

resolve_mirror() {
  [[ -n $LAB_MIRROR ]] || LAB_MIRROR=$(host_mirror)
  [[ -n $LAB_MIRROR ]] || die "the host's apt has no source for $LAB_SUITE (apt-get indextargets found none); add one to /etc/apt/sources.list(.d) or set K8S_LAB_MIRROR to a Debian mirror URL"
}

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

BUILD_LOG_NAME=build.log
build_log() { echo "$LAB_STATE/cache/$BUILD_LOG_NAME"; }

# Run one build step inside the lab's cgroup (so `down` ends it if this `up` is
# killed) and without inherited descriptors (so a killed `up` leaves no lock held).
build_step() {
  local what=$1 t0=$SECONDS; shift
  echo "=== $what" >>"$(build_log)"
  if ! ( join_lab_cgroup build; close_inherited_fds; exec "$@" ) </dev/null >>"$(build_log)" 2>&1; then
    tail -n 20 "$(build_log)" >&2
    die "$what failed (full log: $(build_log)); Debian's mirror $LAB_MIRROR must be reachable for the first build"
  fi
  echo "=== $what took $((SECONDS - t0))s" >>"$(build_log)"
}

# Build the base tree if the cache does not have it yet. Built under a temporary
# name and renamed at the end, so a killed build never looks like a finished one.
# With "refresh" (only when no node runs on it: `up`), a cached base is first brought
# up to the host's apt lists.
ensure_base() {
  local dir tmp inc t0=$SECONDS
  dir=$(base_dir)
  if [[ -f $dir/.complete ]]; then
    [[ ${1-} != refresh ]] || base_refresh "$dir"
    return 0
  fi
  tmp="$dir.building"
  rm_tree "$tmp"
  mkdir -p "$tmp"
  : >"$(build_log)"
  resolve_mirror
  say "building the base tree (debootstrap $LAB_SUITE minbase from $LAB_MIRROR, then updates; a few minutes, once)"
  inc=$(IFS=,; echo "${BASE_PACKAGES[*]}")
  # Two stages so dpkg can be told not to fsync every file before it installs
  # anything: the tree is a cache, rebuilt if a build does not finish.
  base_prefetch "$tmp"
  build_step "debootstrap (download)" debootstrap --foreign --variant=minbase --include="$inc" "$LAB_SUITE" "$tmp" "$LAB_MIRROR"
  echo force-unsafe-io >"$tmp/etc/dpkg/dpkg.cfg.d/k8s-lab-build"
  build_step "debootstrap (install)" chroot "$tmp" /debootstrap/debootstrap --second-stage
  unmount_under "$tmp"
  base_upgrade "$tmp"
  rm -f "$tmp/etc/dpkg/dpkg.cfg.d/k8s-lab-build"
  base_customize "$tmp"
  sync
  touch "$tmp/.complete"
  rm_tree "$dir"
  mv "$tmp" "$dir"
  # Bases built from an older package list or recipe will never be used again.
  local old
  for old in "$LAB_STATE"/cache/base-*; do
    [[ $old == "$dir" || ! -d $old ]] || rm_tree "$old"
  done
  say "base tree ready in $((SECONDS - t0))s: $dir ($(du -sh "$dir" | cut -f1))"
}

# Packages the host's apt would pick for the target whose dpkg status is $1
# (empty file: a fresh minbase) when asked for ${@:2}. Host lists include the
# point release and security updates, so these are the versions a patched
# bookworm server runs.
host_apt_plan() {
  local status=$1; shift
  apt-get -s -o Dir::State::status="$status" -o APT::Sandbox::User=root --no-install-recommends "$@" 2>/dev/null \
    | awk '/^Inst /{print $2}'
}

# debootstrap fetches each .deb with a separate wget, minutes for ~170 files;
# the host's apt pipelines them in seconds. Put them where debootstrap looks
# (it validates and reuses matching files). Best effort: what is missing or of
# another version, debootstrap fetches itself.
base_prefetch() {
  local root=$1 empty archives t0=$SECONDS
  archives="$root/var/cache/apt/archives"
  mkdir -p "$archives/partial"
  local wanted=()
  mapfile -t wanted < <(
    apt-cache dumpavail 2>/dev/null | awk 'BEGIN { RS = ""; FS = "\n" }
      /\nPriority: required/ { for (i = 1; i <= NF; i++) if (sub(/^Package: /, "", $i)) print $i }' | sort -u
  )
  ((${#wanted[@]})) || return 0
  empty=$(mktemp)
  local debs=()
  mapfile -t debs < <(host_apt_plan "$empty" install "${wanted[@]}" apt "${BASE_PACKAGES[@]}")
  rm -f "$empty"
  ((${#debs[@]})) || return 0
  ( cd "$archives" && apt-get -o APT::Sandbox::User=root download "${debs[@]}" ) >>"$(build_log)" 2>&1 \
    || say "prefetch got only part of the packages; debootstrap fetches the rest"
  echo "=== prefetch of ${#debs[@]} packages through the host's apt took $((SECONDS - t0))s" >>"$(build_log)"
}

# debootstrap installs the suite's release state; a real server runs the point
# release plus security fixes, and tests that fetch .debs on the host (with the
# host's apt lists) need the node's versions to match the host's. The newer
# .debs are mostly in the archive cache already (prefetch).
base_upgrade() {
  local root=$1 pkgs=()
  local archives="$root/var/cache/apt/archives"
  mapfile -t pkgs < <(host_apt_plan "$root/var/lib/dpkg/status" dist-upgrade)
  ((${#pkgs[@]})) || return 0
  say "applying $LAB_SUITE updates and security fixes to the base (${#pkgs[@]} packages)"
  mkdir -p "$archives/upgrade"
  ( cd "$archives/upgrade" && apt-get -o APT::Sandbox::User=root download "${pkgs[@]}" ) >>"$(build_log)" 2>&1 \
    || die "could not download updates (${pkgs[*]}) from Debian's mirror (log: $(build_log))"
  echo "=== upgrading the base" >>"$(build_log)"
  if ! base_install_debs "$root" /var/cache/apt/archives/upgrade "$BASE_BUILD_MACHINE" >>"$(build_log)" 2>&1; then
    base_install_failure "$(build_log)" >&2
    die "upgrading the base failed (full log: $(build_log)); the half-built base is discarded"
  fi
  rm -rf "$archives/upgrade" "${NSPAWN_RUN:?}/propagate/$BASE_BUILD_MACHINE"
}

# A cached base is as old as the apt lists it was built from, and Debian publishes updates
# every week: the tests that fetch .debs with the host's lists then find the node's
# versions older than what they install (a newer perl-base pulled in by keepalived, which
# the lab refuses rather than drift the base). Upgrade the cache to the host's lists, on
# a copy renamed into place at the end (a killed refresh leaves the old base whole).
base_refresh() {
  local dir=$1 tmp="$1.refreshing" pkgs=()
  mapfile -t pkgs < <(host_apt_plan "$dir/var/lib/dpkg/status" dist-upgrade)
  ((${#pkgs[@]})) || return 0
  say "the cached base is older than the host's apt lists (${#pkgs[@]} updates); upgrading it"
  rm_tree "$tmp"
  cp -a --reflink=auto "$dir" "$tmp"
  rm -f "$tmp/.complete"
  : >"$(build_log)"
  base_upgrade "$tmp"
  base_customize "$tmp"
  sync
  touch "$tmp/.complete"
  rm_tree "$dir"
  mv "$tmp" "$dir"
}

# Install (or upgrade to) every .deb in DIR (a path inside ROOT) with apt, in a throw-away
# nspawn so /proc and /dev are there for maintainer scripts. apt orders unpacking and
# configuring by Depends and Pre-Depends, which `dpkg -i *.deb` (file-name order) cannot:
# a Debian update where one package pre-depends on another's new version broke it.
# Nothing is downloaded: apt sees no source but the given files, so the set must be complete
# (--no-download would be the flag for it, but apt 2.6 then fails on local files with
# "Pathname to install is not absolute"). Auto-installed marks
# are kept (apt would mark every package named on its command line manual).
#   base_install_debs ROOT DIR MACHINE
base_install_debs() {
  local root=$1 dir=$2 machine=$3
  ( join_lab_cgroup build; close_inherited_fds
    exec systemd-nspawn --quiet --register=no --keep-unit --machine="$machine" \
      --resolv-conf=off --timezone=off --link-journal=no -D "$root" --setenv=DEBIAN_FRONTEND=noninteractive \
      sh -ec '
        auto=$(apt-mark showauto)
        apt-get install -y --no-install-recommends --allow-downgrades \
          -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/dev/null -o APT::Sandbox::User=root -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef "$1"/*.deb
        [ -z "$auto" ] || apt-mark auto $auto >/dev/null
      ' sh "$dir" ) </dev/null
}

# The lines of an apt/dpkg log that say which package failed and why.
base_install_failure() {
  local log=$1 lines
  lines=$(grep -E '^(E: |dpkg: error processing|dpkg: .*problem|dpkg: dependency problems| [^ ]+ : (Pre-)?Depends: | [^ ]+ (pre-)?depends on )|^ +Package |^ +[^ ]+ (latest configured version|is not (configured|installed))' "$log" | tail -n 15)
  if [[ -n $lines ]]; then printf 'lab: what apt/dpkg said:\n%s\n' "$lines"; else tail -n 20 "$log"; fi
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
