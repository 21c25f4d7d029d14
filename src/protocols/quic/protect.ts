/**
 * Client Initial *builder* — the inverse of ./initial.ts, for tests and the fuzz script only
 * (the sensor never encrypts). Frames are encoded per RFC 9000 §19, the packet per §17.2.2,
 * payload protection per RFC 9001 §5.3 and header protection per §5.4.
 */
import { createCipheriv } from 'node:crypto';
import { AEAD_TAG_LENGTH, HP_SAMPLE_LENGTH, HP_SAMPLE_OFFSET, LongType, type QuicVersionInfo } from './constants.js';
import { deriveClientInitialKeys } from './keys.js';

/** RFC 9000 §16: minimal varint encoding (values < 2^30 here). */
export function encodeVarint(v: number): Buffer {
  if (v < 0x40) return Buffer.from([v]);
  if (v < 0x4000) return Buffer.from([0x40 | (v >> 8), v & 0xff]);
  if (v < 0x40000000) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE((v | 0x80000000) >>> 0, 0);
    return b;
  }
  const b = Buffer.alloc(8);
  b.writeUInt32BE((0xc0000000 | Math.floor(v / 2 ** 32)) >>> 0, 0);
  b.writeUInt32BE(v % 2 ** 32, 4);
  return b;
}

/** CRYPTO frame (RFC 9000 §19.6); `frameType` 0x08 for gQUIC. */
export function cryptoFrame(offset: number, data: Buffer, frameType = 0x06): Buffer {
  return Buffer.concat([Buffer.from([frameType]), encodeVarint(offset), encodeVarint(data.length), data]);
}

export interface InitialSpec {
  info: QuicVersionInfo;
  dcid: Buffer;
  scid?: Buffer;
  token?: Buffer;
  packetNumber: number;
  /** 1..4 bytes on the wire (default 4). */
  pnLength?: number;
  /** Unprotected payload (frames). Padded with PADDING so the HP sample exists. */
  payload: Buffer;
  /** Pad the payload with zero bytes (PADDING frames) up to this many bytes. */
  padTo?: number;
  /** DCID the protection keys come from, when not the packet's own (RFC 9001 §5.2). */
  keysDcid?: Buffer;
}

/** Builds and protects one client Initial packet. */
export function buildClientInitial(spec: InitialSpec): Buffer {
  const { info, dcid } = spec;
  const scid = spec.scid ?? Buffer.alloc(0);
  const token = spec.token ?? Buffer.alloc(0);
  const pnLen = spec.pnLength ?? 4;
  let payload = spec.payload;
  // RFC 9001 §5.4.2: the 16-byte sample starts 4 bytes after the PN start and must lie inside
  // ciphertext + tag, so pnLen + payload ≥ 4.
  const minPayload = HP_SAMPLE_OFFSET + HP_SAMPLE_LENGTH - pnLen - AEAD_TAG_LENGTH;
  const target = Math.max(spec.padTo ?? 0, minPayload);
  if (payload.length < target) payload = Buffer.concat([payload, Buffer.alloc(target - payload.length)]);
  const keys = deriveClientInitialKeys(info, spec.keysDcid ?? dcid);
  const first = 0xc0 | (info.wireTypes[LongType.INITIAL] << 4) | (pnLen - 1);
  const version = Buffer.alloc(4);
  version.writeUInt32BE(info.version >>> 0, 0);
  const length = pnLen + payload.length + AEAD_TAG_LENGTH;
  const pnBytes = Buffer.alloc(pnLen);
  for (let i = 0, x = spec.packetNumber; i < pnLen; i++, x = Math.floor(x / 256)) pnBytes[pnLen - 1 - i] = x % 256;
  const header = Buffer.concat([
    Buffer.from([first]), version,
    Buffer.from([dcid.length]), dcid, Buffer.from([scid.length]), scid,
    encodeVarint(token.length), token,
    // Always a 2-byte Length, as most stacks do (RFC 9001 A.2 too).
    Buffer.from([0x40 | (length >> 8), length & 0xff]),
    pnBytes,
  ]);
  const nonce = Buffer.from(keys.iv);
  for (let i = nonce.length - 1, x = spec.packetNumber; i >= 0 && x > 0; i--, x = Math.floor(x / 256)) {
    nonce[i] = ((nonce[i] as number) ^ (x % 256)) & 0xff;
  }
  const gcm = createCipheriv('aes-128-gcm', keys.key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  gcm.setAAD(header);
  const ct = Buffer.concat([gcm.update(payload), gcm.final(), gcm.getAuthTag()]);
  const packet = Buffer.concat([header, ct]);
  // §5.4.1: mask the first byte's low 4 bits and the packet number.
  const pnOff = header.length - pnLen;
  const sampleOff = pnOff + HP_SAMPLE_OFFSET;
  const ecb = createCipheriv('aes-128-ecb', keys.hp, null);
  ecb.setAutoPadding(false);
  const mask = ecb.update(packet.subarray(sampleOff, sampleOff + HP_SAMPLE_LENGTH));
  packet[0] = ((packet[0] as number) ^ ((mask[0] as number) & 0x0f)) & 0xff;
  for (let i = 0; i < pnLen; i++) packet[pnOff + i] = ((packet[pnOff + i] as number) ^ (mask[1 + i] as number)) & 0xff;
  return packet;
}
