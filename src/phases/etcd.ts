// Phase etcd: the external etcd cluster of the reference guide (../shared/seed/, a Chinese kubeadm HA
// guide: its section 四): members from the bundle's tarball as systemd services, TLS on client and
// peer URLs, and every member checked healthy with the whole cluster. A fresh or wiped member of a
// running cluster (replace-node, or install after a disk was lost) is added to it before it starts.
import { etcdMembers } from "../config/types.ts";
import type { Phase, PhaseContext } from "./phase.ts";
import { etcdHealthy } from "../cluster/etcd.ts";
import { applyEtcdService, etcdUnit, recordJoin, ETCD_UNIT_FILE } from "../cluster/etcd-service.ts";
import { prepareEtcdJoin } from "../cluster/etcd-members.ts";
import { unitState } from "../cluster/systemd.ts";
import { lockedFile } from "./util/depot-files.ts";
import { installTarball, tarballInstalled } from "./util/tarball.ts";
import { sh } from "../util/sh.ts";
import { readText } from "./util/node.ts";
import { NOTHING, todo } from "./steps.ts";

export const etcdTarball = (ctx: Pick<PhaseContext, "lock">) => lockedFile(ctx, /^files\/etcd-v[\d.]+-linux-(amd64|arm64)\.tar\.gz$/, "etcd tarball");

export const etcd: Phase = {
  name: "etcd",
  title: "Etcd members from the bundle tarball as systemd services, TLS on client and peer URLs, healthy as a cluster",
  hosts: etcdMembers,
  mode: "parallel",
  async check(ctx, node) {
    const host = await ctx.host(node);
    if (!(await tarballInstalled(host, "etcd", etcdTarball(ctx)))) return todo(`${etcdTarball(ctx).path} not installed`);
    if ((await readText(host, ETCD_UNIT_FILE)) !== (await etcdUnit(ctx, host, node))) return todo("etcd.service missing or different (config or certificates changed)");
    if (!(await unitState(host, "etcd.service")).active) return todo("etcd is not running");
    if (!(await etcdHealthy(host, node))) return todo("member is not healthy");
    return NOTHING;
  },
  async run(ctx, node) {
    const host = await ctx.host(node);
    if (!(await tarballInstalled(host, "etcd", etcdTarball(ctx))))
      await installTarball(host, ctx, "etcd", etcdTarball(ctx),
        sh`d=$(mktemp -d); tar -xzf "$TARBALL" -C "$d" --strip-components=1; install -m 0755 "$d/etcd" "$d/etcdctl" /usr/local/bin/; rm -rf "$d"`);
    const join = await prepareEtcdJoin({ host, node, members: etcdMembers(ctx.config) });
    if (join.kind === "join") {
      ctx.log.info(`    etcd: ${node.name} ${join.did}`);
      await recordJoin(host, join.initialCluster);
    } else if (join.kind === "bootstrap") await recordJoin(host, undefined);
    await applyEtcdService(ctx, host, node);
  },
};
