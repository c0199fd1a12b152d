/**
 * Redis Cluster's key slot: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384. Used to
 * find the master that owns a release channel for sharded pub/sub (SSUBSCRIBE must be sent to
 * the owner of the channel's slot).
 */

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The cluster slot of `name`, honouring `{hash tags}` exactly as Redis does. */
export function keySlot(name: string): number {
  let bytes: Uint8Array = Buffer.from(name, 'utf8');
  const open = bytes.indexOf(0x7b); // '{'
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // '}'
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  return crc16(bytes) & 16383;
}
