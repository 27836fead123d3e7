// THE INSTALL, in order. Each phase: a title, the hosts it applies to, a check (anything left to do?)
// and a run. `k8s-ha-offline phases` prints this list; --only/--from pick from it.
import type { Phase } from "./phase.ts";
import { preflight } from "./preflight/index.ts";
import { binary } from "./binary.ts";
import { depotPki } from "./depot-pki.ts";
import { depot } from "./depot.ts";
import { trust } from "./trust.ts";
import { os } from "./os.ts";
import { packages } from "./packages.ts";
import { time } from "./time.ts";
import { etcdPki } from "./etcd-pki.ts";
import { etcd } from "./etcd.ts";
import { lb } from "./lb.ts";
import { runtime } from "./runtime.ts";
import { kubeBinaries } from "./kube-binaries.ts";
import { kubeadmInit } from "./kubeadm-init.ts";
import { controlPlaneJoin } from "./control-plane-join.ts";
import { workerJoin } from "./worker-join.ts";
import { cni } from "./cni.ts";
import { post } from "./post.ts";

export const PHASES: readonly Phase[] = [
  preflight, //  read-only checks on every node; stops before any change
  binary, //     this executable on every node (sha256-compared)
  depotPki, //   depot CA, serving certificate (every master) and repo signing key, once on master1
  depot, //      every master serves its verified bundle copy over HTTPS: registry, signed package repo, files
  trust, //      depot CA + repository public key on every node (over SSH)
  os, //         hostname, /etc/hosts, swap, SELinux, firewall, modules, sysctls
  packages, //   depot repository only, locked versions
  time, //       chrony; master1 serves time unless NTP servers are given
  runtime, //    containerd from the static tarball, depot as registry mirror
  etcdPki, //    etcd CA + member/client certificates (CA key stays on master1)
  etcd, //       external etcd cluster over TLS, healthy as a whole
  lb, //         haproxy + keepalived VIP in front of the apiservers
  kubeBinaries, // kubeadm, kubelet, kubectl and the kubelet unit
  kubeadmInit, //  kubeadm init on master1 (external etcd, VIP:LB port endpoint)
  controlPlaneJoin, // the other masters, one at a time
  workerJoin, //   workers, in parallel
  cni, //          flannel from the depot; nodes Ready
  post, //         admin kubeconfig, 1.22 fix, final table
];
