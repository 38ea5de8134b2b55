// The "serial-request" entry (Klipper on a UART, since 2022): Klipper
// watches its serial input for this 33-byte string and jumps to the
// bootloader when it sees it, at the baud Klipper itself runs at. Nothing
// answers it; whether it worked shows only when the bootloader answers.

import { openSerial } from "../transport/serial.js";

/** `~ <FS> Request Serial Bootloader!! ~`: Klipper's UART bootloader request (33 bytes). */
export const SERIAL_BOOTLOADER_REQUEST = Uint8Array.from([
  0x7e,
  0x20,
  0x1c,
  0x20,
  ...new TextEncoder().encode("Request Serial Bootloader!!"),
  0x20,
  0x7e,
]);

/** Sends Klipper's UART bootloader request at `baud` (Klipper's, not the bootloader's). */
export async function sendSerialBootloaderRequest(
  path: string,
  baud: number,
  procRoot?: string,
): Promise<void> {
  const port = await openSerial({ path, baudRate: baud, ...(procRoot ? { procRoot } : {}) });
  try {
    await port.write(SERIAL_BOOTLOADER_REQUEST);
  } finally {
    await port.close();
  }
}
