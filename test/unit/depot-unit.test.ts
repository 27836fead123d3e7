// The depot's systemd unit: HTTPS and signed repositories always (--tls-cert/--tls-key/--repo-key), the
// private keys handed over with LoadCredential= where systemd has it (v247+), and every value one
// argument with systemd's specifiers taken literally.
import { describe, expect, test } from "bun:test";
import { renderDepotUnit } from "../../src/phases/depot.ts";

const base = { cluster: "lab", bundleDir: "/root/bundle-debian12", listen: "10.77.0.11:5000", stateDir: "/var/lib/k8s-ha-offline" };
const line = (unit: string, key: string) => unit.split("\n").filter((l) => l.startsWith(`${key}=`));

describe("depot unit", () => {
  test("with LoadCredential=: the keys come from the service's credentials directory", () => {
    const unit = renderDepotUnit({ ...base, credentials: true });
    expect(line(unit, "LoadCredential")).toEqual([
      "LoadCredential=depot-tls.key:/etc/k8s-ha-offline/pki/depot.key",
      "LoadCredential=repo-signing.key:/var/lib/k8s-ha-offline/repo-signing.key",
    ]);
    expect(line(unit, "ExecStart")).toEqual([
      "ExecStart=/usr/local/bin/k8s-ha-offline serve --bundle /root/bundle-debian12 --listen 10.77.0.11:5000 " +
        "--tls-cert /etc/k8s-ha-offline/pki/depot.crt --tls-key %d/depot-tls.key --repo-key %d/repo-signing.key --log-file /var/log/k8s-ha-offline/depot.log",
    ]);
  });

  test("an older systemd (el7's 219) gets the key paths directly, still HTTPS and signed", () => {
    const unit = renderDepotUnit({ ...base, credentials: false });
    expect(line(unit, "LoadCredential")).toEqual([]);
    expect(line(unit, "ExecStart")[0]).toContain("--tls-cert /etc/k8s-ha-offline/pki/depot.crt --tls-key /etc/k8s-ha-offline/pki/depot.key --repo-key /var/lib/k8s-ha-offline/repo-signing.key ");
  });

  test("a state dir or bundle with % or a space stays one literal argument", () => {
    const unit = renderDepotUnit({ ...base, bundleDir: "/root/my bundle%h", stateDir: "/srv/state%i", credentials: true });
    expect(line(unit, "LoadCredential")[1]).toBe("LoadCredential=repo-signing.key:/srv/state%%i/repo-signing.key");
    expect(line(unit, "ExecStart")[0]).toContain('--bundle "/root/my bundle%%h" ');
  });
});
