/** NBNS messages built by hand for tests (RFC 1002 §4.2). */

/** First-level encoded name (RFC 1001 §14.1): 0x20, 32 half-octet characters, root. */
export function nbName(name: string, suffix = 0x00): Buffer {
  const raw = Buffer.alloc(16, 0x20);
  raw.write(name.toUpperCase().slice(0, 15), 'latin1');
  raw[15] = suffix;
  const out = Buffer.alloc(34);
  out[0] = 32;
  for (let i = 0; i < 16; i++) { out[1 + 2 * i] = 0x41 + (raw[i]! >> 4); out[2 + 2 * i] = 0x41 + (raw[i]! & 0xf); }
  out[33] = 0;
  return out;
}

function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0); h.writeUInt16BE(flags, 2); h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6); h.writeUInt16BE(ns, 8); h.writeUInt16BE(ar, 10);
  return h;
}

function nbRdata(addresses: string[], group: boolean): Buffer {
  return Buffer.concat(addresses.map((a) => Buffer.from([group ? 0x80 : 0x00, 0x00, ...a.split('.').map(Number)])));
}

function rr(name: Buffer, ttl: number, rdata: Buffer): Buffer {
  const f = Buffer.alloc(10);
  f.writeUInt16BE(0x0020, 0); f.writeUInt16BE(0x0001, 2); f.writeUInt32BE(ttl, 4); f.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, f, rdata]);
}

/** NAME REGISTRATION REQUEST, broadcast (§4.2.2): question + additional NB record via pointer 0xC00C. */
export function nbnsRegistration(id: number, name: string, suffix: number, address: string, group = false): Buffer {
  const q = Buffer.concat([nbName(name, suffix), Buffer.from([0x00, 0x20, 0x00, 0x01])]);
  // R=0, OPCODE=5, RD, B
  return Buffer.concat([header(id, (5 << 11) | 0x0100 | 0x0010, 1, 0, 0, 1), q, rr(Buffer.from([0xc0, 0x0c]), 300_000, nbRdata([address], group))]);
}

/** Positive NAME QUERY RESPONSE (§4.2.13). */
export function nbnsQueryResponse(id: number, name: string, suffix: number, addresses: string[]): Buffer {
  // R=1, OPCODE=0, AA, RD
  return Buffer.concat([header(id, 0x8000 | 0x0400 | 0x0100, 0, 1, 0, 0), rr(nbName(name, suffix), 300_000, nbRdata(addresses, false))]);
}
