// Kalico's extended query, golden bytes (KalicoCrew/kalico PR #391,
// src/generic/canserial.c): the host sends 00 01; an assigned Kalico node
// answers 21 uuid6 nodeid, an unassigned one 20 uuid6 07.
import { describe, expect, it } from "vitest";
import { canFrame } from "../../src/can/frame.js";
import {
  decodeAdminRequest,
  decodeNeedNodeId,
  decodeQueryReply,
  haveNodeIdFrame,
  needNodeIdFrame,
  queryUnassignedFrame,
} from "../../src/klippy-bridge/admin.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";

const UUID = parseUuid("8266c4636429");
const hex = (d: Uint8Array) => Buffer.from(d).toString("hex");

describe("Kalico's extended query", () => {
  it("frames", () => {
    expect(hex(queryUnassignedFrame().data)).toBe("00");
    expect(hex(queryUnassignedFrame({ extended: true }).data)).toBe("0001");
    expect(haveNodeIdFrame(UUID, 5).id).toBe(0x3f1);
    expect(hex(haveNodeIdFrame(UUID, 5).data)).toBe("218266c463642905");
    expect(hex(needNodeIdFrame(UUID, "kalico").data)).toBe("208266c463642907");
  });

  it("answers decode: Kalico assigned, Kalico unassigned, upstream Klipper and Katapult", () => {
    const f = (bytes: number[]) => canFrame(0x3f1, bytes);
    const uuid = [0x82, 0x66, 0xc4, 0x63, 0x64, 0x29];
    expect(decodeQueryReply(f([0x21, ...uuid, 5]))).toEqual({
      uuid: UUID,
      app: "klipper",
      appByte: undefined,
      kalico: true,
      assignedNodeId: 5,
    });
    expect(decodeQueryReply(f([0x20, ...uuid, 7]))).toMatchObject({ kalico: true, appByte: 7 });
    expect(decodeQueryReply(f([0x20, ...uuid, 1]))).toEqual({
      uuid: UUID,
      app: "klipper",
      appByte: 1,
    });
    expect(decodeQueryReply(f([0x20, ...uuid, 0x11]))).toMatchObject({ app: "katapult" });
    // a cut HAVE_NODEID carries no node id: not an answer
    expect(decodeQueryReply(f([0x21, ...uuid]))).toBeUndefined();
    // the gate's plain decoder never takes HAVE_NODEID for "waiting for a node id"
    expect(decodeNeedNodeId(f([0x21, ...uuid, 5]))).toBeUndefined();
  });

  it("a device tells the extended query from the plain one", () => {
    expect(decodeAdminRequest(canFrame(0x3f0, [0]))).toEqual({ kind: "query", extended: false });
    expect(decodeAdminRequest(canFrame(0x3f0, [0, 1]))).toEqual({ kind: "query", extended: true });
    expect(decodeAdminRequest(canFrame(0x3f0, [0, 2]))).toEqual({ kind: "query", extended: false });
  });
});
