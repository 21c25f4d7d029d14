/** DHCP messages built in tests (RFC 2131 §2 layout, RFC 8415 §8). Not used at run time. */

export interface Dhcp4Fixture {
  op?: number;
  xid: number;
  mac: string;
  ciaddr?: string;
  yiaddr?: string;
  giaddr?: string;
  /** [code, value] options after the message type, in order. */
  options?: Array<[number, Buffer]>;
  msgType?: number;
  /** Bytes written as-is after the options (before END). */
  raw?: Buffer;
  noEnd?: boolean;
  sname?: Buffer;
  file?: Buffer;
}

export function ip4(s: string): Buffer { return Buffer.from(s.split('.').map(Number)); }
export function u32be(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; }
export function str(s: string): Buffer { return Buffer.from(s, 'latin1'); }

export function dhcp4(f: Dhcp4Fixture): Buffer {
  const h = Buffer.alloc(240);
  h[0] = f.op ?? (f.msgType === 2 || f.msgType === 5 || f.msgType === 6 ? 2 : 1);
  h[1] = 1; h[2] = 6;
  h.writeUInt32BE(f.xid >>> 0, 4);
  if (f.ciaddr) ip4(f.ciaddr).copy(h, 12);
  if (f.yiaddr) ip4(f.yiaddr).copy(h, 16);
  if (f.giaddr) ip4(f.giaddr).copy(h, 24);
  Buffer.from(f.mac.split(':').map((x) => parseInt(x, 16))).copy(h, 28);
  if (f.sname) f.sname.copy(h, 44);
  if (f.file) f.file.copy(h, 108);
  h.writeUInt32BE(0x63825363, 236);
  const parts: Buffer[] = [h];
  if (f.msgType !== undefined) parts.push(Buffer.from([53, 1, f.msgType]));
  for (const [code, v] of f.options ?? []) parts.push(Buffer.from([code, v.length]), v);
  if (f.raw) parts.push(f.raw);
  if (!f.noEnd) parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

export function opt6(code: number, v: Buffer): Buffer {
  const h = Buffer.alloc(4); h.writeUInt16BE(code, 0); h.writeUInt16BE(v.length, 2);
  return Buffer.concat([h, v]);
}

export function dhcp6(type: number, xid: number, options: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([type, (xid >> 16) & 0xff, (xid >> 8) & 0xff, xid & 0xff]), ...options]);
}
