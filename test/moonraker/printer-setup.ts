// A printer for the agent tests: printer.cfg naming the four demo-bus boards
// (and Klipper's host-process MCU), their images, and what a fake Moonraker
// reports about them.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demoImage } from "../../src/flasher/simulate.js";
import type { AgentConfig } from "../../src/moonraker/config.js";
import { FakeMoonrakerSocket, type FakeMoonrakerOptions } from "../fakes/moonraker-socket.js";

const PRINTER_CFG = `
[mcu]
canbus_uuid: 8266c4636429
canbus_interface: sim

[mcu EBBCan]
canbus_uuid: 625720a262c6
canbus_interface: sim

[mcu T1]
canbus_uuid: 3a1b5c7d9e0f
canbus_interface: sim

[mcu T2]
canbus_uuid: ef00c3c43f24
canbus_interface: sim

[mcu rpi]
serial: /tmp/klipper_host_mcu
`;

export interface Setup {
  dir: string;
  socketPath: string;
  fake: FakeMoonrakerSocket;
  config: AgentConfig;
}

export function setupPrinter(
  prefix: string,
): Omit<Setup, "fake"> & { fakeOptions: FakeMoonrakerOptions; printerCfg: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const cfg = join(dir, "printer.cfg");
  writeFileSync(cfg, PRINTER_CFG);
  const g0 = join(dir, "klipper.bin");
  writeFileSync(g0, demoImage({ size: 8192 }));
  const rp = join(dir, "klipper-rp2040.bin");
  writeFileSync(rp, demoImage({ mcu: "rp2040", appStart: 0x10004000, size: 8192 }));
  const socketPath = join(dir, "moonraker.sock");
  return {
    dir,
    socketPath,
    printerCfg: cfg,
    fakeOptions: {
      socketPath,
      configFile: cfg,
      hostVersion: "v0.13.0-200-g1234abcd",
      mcus: {
        mcu: { version: "v0.13.0-200-g1234abcd", chip: "stm32g0b1xx" },
        "mcu EBBCan": { version: "v0.12.0-50-g99999999", chip: "stm32g0b1xx" },
        "mcu T1": { version: "v0.13.0-200-g1234abcd", chip: "rp2040" },
        "mcu T2": { version: "v0.13.0-200-g1234abcd", chip: "stm32g0b1xx" },
        "mcu rpi": { version: "v0.12.0-50-g99999999", chip: "linux" },
      },
      warnings: [
        {
          type: "deprecated_mcu_code",
          message: "MCU 'T2' has deprecated code (it is missing feature 'get_canbus_status').",
          mcu: "T2",
          feature: "get_canbus_status",
        },
      ],
      canbusStats: {
        EBBCan: { rx_error: 0, tx_error: 2, tx_retries: 5, bus_state: "active" },
      },
      config: {
        mcu: { canbus_uuid: "8266c4636429", canbus_interface: "sim" },
        "mcu EBBCan": { canbus_uuid: "625720a262c6", canbus_interface: "sim" },
        "mcu T1": { canbus_uuid: "3a1b5c7d9e0f", canbus_interface: "sim" },
        "mcu T2": { canbus_uuid: "ef00c3c43f24", canbus_interface: "sim" },
        "mcu rpi": { serial: "/tmp/klipper_host_mcu" },
      },
    },
    config: {
      path: join(dir, "canflash.yaml"),
      allowFlash: true,
      firmware: g0,
      boards: { T1: rp },
      interface: undefined,
      klipperService: "klipper",
      jobs: 1,
      printerConfig: undefined,
    },
  };
}
