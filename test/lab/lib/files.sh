# Files the lab writes for its users: the ssh config/keys, lab.json, cluster.yaml.

write_ssh_files() {
  local i name addr
  mkdir -p "$LAB_STATE/ssh"
  chmod 700 "$LAB_STATE/ssh"
  [[ -f $LAB_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C k8s-lab -f "$LAB_KEY"
  : >"$LAB_STATE/ssh/known_hosts"
  {
    echo "# Written by test/lab/lab: use with ssh -F $LAB_SSH_CONFIG NODE"
    for (( i = 0; i < $1; i++ )); do
      name=$(node_name "$i"); addr=$(node_address "$i")
      printf 'Host %s %s\n  HostName %s\n' "$name" "$addr" "$addr"
    done
    cat <<CFG
Host *
  User root
  IdentityFile $LAB_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $LAB_STATE/ssh/known_hosts
  StrictHostKeyChecking yes
  GlobalKnownHostsFile /dev/null
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR
CFG
  } >"$LAB_SSH_CONFIG"
}

write_lab_json() {
  local n=$1 i sep=""
  {
    printf '{\n  "nodes": [\n'
    for (( i = 0; i < n; i++ )); do
      printf '%s    {"name": "%s", "address": "%s", "roles": ["%s"], "machine": "%s"}' \
        "$sep" "$(node_name "$i")" "$(node_address "$i")" "$(node_roles "$i")" "$(node_name "$i")"
      sep=$',\n'
    done
    printf '\n  ],\n'
    printf '  "vip": "%s",\n  "subnet": "%s",\n  "bridge": "%s",\n' "$LAB_VIP" "$LAB_SUBNET" "$LAB_BRIDGE"
    printf '  "host_address": "%s",\n  "ssh_key": "%s",\n  "ssh_config": "%s",\n' "$LAB_HOST_ADDR" "$LAB_KEY" "$LAB_SSH_CONFIG"
    printf '  "cluster_yaml": "%s",\n  "state_dir": "%s"\n}\n' "$LAB_STATE/cluster.yaml" "$LAB_STATE"
  } >"$LAB_STATE/lab.json.tmp"
  mv "$LAB_STATE/lab.json.tmp" "$LAB_STATE/lab.json"
}

# The installer's input, in the agreed v1alpha1 format, for this lab's addresses.
write_cluster_yaml() {
  local n=$1 i
  {
    cat <<YAML
# Written by test/lab/lab for the nspawn lab; copy next to the binary on master1.
apiVersion: k8s-ha-offline.io/v1alpha1
kind: Cluster
name: lab
ssh:
  user: root
  port: 22
  keyFile: /root/.ssh/lab_ed25519
  hostKeyPolicy: accept-new
  knownHostsFile: /var/lib/k8s-ha-offline/known_hosts
  connectTimeoutSeconds: 10
hosts:
YAML
    for (( i = 0; i < n; i++ )); do
      printf '  - { name: %s, address: %s, roles: [%s] }\n' "$(node_name "$i")" "$(node_address "$i")" "$(node_roles "$i")"
    done
    cat <<YAML
loadBalancer:
  vip: $LAB_VIP
  interface: host0
  port: 9443
  virtualRouterId: 50
  vrrpMode: multicast
  nopreempt: false
  statsPort: 9188
kubernetes:
  version: 1.22.2
  runtime: containerd
  cni: flannel
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
  dnsDomain: cluster.local
  tokenTTL: 24h
  allowNonExpiringToken: false
bundle:
  dir: ./bundle-debian12
  profile: debian12
depot:
  port: 5000
ntp:
  servers: []
firewall: disable
stateDir: /var/lib/k8s-ha-offline
YAML
  } >"$LAB_STATE/cluster.yaml"
}
