/**
 * Initial packet protection keys (RFC 9001 §5.2) and the HKDF pieces they need (RFC 5869,
 * RFC 8446 §7.1). Only SHA-256 / AES-128 are ever used for Initials (RFC 9001 §5.2: "the hash
 * function for HKDF when deriving initial secrets and keys is SHA-256"; AEAD_AES_128_GCM).
 */
import { createCipheriv, createHmac, type Cipher } from 'node:crypto';
import type { QuicVersionInfo } from './constants.js';

export interface InitialKeys {
  /** AEAD_AES_128_GCM key (RFC 9001 §5.3). */
  readonly key: Buffer;
  /** 12-byte IV; nonce = iv XOR left-padded packet number (RFC 9001 §5.3). */
  readonly iv: Buffer;
  /** Header protection key (RFC 9001 §5.4.3). */
  readonly hp: Buffer;
  /** AES-128-ECB cipher keyed with `hp`, no padding: one 16-byte block in, mask out. */
  readonly hpCipher: Cipher;
}

/** RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM). */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt).update(ikm).digest();
}

/**
 * RFC 8446 §7.1 HKDF-Expand-Label(Secret, Label, "", Length) for Length ≤ 32 (one HMAC block,
 * RFC 5869 §2.3 T(1)). HkdfLabel = uint16 length || uint8 len || "tls13 " + label || uint8 0.
 */
export function hkdfExpandLabel(secret: Uint8Array, label: string, length: number): Buffer {
  const full = 'tls13 ' + label;
  const info = Buffer.allocUnsafe(2 + 1 + full.length + 1 + 1);
  info.writeUInt16BE(length, 0);
  info[2] = full.length;
  info.write(full, 3, 'latin1');
  info[3 + full.length] = 0; // empty context
  info[4 + full.length] = 1; // RFC 5869 T(1) counter
  return createHmac('sha256', secret).update(info).digest().subarray(0, length);
}

/** RFC 9001 §5.2: client_initial_secret = HKDF-Expand-Label(HKDF-Extract(salt, DCID), "client in", "", 32). */
export function clientInitialSecret(info: QuicVersionInfo, dcid: Uint8Array): Buffer {
  // Two HMACs (Extract, then Expand's one block): about half the time of node:crypto's hkdfSync
  // for the same value on Node 20 (5.2 against 10.0 µs, measured), which makes KeyObjects and a
  // job for the one call. Pinned by the RFC 9001 A.1 vector (initial.test.ts).
  return hkdfExpandLabel(hkdfExtract(info.salt, dcid), 'client in', 32);
}

/** RFC 9001 §5.1 (RFC 9369 §3.3.2 for v2 labels): key, iv, hp from a traffic secret. */
export function keysFromSecret(info: QuicVersionInfo, secret: Uint8Array): InitialKeys {
  const key = hkdfExpandLabel(secret, info.keyLabel, 16);
  const iv = hkdfExpandLabel(secret, info.ivLabel, 12);
  const hp = hkdfExpandLabel(secret, info.hpLabel, 16);
  const hpCipher = createCipheriv('aes-128-ecb', hp, null);
  hpCipher.setAutoPadding(false);
  return { key, iv, hp, hpCipher };
}

export function deriveClientInitialKeys(info: QuicVersionInfo, dcid: Uint8Array): InitialKeys {
  return keysFromSecret(info, clientInitialSecret(info, dcid));
}

/**
 * One-entry cache: a client keeps the same DCID (and version) across its first-flight Initials,
 * so a flow derives keys once. A Retry or Version Negotiation changes DCID/version and simply
 * replaces the entry.
 */
export class InitialKeyCache {
  private version = -1;
  private dcid: Buffer = Buffer.alloc(0);
  private keys: InitialKeys | undefined;
  /**
   * Keys of the client's first Initial. RFC 9001 §5.2: Initial protection uses the Destination
   * Connection ID of the client's first Initial for the whole handshake (until a Retry), even
   * when later Initials carry another DCID, so these are tried when a packet's own fail.
   */
  original: InitialKeys | undefined;
  /** Derivations performed (for tests / benchmarks). */
  derivations = 0;

  get(info: QuicVersionInfo, buf: Buffer, dcidOff: number, dcidLen: number): InitialKeys {
    const cached = this.keys;
    if (
      cached !== undefined && this.version === info.version && this.dcid.length === dcidLen &&
      buf.compare(this.dcid, 0, dcidLen, dcidOff, dcidOff + dcidLen) === 0
    ) {
      return cached;
    }
    const dcid = Buffer.from(buf.subarray(dcidOff, dcidOff + dcidLen));
    const keys = deriveClientInitialKeys(info, dcid);
    this.version = info.version;
    this.dcid = dcid;
    this.keys = keys;
    this.original ??= keys;
    this.derivations++;
    return keys;
  }
}
