/**
 * The shared secrets of devices.radiusNases, read from their files when the devices area is
 * created (before privileges are dropped, like the agent listener's TLS files) and checked by the
 * configuration manager before a change is applied. A secret file must be a regular file of at
 * most RADIUS_SECRET_MAX_BYTES (a setting naming /dev/zero or a FIFO must not block the daemon)
 * and not empty; one trailing newline is not part of the secret (editors add it). Errors name the
 * file and the reason, never its contents.
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { OutpostError } from '../errors.js';
import type { RadiusNasConfig } from './config.js';

/** RFC 2865 §3 asks for secrets of at least 16 octets; no sane one reaches 1 KiB. */
export const RADIUS_SECRET_MAX_BYTES = 1024;

function unreadable(nas: RadiusNasConfig, reason: string, cause?: unknown): OutpostError {
  const params = { address: nas.address, path: nas.sharedSecretFile, reason };
  return new OutpostError('DEVICES_RADIUS_SECRET_UNREADABLE', params, { details: params, ...(cause !== undefined ? { cause } : {}) });
}

/** NAS address → secret; throws DEVICES_RADIUS_SECRET_UNREADABLE naming the first entry that cannot be used. */
export function readRadiusSecrets(nases: readonly RadiusNasConfig[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const nas of nases) {
    if (isIP(nas.address) === 0) throw unreadable(nas, 'the address is not an IP address');
    let st;
    try { st = statSync(nas.sharedSecretFile); } catch (err) { throw unreadable(nas, (err as NodeJS.ErrnoException).code ?? 'cannot stat', err); }
    if (!st.isFile()) throw unreadable(nas, 'not a regular file');
    if (st.size > RADIUS_SECRET_MAX_BYTES) throw unreadable(nas, `larger than ${RADIUS_SECRET_MAX_BYTES} bytes`);
    let b: Buffer;
    try { b = readFileSync(nas.sharedSecretFile); } catch (err) { throw unreadable(nas, (err as NodeJS.ErrnoException).code ?? 'cannot read', err); }
    let end = b.length;
    if (end > 0 && b[end - 1] === 0x0a) end--;
    if (end > 0 && b[end - 1] === 0x0d) end--;
    if (end === 0) throw unreadable(nas, 'empty');
    out.set(nas.address, b.subarray(0, end));
  }
  return out;
}
