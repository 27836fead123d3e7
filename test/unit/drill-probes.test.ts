// How the master-down drill judges its prober's log (test/drills/load.ts judgeProbes): failures within
// GRACE_S of the cut are the cut's; failures from the victim's power-on until GRACE_S after it is up are
// its return's (counted apart); any other failure after the cut is late.
import { expect, test } from "bun:test";
import { GRACE_S, judgeProbes } from "../drills/load.ts";

const log = (rows: [number, string][]) => rows.map(([t, code]) => `${t} ${code} ${code === "200" ? 0 : 28}`).join("\n");

test("a failure at the victim's return is counted in its window, not as late; one after the window is late", () => {
  const cut = 100;
  const ret = { from: 150, to: 160 };
  const probes = log([[99, "000"], [101, "000"], [102, "200"], [151, "000"], [160 + GRACE_S - 0.5, "000"], [170, "200"], [180, "000"]]);
  const v = judgeProbes(probes, cut, ret);
  expect(v.sent).toBe(6); // the one before the cut is not the cut's
  expect(v.atReturn).toBe(2);
  expect(v.lateFailures).toBe(1);
  expect(v.late[0]).toStartWith("+80.0 s");
});

test("without a return window every failure after cut + GRACE_S is late", () => {
  const v = judgeProbes(log([[101, "000"], [151, "000"], [152, "200"]]), 100);
  expect({ late: v.lateFailures, atReturn: v.atReturn }).toEqual({ late: 1, atReturn: 0 });
});
