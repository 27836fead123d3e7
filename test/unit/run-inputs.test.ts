// Run inputs are worked out once (src/cli/run-inputs.ts): one rule for the bundle directory in every
// command, and the depot as one {address, port} value that serve listens on and the nodes reach.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { renderInitConfig } from "../../src/config/init.ts";
import { bundleInputs, runInputs } from "../../src/cli/run-inputs.ts";
import { openSession } from "../../src/cli/context.ts";
import { depotEndpoint, depotUrl, endpointHostPort, parseEndpoint } from "../../src/depot/endpoint.ts";
import { serializeLock } from "../../src/depot/lock.ts";
import { UsageError } from "../../src/util/errors.ts";
import { seedConfig } from "./support/seed-config.ts";

const dir = mkdtempSync(join(tmpdir(), "run-inputs-"));
const configFile = join(dir, "cluster.yaml");
writeFileSync(configFile, renderInitConfig());
const missing = join(dir, "absent.yaml");
const savedLock = process.env.K8S_HA_EMBEDDED_LOCK;
afterEach(() => {
  if (savedLock === undefined) delete process.env.K8S_HA_EMBEDDED_LOCK;
  else process.env.K8S_HA_EMBEDDED_LOCK = savedLock;
});

describe("bundle directory: one rule for install, serve and verify-bundle", () => {
  test("--bundle wins, relative to the working directory", () => {
    expect(runInputs({ config: configFile, bundle: "b" }).bundleDir).toBe(resolve("b"));
    expect(bundleInputs({ config: missing, bundle: "b" }).bundleDir).toBe(resolve("b"));
  });

  test("else bundle.dir of the config, relative to the config file", () => {
    expect(runInputs({ config: configFile }).bundleDir).toBe(join(dir, "bundle-el7-k8s1.22"));
    expect(bundleInputs({ config: configFile }).bundleDir).toBe(join(dir, "bundle-el7-k8s1.22"));
  });

  test("without a config: ./bundle-<profile> of the embedded lock, else a usage error", () => {
    process.env.K8S_HA_EMBEDDED_LOCK = "";
    expect(() => bundleInputs({ config: missing })).toThrow(UsageError);
    process.env.K8S_HA_EMBEDDED_LOCK = serializeLock({ profile: "el9", kubernetesVersion: "1.28.2", created: "2026-01-01T00:00:00Z", files: [], images: [] });
    const inputs = bundleInputs({ config: missing });
    expect(inputs.bundleDir).toBe(resolve("bundle-el9"));
    expect(inputs.config).toBeUndefined();
    expect(inputs.depot).toBeUndefined();
  });
});

describe("depot endpoint", () => {
  test("master1's address and depot.port by default, depot.address when the config sets it", () => {
    expect(depotEndpoint(seedConfig())).toEqual({ address: "192.168.217.19", port: 5000 });
    const moved = seedConfig([["  port: 5000 ", "  address: 192.168.217.30\n  port: 5001 "]]);
    expect(depotEndpoint(moved)).toEqual({ address: "192.168.217.30", port: 5001 });
    expect(runInputs({ config: configFile }).depot).toEqual({ address: "192.168.217.19", port: 5000 });
  });

  test("written out as a URL and as ADDR:PORT, read back from --listen", () => {
    const ep = { address: "192.168.217.19", port: 5000 };
    expect(depotUrl(ep)).toBe("https://192.168.217.19:5000"); // nodes reach the depot over TLS only
    expect(endpointHostPort(ep)).toBe("192.168.217.19:5000");
    expect(parseEndpoint(endpointHostPort(ep))).toEqual(ep);
    const v6 = { address: "fd00::19", port: 5000 };
    expect(depotUrl(v6)).toBe("https://[fd00::19]:5000");
    expect(parseEndpoint(endpointHostPort(v6))).toEqual(v6);
  });
});

describe("session", () => {
  test("the phase context carries the run inputs: bundle directory and depot endpoint", async () => {
    const config = seedConfig([["  port: 5000 ", "  address: 192.168.217.30\n  port: 5000 "]]);
    const session = openSession(config, { config: configFile, bundle: "b", dryRun: true }, "status");
    expect(session.ctx.bundleDir).toBe(resolve("b"));
    expect(session.ctx.depot).toEqual({ address: "192.168.217.30", port: 5000 });
    await session.close();
  });

  test("once: made once per run and shared, never carried into the next run", async () => {
    const first = openSession(seedConfig(), { config: configFile, dryRun: true }, "status");
    let made = 0;
    const make = () => ({ n: ++made });
    expect(first.ctx.once("k", make)).toBe(first.ctx.once("k", make));
    expect(made).toBe(1);
    const second = openSession(seedConfig(), { config: configFile, dryRun: true }, "status");
    expect(second.ctx.once("k", make)).toEqual({ n: 2 });
    await first.close();
    await second.close();
  });
});
