// Remote commands are quoted by construction (issue 14 item 6, issue 15): every exec takes a command
// built with sh``, hostile paths run nothing on either kind of host, and the config refuses path
// characters that have no business in a path.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Glob } from "bun";
import { scanSource } from "./support/quoting-scan.ts";
import { LocalHost } from "../../src/hosts/local.ts";
import { SshHost } from "../../src/hosts/ssh.ts";
import type { Host } from "../../src/hosts/host.ts";
import { sh } from "../../src/util/sh.ts";
import { systemdArg } from "../../src/util/systemd-escape.ts";
import { secret } from "../../src/phases/util/secrets.ts";
import type { PhaseContext } from "../../src/phases/phase.ts";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { startSshd, sshdAvailable, type Sshd } from "./support/sshd.ts";

setDefaultTimeout(60_000);
const ROOT = join(import.meta.dir, "../..");
const SSH_PORT = 2261;

describe("scan: exec takes only what sh`` built", () => {
  test("the scanner finds each kind of plain command, and nothing in sh``, regexes, strings or comments", () => {
    const bad = [
      "await host.exec(`mkdir -p ${dir}`);", // 1: template literal
      'await host.exec("systemctl daemon-reload", { check: false });', // 2: string literal
      "await host.exec('swapoff -a');", // 3
      'await host.exec(["a", "b"].join(" && "));', // 4: joined array
      'await host.exec(prefix + " && true");', // 5: concatenation
      "const cmd = `rm -f ${tmp}`;", // 6
      "await host.exec(cmd, { check: false });", // 7: a name bound to a plain string
      "const SCRIPT = String.raw`echo ${MARKER}`;", // 8
      "await host.exec(SCRIPT);", // 9
      "const c = deb", // 10
      "  ? // comment", // 11
      "    `apt-get install ${p}`", // 12
      "  : `yum install ${p}`;", // 13
      "await host.exec(c);", // 14: a choice between literals
      "await host.exec(sh`a ${x}` + sh`b`);", // 15: two commands glued as text
      "const s = shellScript(`echo ${value}`);", // 16: a value in a constant script
      "await ctx.local\n  .exec(`ping ${vip}`);", // 17-18: the call on the next line
    ].join("\n");
    expect(scanSource("bad.ts", bad).map((v) => `${v.line} ${v.call}`)).toEqual(["1 exec", "2 exec", "3 exec", "4 exec", "5 exec", "7 exec", "9 exec", "14 exec", "15 exec", "16 shellScript", "18 exec"]);

    const good = [
      "await host.exec(sh`mkdir -p ${dir}`);",
      "await host.exec(sh`a ${`${x} y`} ${[a, b].join(\" \")} ${n + 1}`);", // a + inside a value is not a concatenation of the command
      "const cmd = sh`rm -f ${tmp}`;",
      "await host.exec(cmd);",
      "const m = /users:\\(\\(\"([^\"]+)\"/.exec(proc)?.[1];", // RegExp.exec, with quotes inside the regex
      "const v = VERSION.exec(`${v}`);",
      "const route = /^a$/.exec(path) ?? /^b$/.exec(`x`);",
      "// host.exec(`old ${way}`) in a comment",
      "/* host.exec(\"old\") */ const s = \"host.exec(`not code`)\";",
      "const t = `host.exec(${'`'}x)`;",
      "const script = shellScript(ASSET);",
      "const fixed = shellScript(`echo constant`);",
      "interface H { exec(cmd: ShellCommand | string, opts?: ExecOptions): Promise<R>; }",
      "this.log.exec({ ...record, code: 0 });",
      "await host.exec(etcdctl(node, `endpoint health`));",
    ].join("\n");
    expect(scanSource("good.ts", good)).toEqual([]);
  });

  // Fails, naming file:line, while any file still builds a command as a plain string.
  test("no exec in src/ takes a plain string, and no shellScript() takes a value", async () => {
    const found: string[] = [];
    for await (const file of new Glob("src/**/*.ts").scan(ROOT))
      for (const v of scanSource(file, readFileSync(join(ROOT, file), "utf8"))) found.push(`${v.file}:${v.line} ${v.call}(${v.arg}`);
    expect(found.sort()).toEqual([]);
  });
});

describe("hostile paths run nothing", () => {
  let work: string;
  let sshd: Sshd | undefined;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "quoting-"));
    if (sshdAvailable()) sshd = await startSshd({ port: SSH_PORT });
  });
  afterAll(async () => {
    await sshd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const hosts: [string, () => Promise<Host>][] = [
    ["LocalHost", async () => new LocalHost({ name: "master1" })],
    [
      "SshHost",
      async () => {
        if (!sshd) throw new Error("this test needs root and openssh-server (apt-get install -y openssh-server)");
        return SshHost.connect({
          name: "node1",
          address: "127.0.0.1",
          port: SSH_PORT,
          user: "root",
          credentials: { keys: [{ path: sshd.clientKey, data: readFileSync(sshd.clientKey) }] },
          hostKeyPolicy: "off",
          knownHostsFile: "/nonexistent",
          connectTimeoutMs: 10_000,
        });
      },
    ],
  ];

  // Each would run `touch PWNED` (next to the directory) if any layer (exec, the write script and its
  // trap, read, the SSH wrapper) let a path be read as shell text; `;`, `$(...)` stay in the names.
  const hostile: [string, (marker: string) => string][] = [
    ["a space", () => "with space"],
    ["a single quote", (m) => `quote'x';touch ${m};'`],
    ["$(...)", (m) => `a $(touch ${m}) b`],
    ["backticks", (m) => `back\`touch ${m}\`tick`],
    ['$VAR, & " \\ * [x] ~', () => `dollar $HOME & "dq" \\ * [x] ~`],
  ];

  for (const [kind, make] of hosts)
    for (const [what, name] of hostile)
      test(`${kind}: writeFile, readFile, upload and an sh\`\` exec in a directory with ${what}`, async () => {
        const base = mkdtempSync(join(work, `${kind}-`));
        const marker = join(base, "PWNED");
        const dir = join(base, name(marker));
        const file = join(dir, "secrets.json");
        const host = await make();
        try {
          expect(await host.writeFile(file, "one\n", { mode: 0o600 })).toBe(true);
          expect(await host.writeFile(file, "one\n", { mode: 0o600 })).toBe(false);
          expect(new TextDecoder().decode((await host.readFile(file))!)).toBe("one\n");
          expect(readFileSync(file, "utf8")).toBe("one\n");
          expect(statSync(file).mode & 0o777).toBe(0o600);
          await host.upload(file, join(dir, "copy"), { mode: 0o644 });
          expect(readFileSync(join(dir, "copy"), "utf8")).toBe("one\n");
          // Nothing left behind: the trap removed no other file, and no temp file stayed.
          expect(readdirSync(dir).sort()).toEqual(["copy", "secrets.json"]);
          const r = await host.exec(sh`mkdir -p ${join(dir, "sub")} && chmod 700 ${join(dir, "sub")} && ls -A ${dir}`);
          expect(r.stdout).toBe("copy\nsecrets.json\nsub\n");
          expect(await host.readFile(join(dir, "absent"))).toBeNull();
        } finally {
          await host.close();
          // Checked even when a step above failed: a command that ran is the worse finding.
          expect(existsSync(marker)).toBe(false);
        }
      });

  test("secrets in a stateDir with a space, a quote and $(...): stored there, nothing run", async () => {
    const marker = join(work, "PWNED-secrets");
    for (const stateDir of [join(work, "state dir"), join(work, `x';touch ${marker};'`), join(work, `a $(touch ${marker})`)]) {
      const memo = new Map<string, unknown>();
      const once = (key: string, make: () => unknown) => (memo.has(key) ? memo.get(key) : (memo.set(key, make()), memo.get(key)));
      const ctx = { local: new LocalHost({ name: "master1" }), stateDir, config: { loadBalancer: {} }, once } as unknown as PhaseContext;
      const pass = await secret(ctx, "haproxyStatsPassword");
      expect(JSON.parse(readFileSync(join(stateDir, "secrets.json"), "utf8"))).toEqual({ haproxyStatsPassword: pass });
      expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    }
    expect(existsSync(marker)).toBe(false);
  });
});

describe("config: path values hold only path characters", () => {
  const config = (extra: Record<string, string>) =>
    [
      "apiVersion: k8s-ha-offline.io/v1alpha1",
      "kind: Cluster",
      "name: seed",
      "ssh:",
      `  keyFile: ${extra.keyFile ?? "/root/.ssh/id_ed25519"}`,
      ...(extra.knownHostsFile ? [`  knownHostsFile: ${extra.knownHostsFile}`] : []),
      "hosts:",
      "  - { name: master1, address: 192.168.217.19, roles: [control-plane] }",
      "  - { name: master2, address: 192.168.217.20, roles: [control-plane] }",
      "  - { name: master3, address: 192.168.217.21, roles: [control-plane] }",
      "loadBalancer: { vip: 192.168.217.100, interface: ens33 }",
      "kubernetes: { version: 1.22.2 }",
      "bundle:",
      "  profile: el7-k8s1.22",
      ...(extra.bundleDir ? [`  dir: ${extra.bundleDir}`] : []),
      `stateDir: ${extra.stateDir ?? "/var/lib/k8s-ha-offline"}`,
      "",
    ].join("\n");

  test("a space, letters of any script, ~ at the start and the usual punctuation are accepted", () => {
    const c = parseConfig(config({ stateDir: '"/srv/k8s state/集群-1.22_a+b@c,d:e=f"', keyFile: '"~/.ssh/my key"', knownHostsFile: '"/srv/k8s state/known hosts"', bundleDir: '"bundles/el7 k8s"' }), "cluster.yaml", "/opt/work");
    expect(c.stateDir).toBe("/srv/k8s state/集群-1.22_a+b@c,d:e=f");
    expect(c.bundle.dir).toBe("/opt/work/bundles/el7 k8s");
  });

  /** line:col of the value of `key` (its last part) in the text: where the loader must point. */
  const valueAt = (text: string, key: string) => {
    const lines = text.split("\n");
    const leaf = `${key.split(".").pop()}: `;
    const line = lines.findIndex((l) => l.trimStart().startsWith(leaf));
    return `${line + 1}:${lines[line]!.indexOf(leaf) + leaf.length + 1}`;
  };

  const refused: [string, Record<string, string>, string][] = [
    ["stateDir", { stateDir: `"/tmp/x';touch /tmp/PWNED2;'"` }, "'"],
    ["stateDir", { stateDir: '"/tmp/a $(touch /tmp/PWNED)"' }, "$"],
    ["stateDir", { stateDir: '"/tmp/a`id`"' }, "`"],
    ["bundle.dir", { bundleDir: '"/srv/bundle%n"' }, "%"],
    ["bundle.dir", { bundleDir: '"/srv/a\\\\b"' }, "\\"],
    ["ssh.keyFile", { keyFile: '"/root/.ssh/a~b"' }, "~"],
    ["ssh.keyFile", { keyFile: '"/root/key;reboot"' }, ";"],
    ["ssh.knownHostsFile", { knownHostsFile: '"/root/kh|x"' }, "|"],
  ];
  for (const [key, extra, ch] of refused)
    test(`${key} with ${JSON.stringify(ch)} is refused, naming the key at its line:col`, () => {
      const yaml = config(extra);
      let err: unknown;
      try {
        parseConfig(yaml, "cluster.yaml", "/opt/work");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const text = (err as ConfigError).format();
      expect(text).toContain(`cluster.yaml:${valueAt(yaml, key)} ${key}: `);
      expect(text).toContain(`contains ${JSON.stringify(ch)}, which a path here may not hold`);
    });

  test("the CLI refuses the stateDirs of issue 15 with exit 2, naming key and line:col, and runs nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quoting-cli-"));
    try {
      for (const [name, stateDir, marker] of [
        ["quote", `"${join(dir, "x")}';touch ${join(dir, "PWNED2")};'"`, join(dir, "PWNED2")],
        ["subst", `"${join(dir, "a")} $(touch ${join(dir, "PWNED")})"`, join(dir, "PWNED")],
      ]) {
        const file = join(dir, `${name}.yaml`);
        const yaml = config({ stateDir: stateDir! });
        await Bun.write(file, yaml);
        const p = Bun.spawnSync([process.execPath, join(ROOT, "src/cli.ts"), "install", "--dry-run", "-c", file], { cwd: dir, env: { ...process.env, K8S_HA_EMBEDDED_LOCK: "" } });
        expect(p.exitCode).toBe(2);
        expect(p.stderr.toString()).toMatch(new RegExp(`${name}\\.yaml:${valueAt(yaml, "stateDir")} stateDir: .* contains "['$]", which a path here may not hold`));
        expect(existsSync(marker!)).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("systemd ExecStart arguments", () => {
  test("plain words stay bare; anything else is one double-quoted word with %, $, \\ and \" escaped", () => {
    expect(systemdArg("/usr/local/bin/k8s-ha-offline")).toBe("/usr/local/bin/k8s-ha-offline");
    expect(systemdArg("192.168.217.19:5000")).toBe("192.168.217.19:5000");
    expect(systemdArg("/srv/bundle el7")).toBe('"/srv/bundle el7"');
    expect(systemdArg("/srv/b%n")).toBe('"/srv/b%%n"');
    expect(systemdArg("/srv/$HOME/${X}")).toBe('"/srv/$$HOME/$${X}"');
    expect(systemdArg('/srv/a"b\\c')).toBe('"/srv/a\\"b\\\\c"');
    expect(systemdArg("/srv/a;b 'c'")).toBe("\"/srv/a;b 'c'\"");
    expect(systemdArg("a\nb")).toBe('"a\\x0ab"');
    expect(systemdArg("")).toBe('""');
  });

  // What systemd does to a word of an Exec line, enough to read our output back: specifiers and
  // variables first (over the whole line), then quotes and C escapes.
  function systemdReads(word: string): string {
    const expanded = word.replace(/%%/g, "\u0001").replace(/\$\$/g, "\u0002");
    if (/[%$]/.test(expanded)) throw new Error(`systemd would expand something in ${word}`);
    const plain = expanded.replace(/\u0001/g, "%").replace(/\u0002/g, "$");
    if (!plain.startsWith('"')) {
      if (/[\s"'\\;]/.test(plain)) throw new Error(`bare word ${word} would be split or unquoted`);
      return plain;
    }
    expect(plain.endsWith('"')).toBe(true);
    return plain.slice(1, -1).replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) => (e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : e));
  }

  test("every hostile bundle directory reads back as itself", () => {
    for (const v of ["/srv/bundle el7", "/tmp/x';touch /tmp/PWNED2;'", "/tmp/a $(touch /tmp/PWNED)", "/srv/%n%%$$${A}", 'a"b\\c', "; /bin/sh", "tab\there"])
      expect(systemdReads(systemdArg(v))).toBe(v);
  });
});
