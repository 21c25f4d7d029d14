/**
 * Byte-level builders for TLS handshake messages and records, shared by the tests and the fuzz
 * script. Not used by the sensor. Layouts follow RFC 8446 §4.1.2 / §4.1.3 / §5.1 and
 * RFC 5246 §7.4.2.
 */

export interface Ext {
  type: number;
  data: Buffer;
}

export function u8(n: number): Buffer { return Buffer.from([n & 0xff]); }
export function u16(n: number): Buffer { return Buffer.from([(n >> 8) & 0xff, n & 0xff]); }
export function u24(n: number): Buffer { return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]); }
export function u16s(list: number[]): Buffer { return Buffer.concat(list.map(u16)); }
/** `<..2^8-1>` vector. */
export function vec8(b: Buffer): Buffer { return Buffer.concat([u8(b.length), b]); }
/** `<..2^16-1>` vector. */
export function vec16(b: Buffer): Buffer { return Buffer.concat([u16(b.length), b]); }
/** `<..2^24-1>` vector. */
export function vec24(b: Buffer): Buffer { return Buffer.concat([u24(b.length), b]); }

export function ext(type: number, data: Buffer | number[]): Ext {
  return { type, data: Buffer.isBuffer(data) ? data : Buffer.from(data) };
}
/** server_name with one host_name (RFC 6066 §3). */
export function sniExt(host: string): Ext {
  const name = Buffer.from(host, 'latin1');
  return ext(0x0000, vec16(Buffer.concat([u8(0), vec16(name)])));
}
/** ALPN (RFC 7301 §3.1). */
export function alpnExt(protocols: string[]): Ext {
  return ext(0x0010, vec16(Buffer.concat(protocols.map((p) => vec8(Buffer.from(p, 'latin1'))))));
}
/** supported_versions, ClientHello form (RFC 8446 §4.2.1). */
export function supportedVersionsExt(versions: number[]): Ext {
  return ext(0x002b, vec8(u16s(versions)));
}
export function sigAlgsExt(algs: number[]): Ext { return ext(0x000d, vec16(u16s(algs))); }
export function groupsExt(groups: number[]): Ext { return ext(0x000a, vec16(u16s(groups))); }
export function pointFormatsExt(formats: number[]): Ext { return ext(0x000b, vec8(Buffer.from(formats))); }

export interface ClientHelloSpec {
  legacyVersion?: number;
  sessionId?: Buffer;
  ciphers: number[];
  compression?: number[];
  /** undefined: no extensions block at all. */
  extensions?: Ext[];
}

export function clientHelloBody(s: ClientHelloSpec): Buffer {
  const parts = [
    u16(s.legacyVersion ?? 0x0303),
    Buffer.alloc(32, 0x11),
    vec8(s.sessionId ?? Buffer.alloc(32, 0x22)),
    vec16(u16s(s.ciphers)),
    vec8(Buffer.from(s.compression ?? [0])),
  ];
  if (s.extensions !== undefined) {
    parts.push(vec16(Buffer.concat(s.extensions.map((e) => Buffer.concat([u16(e.type), vec16(e.data)])))));
  }
  return Buffer.concat(parts);
}

/** Handshake message: msg_type(1) length(3) body (RFC 8446 §4). */
export function handshake(type: number, body: Buffer): Buffer {
  return Buffer.concat([u8(type), vec24(body)]);
}

/**
 * Splits `payload` into records of the given content type; `sizes` are the fragment lengths
 * (the last one takes the rest). Record version 0x0301 as ClientHellos usually have.
 */
export function records(payload: Buffer, sizes: number[] = [], type = 22, version = 0x0301): Buffer {
  const out: Buffer[] = [];
  let p = 0;
  for (const n of sizes) {
    if (p >= payload.length) break;
    const m = Math.min(n, payload.length - p);
    out.push(Buffer.concat([u8(type), u16(version), u16(m), payload.subarray(p, p + m)]));
    p += m;
  }
  while (p < payload.length) {
    const m = Math.min(16384, payload.length - p);
    out.push(Buffer.concat([u8(type), u16(version), u16(m), payload.subarray(p, p + m)]));
    p += m;
  }
  return Buffer.concat(out);
}

export interface ServerHelloSpec {
  legacyVersion?: number;
  random?: Buffer;
  sessionId?: Buffer;
  cipher: number;
  extensions?: Ext[];
}

export function serverHelloBody(s: ServerHelloSpec): Buffer {
  const parts = [
    u16(s.legacyVersion ?? 0x0303),
    s.random ?? Buffer.alloc(32, 0x33),
    vec8(s.sessionId ?? Buffer.alloc(0)),
    u16(s.cipher),
    u8(0),
  ];
  if (s.extensions !== undefined) {
    parts.push(vec16(Buffer.concat(s.extensions.map((e) => Buffer.concat([u16(e.type), vec16(e.data)])))));
  }
  return Buffer.concat(parts);
}

/** Certificate message body (RFC 5246 §7.4.2): certificate_list of DER certificates. */
export function certificateBody(certs: Buffer[]): Buffer {
  return vec24(Buffer.concat(certs.map(vec24)));
}

// The FoxIO JA4 specification's worked example (technical_details/JA4.md in
// github.com/FoxIO-LLC/ja4): wire order of ciphers, extensions and signature algorithms, with
// JA4 = t13d1516h2_8daaf6152771_e5627efa2ab1.
export const JA4_SPEC_CIPHERS = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
  0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035];
export const JA4_SPEC_EXTENSIONS = [0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005,
  0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015];
export const JA4_SPEC_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

/** Extension data that our parser accepts for each type; opaque filler for the others. */
export function extFor(type: number, host = 'Example.COM'): Ext {
  switch (type) {
    case 0x0000: return sniExt(host);
    case 0x0010: return alpnExt(['h2', 'http/1.1']);
    case 0x002b: return supportedVersionsExt([0x5a5a, 0x0304, 0x0303]);
    case 0x000d: return sigAlgsExt(JA4_SPEC_SIGALGS);
    case 0x000a: return groupsExt([0x2a2a, 0x001d, 0x0017, 0x0018]);
    case 0x000b: return pointFormatsExt([0]);
    case 0x0033: return ext(type, Buffer.concat([vec16(Buffer.concat([u16(0x001d), vec16(Buffer.alloc(32, 7))]))]));
    case 0x0015: return ext(type, Buffer.alloc(20));
    default: return ext(type, type % 3 === 0 ? [] : [1, 0, 0]);
  }
}

/** A Chrome-like ClientHello body built on the JA4 spec example, with GREASE values. */
export function chromeLikeClientHelloBody(extensionOrder: number[] = JA4_SPEC_EXTENSIONS, host?: string): Buffer {
  return clientHelloBody({
    ciphers: [0x0a0a, ...JA4_SPEC_CIPHERS],
    extensions: [ext(0x1a1a, []), ...extensionOrder.map((t) => extFor(t, host)), ext(0xfafa, [0])],
  });
}

/** DER TLV with a definite length (X.690 §8.1.3). */
export function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000
    ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

/**
 * A structurally valid (unsigned, key-less) X.509 certificate with a subject CN and
 * subjectAltName dNSNames, enough for the name reader (RFC 5280 §4.1).
 */
export function fakeCertificateDer(cn: string, dnsNames: string[]): Buffer {
  const algId = der(0x30, Buffer.concat([der(0x06, Buffer.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b])), der(0x05, Buffer.alloc(0))]));
  const name = (s: string): Buffer => der(0x30, der(0x31, der(0x30, Buffer.concat([
    der(0x06, Buffer.from([0x55, 0x04, 0x03])), der(0x0c, Buffer.from(s, 'utf8'))]))));
  const validity = der(0x30, Buffer.concat([der(0x17, Buffer.from('250101000000Z')), der(0x17, Buffer.from('350101000000Z'))]));
  const spki = der(0x30, Buffer.concat([algId, der(0x03, Buffer.from([0, 1, 2, 3]))]));
  const san = der(0x30, Buffer.concat(dnsNames.map((d) => der(0x82, Buffer.from(d, 'latin1')))));
  const exts = der(0xa3, der(0x30, Buffer.concat([
    der(0x30, Buffer.concat([der(0x06, Buffer.from([0x55, 0x1d, 0x13])), der(0x01, Buffer.from([0xff])), der(0x04, der(0x30, Buffer.alloc(0)))])),
    der(0x30, Buffer.concat([der(0x06, Buffer.from([0x55, 0x1d, 0x11])), der(0x04, san)])),
  ])));
  const tbs = der(0x30, Buffer.concat([
    der(0xa0, der(0x02, Buffer.from([2]))), der(0x02, Buffer.from([0x01, 0x23])), algId, name('Test CA'), validity,
    name(cn), spki, exts,
  ]));
  return der(0x30, Buffer.concat([tbs, algId, der(0x03, Buffer.from([0, 0xaa, 0xbb]))]));
}
