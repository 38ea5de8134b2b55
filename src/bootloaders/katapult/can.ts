// Katapult over CAN: the node is reached through its interface's gate (the
// can-request entry: clear, query, request, assign a node id), and the
// node's CAN id pair becomes the byte stream the Katapult session runs on.

import type { CanBus } from "../../can/bus.js";
import type { CanGateLike } from "../../flash-api/driver.js";
import { nodeCanIds } from "../../klippy-bridge/admin.js";
import type { Uuid } from "../../klippy-bridge/uuid.js";
import { CanNodeStream } from "../../transport/can-node-stream.js";
import { CanBootloaderGate, type GateOptions } from "../../entry/index.js";
import { assignKatapultNodeId } from "../../entry/can-admin.js";
import { KatapultAdapter } from "./adapter.js";
import type { SessionTimeouts } from "./session.js";

export interface KatapultCanOptions {
  bus: CanBus;
  uuid: Uuid;
  /** The interface's gate; without one the adapter makes a gate of one. */
  gate?: CanGateLike;
  /** Options of the gate of one (deadlines). */
  enter?: Pick<GateOptions, "timeoutMs" | "pollMs" | "firstNodeId">;
  timeouts?: Partial<SessionTimeouts>;
  flashEnd?: number;
}

/** A FlashAdapter that flashes `uuid` through Katapult on `bus`. */
export function katapultCanAdapter(o: KatapultCanOptions): KatapultAdapter {
  let gate: CanGateLike | undefined = o.gate;
  let nodeId: number | undefined;
  return new KatapultAdapter({
    protocol: "katapult-can",
    expectUuid: o.uuid,
    entered: async () => (await gate?.arrival?.(o.uuid))?.requested ?? false,
    ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    ...(o.flashEnd !== undefined ? { flashEnd: o.flashEnd } : {}),
    async open(ctx) {
      gate ??= new CanBootloaderGate(o.bus, [o.uuid], {
        ...o.enter,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        ...(ctx.dryRun ? { dryRun: true } : {}),
        onRequest: (uuid, why) =>
          ctx.emit({
            type: "info",
            message:
              why === "answered-as-klipper"
                ? `${uuid} runs Klipper: requesting its bootloader`
                : `${uuid} did not answer a query: requesting its bootloader`,
            data: { requestBootloader: uuid, why },
          }),
      });
      nodeId = await gate.nodeIdOf(o.uuid);
      return new CanNodeStream(o.bus, nodeCanIds(nodeId), `node ${nodeId}`);
    },
    // A duplicated or late CLEAR takes the node id away: every resend re-sends the assignment.
    reassert: async () => {
      if (nodeId !== undefined) await assignKatapultNodeId(o.bus, o.uuid, nodeId);
    },
  });
}
