# The lab's private bridge. The host's side gets .1 so tests on the host can reach
# the nodes; the nodes get no gateway, and nothing is forwarded or NATed for them.

bridge_up() {
  if ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
    [[ -f $LAB_STATE/run/bridge ]] \
      || die "a link named $LAB_BRIDGE exists but the lab did not create it; remove it (ip link del $LAB_BRIDGE) or free the name"
  else
    local clash
    clash=$(ip -4 route show to match "$LAB_PREFIX.0/24" | grep -v '^default' || true)
    [[ -z $clash ]] || die "the lab subnet $LAB_SUBNET is already routed on this host ($clash); the lab needs it for itself"
    mkdir -p "$LAB_STATE/run"
    touch "$LAB_STATE/run/bridge"      # recorded before creation: a killed up is still cleaned
    ip link add "$LAB_BRIDGE" type bridge
  fi
  ip addr replace "$LAB_HOST_ADDR/24" dev "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
}

bridge_down() {
  local name
  # veths normally vanish with their container's network namespace; these are leftovers.
  for name in $(existing_nodes); do
    ip link show "vb-$name" >/dev/null 2>&1 && ip link del "vb-$name"
  done
  if [[ -f $LAB_STATE/run/bridge ]]; then
    ip link show "$LAB_BRIDGE" >/dev/null 2>&1 && ip link del "$LAB_BRIDGE"
    rm -f "$LAB_STATE/run/bridge"
  fi
  return 0
}
