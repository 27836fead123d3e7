import { describe, expect, test } from "bun:test";
import { sh, shellScript, shJoin, shq, isShellCommand } from "../../src/util/sh.ts";

const run = (cmd: { text: string }) => {
  const p = Bun.spawnSync(["sh", "-c", cmd.text]);
  return { code: p.exitCode, out: p.stdout.toString() };
};

describe("sh``: every interpolated value is one word", () => {
  test("hostile values come back as the same single argument and run nothing", () => {
    for (const v of ["/tmp/x';touch /tmp/PWNED2;'", "/tmp/a $(touch /tmp/PWNED)", "a b", "%h $HOME ;x", "", "`id`", "a\nb", "it's"]) {
      const r = run(sh`printf '%s|' ${v}`);
      expect(r.out).toBe(`${v}|`);
    }
  });
  test("a list becomes several words, a number one, a built command is spliced", () => {
    expect(run(sh`printf '%s|' ${["a b", "c"]} ${42}`).out).toBe("a b|c|42|");
    const inner = sh`echo ${"x y"}`;
    expect(sh`${inner} && echo done`.text).toBe("echo 'x y' && echo done");
    expect(shJoin([sh`true`, sh`echo ${"q"}`], " && ").text).toBe("true && echo q");
  });
  test("only sh`` and shellScript make a ShellCommand; a plain string is not one", () => {
    expect(isShellCommand(sh`true`)).toBe(true);
    expect(isShellCommand(shellScript("true"))).toBe(true);
    expect(isShellCommand("true")).toBe(false);
    expect(String(sh`ls ${"/a b"}`)).toBe("ls '/a b'");
  });
  test("refuses what a shell cannot take", () => {
    expect(() => sh`sleep ${Number.NaN}`).toThrow(/not a number/);
    expect(() => sh`x ${{} as unknown as string}`).toThrow(/cannot interpolate/);
  });
  test("shq leaves plain words alone", () => {
    expect(shq("/usr/local/bin/k8s-ha-offline")).toBe("/usr/local/bin/k8s-ha-offline");
    expect(shq("a'b")).toBe(`'a'\\''b'`);
  });
});
