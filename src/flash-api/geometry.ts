// What a flash adapter reports about its device and receives to write:
// the device geometry, the image as segments, and the planned blocks.

export interface FlashGeometry {
  /** First address the bootloader accepts (application start). Blocks are laid out from here. */
  start: number;
  /** Exclusive end of the writable space, when known. */
  end?: number;
  /** The protocol's write unit in bytes (Katapult block, AVR page). */
  blockSize: number;
  /** Erase unit in bytes, when the protocol exposes it (informational). */
  eraseUnit?: number;
  /** Byte that fills the gaps inside a block (0xFF: erased flash). */
  padByte: number;
  /** How the protocol addresses memory; the plan always holds byte addresses. */
  addressUnit: "byte" | "word";
  /** Write every block from `start` to the image end, gaps included (bootloaders that erase by their own counter). */
  contiguousFromStart?: boolean;
}

/** Any image: segments of bytes at addresses (FirmwareImage fits). */
export interface PlanInput {
  readonly segments: readonly { readonly address: number; readonly data: Uint8Array }[];
}

export interface PlannedBlock {
  address: number;
  /** Exactly blockSize bytes, padded. */
  data: Uint8Array;
  /** Bytes of image data inside it (the rest is padding). */
  payload: number;
}

export interface FlashPlan {
  geometry: FlashGeometry;
  blocks: PlannedBlock[];
  /** Image bytes (without padding). */
  imageBytes: number;
  /** First byte written and end (exclusive) of the last block. */
  start: number;
  end: number;
}
