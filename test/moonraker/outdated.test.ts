// "What needs reflashing" from Klipper's signals, pure: git-describe
// versions, deprecated_mcu_code warnings, the host-process MCU.
import { describe, expect, it } from "vitest";
import {
  compareKlipperVersions,
  outdatedBoards,
  parseKlipperVersion,
} from "../../src/moonraker/outdated.js";

describe("Klipper versions", () => {
  it("parses git describe --tags --long --dirty", () => {
    expect(parseKlipperVersion("v0.13.0-120-gabcdef12-dirty")).toEqual({
      major: 0,
      minor: 13,
      patch: 0,
      commits: 120,
      hash: "abcdef12",
      dirty: true,
    });
    expect(parseKlipperVersion("v0.12.0")).toMatchObject({ commits: 0, hash: undefined });
    expect(parseKlipperVersion("?")).toBeUndefined();
    expect(parseKlipperVersion(undefined)).toBeUndefined();
  });

  it("orders by tag, then commits since it", () => {
    const v = (t: string) => parseKlipperVersion(t)!;
    expect(compareKlipperVersions(v("v0.12.0-427-g1"), v("v0.13.0-1-g2"))).toBeLessThan(0);
    expect(compareKlipperVersions(v("v0.13.0-20-g1234"), v("v0.13.0-3-g1234"))).toBeGreaterThan(0);
    expect(compareKlipperVersions(v("v0.13.0-3-gaaaa"), v("v0.13.0-3-gbbbb"))).toBe(0);
  });
});

describe("outdatedBoards", () => {
  const host = "v0.13.0-200-g1234abcd";
  const judge = (
    mcuVersion: string | undefined,
    extra: Partial<Parameters<typeof outdatedBoards>[0]> = {},
  ) =>
    outdatedBoards({
      hostVersion: host,
      mcus: [{ object: "mcu EBBCan", mcuVersion, chip: "stm32g0b1xx" }],
      warnings: [],
      config: { "mcu EBBCan": { canbus_uuid: "AABBCCDDEEFF" } },
      ...extra,
    })[0]!;

  it("same version: current; older: flash; newer or another branch: reported, not asked for", () => {
    expect(judge(host)).toMatchObject({ name: "EBBCan", verdict: "same", needsFlash: false });
    expect(judge("v0.12.0-427-g1a2b3c4d")).toMatchObject({ verdict: "older", needsFlash: true });
    expect(judge("v0.13.0-250-gffffffff")).toMatchObject({ verdict: "newer", needsFlash: false });
    expect(judge("v0.13.0-200-gdeadbeef")).toMatchObject({
      verdict: "different",
      needsFlash: false,
    });
    expect(judge("some-fork-build")).toMatchObject({ verdict: "different", needsFlash: false });
    expect(judge(undefined)).toMatchObject({ verdict: "unknown", needsFlash: false });
  });

  it("a deprecated_mcu_code warning for the MCU asks for a flash whatever the version says", () => {
    const b = judge(host, {
      warnings: [
        { type: "deprecated_mcu_code", message: "…", mcu: "EBBCan", feature: "get_canbus_status" },
        { type: "deprecated_mcu_code", message: "…", mcu: "other", feature: "x" },
        { type: "deprecated_option", message: "…" },
      ],
    });
    expect(b).toMatchObject({
      verdict: "deprecated-code",
      needsFlash: true,
      missingFeatures: ["get_canbus_status"],
    });
  });

  it("the main [mcu] is named mcu; its link comes from the config", () => {
    const [b] = outdatedBoards({
      hostVersion: host,
      mcus: [{ object: "mcu", mcuVersion: host, chip: "stm32h723xx" }],
      warnings: [
        {
          type: "deprecated_mcu_code",
          message: "…",
          mcu: "mcu",
          feature: "STEPPER_STEP_BOTH_EDGE",
        },
      ],
      config: { mcu: { serial: "/dev/serial/by-id/usb-Klipper_stm32h723xx-if00" } },
    });
    expect(b).toMatchObject({
      name: "mcu",
      verdict: "deprecated-code",
      serial: "/dev/serial/by-id/usb-Klipper_stm32h723xx-if00",
    });
    expect(judge(host)).toMatchObject({ canbusUuid: "aabbccddeeff", canbusInterface: "can0" });
  });

  it("Klipper's host process MCU is never a board to flash", () => {
    const [b] = outdatedBoards({
      hostVersion: host,
      mcus: [{ object: "mcu rpi", mcuVersion: "v0.12.0-1-g1", chip: "linux" }],
      warnings: [],
      config: { "mcu rpi": { serial: "/tmp/klipper_host_mcu" } },
    });
    expect(b).toMatchObject({
      name: "rpi",
      verdict: "older",
      hostProcess: true,
      needsFlash: false,
    });
  });
});
