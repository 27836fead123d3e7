// etcd membership against Debian's real etcd 3.4: three members on loopback addresses of their own
// (127.x.y.1-3, the production ports 2379/2380), each a DirHost root holding the PKI the etcd-pki phase
// plans and started with the very flags its rendered etcd.service carries. What is proven: the member
// list (hex IDs from the decimal JSON), a wiped member removed and added again and started with
// --initial-cluster-state=existing, a removed member's data moved aside, an interrupted join resumed,
// idempotent re-runs, and the quorum refusals (nothing changed when they refuse).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { LoopbackEtcd } from "./support/etcd-loopback.ts";
import { sh } from "../../src/util/sh.ts";
import { etcdctl } from "../../src/cluster/etcd.ts";
import { etcdUnit, recordJoin } from "../../src/cluster/etcd-service.ts";
import { addMember, additionRefusal, etcdView, memberOf, NOT_LISTENING_EXIT, parseMemberList, prepareEtcdJoin, quorumOf, removalRefusal, removeMember, type EtcdMember } from "../../src/cluster/etcd-members.ts";
import { etcdClientUrl } from "../../src/cluster/endpoints.ts";
import type { Host } from "../../src/hosts/host.ts";

const etcd = new LoopbackEtcd();
const { config, members, hosts } = etcd;
const start = (i: number, wholeCluster = true) => etcd.start(i, wholeCluster);
const kill = (i: number) => etcd.kill(i);
const view = (from = 0) => etcd.view(from);
const put = (i: number, key: string) => hosts[i]!.exec(etcdctl(members[i]!, sh`put ${key} v`));
/** A serializable read: what this member's own store holds, not the leader's. */
const localKeys = async (i: number) => (await hosts[i]!.exec(etcdctl(members[i]!, sh`get k/ --prefix --keys-only --consistency=s`))).stdout.split("\n").filter(Boolean);
const join_ = (i: number) => prepareEtcdJoin({ host: hosts[i]!, node: members[i]!, members });

beforeAll(() => etcd.prepare(), 60_000);
afterAll(() => etcd.stop());

describe("quorum arithmetic", () => {
  const m = (name: string, healthy: boolean): EtcdMember => ({ id: name, name, peerUrls: [`https://${name}:2380`], clientUrls: [`https://${name}:2379`], healthy });
  test("quorum of n is n/2+1 (rounded down)", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumOf)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });
  test("a dead member of 3 with the 2 others healthy may go; with one other down too it may not (no quorum)", () => {
    expect(removalRefusal([m("a", false), m("b", true), m("c", true)], m("a", false))).toBeUndefined();
    expect(removalRefusal([m("a", false), m("b", true), m("c", false)], m("a", false))).toMatch(/etcd has no quorum: 1 of 3 members are healthy, 2 are needed \(not healthy: a, c\)/);
  });
  test("a healthy member whose removal the rest cannot carry is refused; 5 members with 2 down lose a dead one", () => {
    const three = [m("a", true), m("b", true), m("c", false)];
    expect(removalRefusal(three, three[0]!)).toMatch(/removing the healthy member a would leave 1 healthy of 2 members, fewer than their quorum of 2/);
    const five = [m("a", false), m("b", false), m("c", true), m("d", true), m("e", true)];
    expect(removalRefusal(five, five[0]!)).toBeUndefined();
    expect(removalRefusal(five, five[2]!)).toMatch(/would leave 2 healthy of 4 members, fewer than their quorum of 3/);
    expect(removalRefusal([m("a", true)], m("a", true))).toMatch(/the only etcd member/);
  });
  test("adding to 3 with one dead is refused (4 members need 3); to 2 healthy it is not", () => {
    expect(additionRefusal([m("a", false), m("b", true), m("c", true)])).toMatch(/makes 4 members with a quorum of 3, and only 2 are healthy/);
    expect(additionRefusal([m("b", true), m("c", true)])).toBeUndefined();
  });
  test("member IDs are read from the JSON as the uint64 they are, in hex (a number would lose the low bits)", () => {
    const json = '{"header":{"cluster_id":14529296071439590892,"member_id":8374424550680503674,"raft_term":2},"members":[{"ID":12831179748152224772,"peerURLs":["http://x:2380"]},{"ID":8374424550680503674,"name":"a","peerURLs":["http://a:2380"],"clientURLs":["http://a:2379"]}]}';
    expect(parseMemberList(json)).toEqual([
      { id: "b21181ff99ccac04", name: "", peerUrls: ["http://x:2380"], clientUrls: [] },
      { id: "7437eec25d9f257a", name: "a", peerUrls: ["http://a:2380"], clientUrls: ["http://a:2379"] },
    ]);
  });
});

describe("real etcd members on loopback", () => {
  test("a fresh cluster: nobody answers, every member bootstraps (state new); the member list matches etcdctl's own hex table", async () => {
    // Nothing listens yet: each peer is passed over when its port refuses the connection, without
    // etcdctl (which would retry it until its 5 s command timeout, peer after peer).
    const codes: number[] = [];
    const recording = new Proxy(hosts[0]!, {
      get: (h, k) => (k === "exec" ? async (...a: Parameters<Host["exec"]>) => { const r = await h.exec(...a); codes.push(r.code); return r; } : Reflect.get(h, k)),
    });
    expect(await etcdView(recording, [1, 2].map((i) => etcdClientUrl(members[i]!)))).toBeUndefined();
    expect(codes).toEqual([NOT_LISTENING_EXIT, NOT_LISTENING_EXIT]);
    expect(await Promise.all([0, 1, 2].map((i) => join_(i)))).toEqual([0, 1, 2].map(() => ({ kind: "bootstrap" })));
    for (const i of [0, 1, 2]) expect(await etcdUnit({ config }, hosts[i]!, members[i]!)).toContain("--initial-cluster-state=new");
    await Promise.all([0, 1, 2].map((i) => start(i)));
    const v = await view();
    expect(v.members.map((x) => [x.name, x.healthy, x.peerUrls, x.clientUrls]).sort()).toEqual(
      members.map((x) => [x.name, true, [`https://${x.address}:2380`], [`https://${x.address}:2379`]]),
    );
    const table = (await hosts[0]!.exec(etcdctl(members[0]!, sh`member list -w simple`))).stdout;
    expect(v.members.map((x) => x.id).sort()).toEqual(table.split("\n").filter(Boolean).map((l) => l.split(",")[0]!.trim()).sort());
    // A re-run: every member has its data, nothing to do.
    for (const i of [0, 1, 2]) expect(await join_(i)).toEqual({ kind: "member" });
    for (let k = 0; k < 50; k++) await put(k % 3, `k/${String(k).padStart(3, "0")}`);
  }, 120_000);

  test("a wiped member (same name and address, no data, no unit): removed from etcd, added again, started with state existing, holds every key", async () => {
    const before = memberOf(await view(), members[2]!)!;
    kill(2);
    rmSync(hosts[2]!.local("/var/lib/etcd"), { recursive: true, force: true });
    mkdirSync(hosts[2]!.local("/var/lib/etcd"), { mode: 0o700 });
    const j = await join_(2);
    expect(j).toMatchObject({ kind: "join", did: expect.stringMatching(/had lost its data \(member [0-9a-f]+\): removed from etcd and added again/) });
    if (j.kind !== "join") throw new Error("unreachable");
    expect(j.initialCluster.split(",").sort()).toEqual(members.map((m) => `${m.name}=https://${m.address}:2380`));
    const during = await view();
    expect(during.members.find((x) => x.id === before.id)).toBeUndefined(); // the stale member is gone
    expect(memberOf(during, members[2]!)).toMatchObject({ name: "", clientUrls: [], healthy: false }); // added, not started
    await recordJoin(hosts[2]!, j.initialCluster);
    const unit = await etcdUnit({ config }, hosts[2]!, members[2]!);
    expect(unit).toContain("--initial-cluster-state=existing");
    expect(unit).toContain(`--initial-cluster=${j.initialCluster}`);
    await start(2);
    const after = await view();
    expect(after.members.map((x) => [x.name, x.healthy]).sort()).toEqual([["m1", true], ["m2", true], ["m3", true]]);
    expect(memberOf(after, members[2]!)!.id).not.toBe(before.id);
    expect((await localKeys(2)).length).toBe(50);
    // A re-run: a member with its data, the same unit (the record keeps it), nothing removed or added.
    expect(await join_(2)).toEqual({ kind: "member" });
    expect(await etcdUnit({ config }, hosts[2]!, members[2]!)).toBe(unit);
    expect((await view()).members.map((x) => x.id).sort()).toEqual(after.members.map((x) => x.id).sort());
  }, 120_000);

  test("refusals: with m2 and m3 down nothing is removed (no quorum); a healthy member the rest cannot spare is not removed", async () => {
    const all = (await view()).members.map((x) => x.id).sort();
    kill(1);
    kill(2);
    rmSync(hosts[2]!.local("/var/lib/etcd/member"), { recursive: true, force: true });
    await expect(join_(2)).rejects.toThrow(/m3: its etcd has no data .* and no other member answers with quorum \(https:\/\/[\d.]+:2379 answers without it\); it is not started as a new member/);
    const noQuorum = await view();
    expect(noQuorum.members.filter((x) => x.healthy)).toEqual([]);
    await expect(removeMember(hosts[0]!, noQuorum, memberOf(noQuorum, members[2]!)!)).rejects.toThrow(/was not removed: etcd has no quorum: 0 of 3 members are healthy/);
    await start(1, false); // m2 comes back with its data: quorum again (m1 + m2)
    const v = await view();
    expect(v.members.filter((x) => x.healthy).map((x) => x.name).sort()).toEqual(["m1", "m2"]);
    await expect(removeMember(hosts[0]!, v, memberOf(v, members[1]!)!)).rejects.toThrow(/removing the healthy member m2 would leave 1 healthy of 2 members, fewer than their quorum of 2/);
    expect((await view()).members.map((x) => x.id).sort()).toEqual(all); // nothing changed
    // m3 back through the normal path: removed (2 of 3 healthy may lose the dead one) and added again.
    const j = await join_(2);
    if (j.kind !== "join") throw new Error(`expected a join, got ${j.kind}`);
    await recordJoin(hosts[2]!, j.initialCluster);
    await start(2);
    expect((await view()).members.every((x) => x.healthy)).toBe(true);
    expect((await localKeys(2)).length).toBe(50);
  }, 180_000);

  test("a member add etcd refuses as 'unhealthy cluster' (a listed member not connected) is asked again, then refused with etcd's words, nothing added", async () => {
    kill(2);
    const v = await view();
    const ids = v.members.map((x) => x.id).sort();
    // As if m3 were still healthy: the add passes our own quorum check and reaches etcd, whose strict
    // reconfiguration check refuses it while a member is not connected (the transient case: for 5 s after
    // a member came back, or on a follower that has not applied a removal yet).
    const stale = { ...v, members: v.members.map((x) => ({ ...x, healthy: true })) };
    const t0 = Date.now();
    await expect(addMember(hosts[0]!, stale, "m4", "https://127.0.0.9:2380", 4_000)).rejects.toThrow(/member add m4 failed on .*unhealthy cluster \(asked for 4 s\)/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_000);
    expect((await view()).members.map((x) => x.id).sort()).toEqual(ids);
    await start(2);
  }, 120_000);

  test("a member etcd no longer lists: its old data is moved aside (kept), it is added again; an interrupted join resumes as the added member", async () => {
    kill(2);
    const v = await view();
    await removeMember(hosts[0]!, v, memberOf(v, members[2]!)!); // 2 of 3 healthy: a dead member may go
    expect(memberOf(await view(), members[2]!)).toBeUndefined();
    const first = await join_(2);
    expect(first).toMatchObject({ kind: "join", did: expect.stringMatching(/was no longer a member: its old data moved to \/var\/lib\/etcd\.removed-/) });
    expect(readdirSync(hosts[2]!.local("/var/lib")).filter((d) => d.startsWith("etcd.removed-")).length).toBeGreaterThan(0);
    expect(existsSync(hosts[2]!.local("/var/lib/etcd/member"))).toBe(false);
    // The run stops here (killed before etcd started): the next run finds the member added and not started.
    const again = await join_(2);
    expect(again).toMatchObject({ kind: "join", did: expect.stringMatching(/as the member added before/) });
    if (first.kind !== "join" || again.kind !== "join") throw new Error("unreachable");
    expect(again.initialCluster.split(",").sort()).toEqual(first.initialCluster.split(",").sort());
    expect((await view()).members.length).toBe(3); // not added twice
    await recordJoin(hosts[2]!, again.initialCluster);
    await start(2);
    expect((await view()).members.map((x) => [x.name, x.healthy]).sort()).toEqual([["m1", true], ["m2", true], ["m3", true]]);
    expect((await localKeys(2)).length).toBe(50);
  }, 180_000);
});
