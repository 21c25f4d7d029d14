/**
 * Byte-by-byte packet and capture builders for tests.
 *
 * Every builder returns a fresh Buffer and composes by nesting: the payload of one layer is the
 * Buffer built by the next, e.g.
 *
 *   ethernet(MAC_B, MAC_A, ETHERTYPE_IPV4,
 *     ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6 },
 *       tcp({ sport: 40000, dport: 443, flags: SYN })))
 *
 * Defaults produce well-formed packets (lengths, IPv4 header checksum, TCP/UDP/ICMP checksums);
 * every length field can be overridden to produce malformed ones. Addresses are strings:
 * '10.0.0.1', '2001:db8::1', 'aa:bb:cc:dd:ee:ff'.
 */

// ---------------------------------------------------------------------------------------------
// Numbers and addresses
// ---------------------------------------------------------------------------------------------

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_VLAN = 0x8100;
export const ETH_QINQ = 0x88a8;
export const ETH_IPV6 = 0x86dd;
export const ETH_MPLS = 0x8847;
export const ETH_PPPOE_SESSION = 0x8864;
export const ETH_TEB = 0x6558;

export const PROTO_HOPOPTS = 0;
export const PROTO_ICMP = 1;
export const PROTO_IPIP = 4;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_IPV6 = 41;
export const PROTO_ROUTING = 43;
export const PROTO_FRAGMENT = 44;
export const PROTO_GRE = 47;
export const PROTO_ESP = 50;
export const PROTO_AH = 51;
export const PROTO_ICMPV6 = 58;
export const PROTO_NONE = 59;
export const PROTO_DSTOPTS = 60;
export const PROTO_SCTP = 132;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** 'aa:bb:cc:dd:ee:ff' (or '-' separated) → 6 bytes. */
export function mac(s: string): Buffer {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6) throw new Error(`bad MAC ${s}`);
  return Buffer.from(parts.map((p) => {
    const v = parseInt(p, 16);
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) throw new Error(`bad MAC ${s}`);
    return v;
  }));
}

/** '10.0.0.1' → 4 bytes. */
export function ipv4Bytes(s: string): Buffer {
  const parts = s.split('.');
  if (parts.length !== 4) throw new Error(`bad IPv4 address ${s}`);
  return Buffer.from(parts.map((p) => {
    const v = Number(p);
    if (!/^\d{1,3}$/.test(p) || v > 255) throw new Error(`bad IPv4 address ${s}`);
    return v;
  }));
}

/** '2001:db8::1' (also '::ffff:10.0.0.1') → 16 bytes. */
export function ipv6Bytes(s: string): Buffer {
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    // Embedded IPv4 tail (RFC 4291 §2.2 form 3): rewrite as two hex groups.
    const v4 = ipv4Bytes(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address ${s}`);
  const parse = (h: string | undefined): number[] => (h === undefined || h === '' ? [] : h.split(':').map((g) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`bad IPv6 address ${s}`);
    return parseInt(g, 16);
  }));
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 0) throw new Error(`bad IPv6 address ${s}`);
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) throw new Error(`bad IPv6 address ${s}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

/** Either family: a string containing ':' is IPv6. */
export function ipBytes(s: string): Buffer {
  return s.includes(':') ? ipv6Bytes(s) : ipv4Bytes(s);
}

/** IPv4 address as the decoder's 32-bit word (unsigned). */
export function ipv4Word(s: string): number {
  return ipv4Bytes(s).readUInt32BE(0);
}

/** IPv6 address as the decoder's four 32-bit words (unsigned). */
export function ipv6Words(s: string): [number, number, number, number] {
  const b = ipv6Bytes(s);
  return [b.readUInt32BE(0), b.readUInt32BE(4), b.readUInt32BE(8), b.readUInt32BE(12)];
}

/** Address words as DecodedPacket holds them: IPv4 in word 3, words 0-2 zero. */
export function addrWords(s: string): [number, number, number, number] {
  return s.includes(':') ? ipv6Words(s) : [0, 0, 0, ipv4Word(s)];
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v & 0xffff);
  return b;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** RFC 1071 Internet checksum over the concatenation of `parts`. */
export function internetChecksum(...parts: Buffer[]): number {
  const data = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length % 2 === 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

// ---------------------------------------------------------------------------------------------
// Link layers
// ---------------------------------------------------------------------------------------------

/** Ethernet II: dst, src, ethertype, payload (no FCS). `padTo` pads with zeros (e.g. 60). */
export function ethernet(dst: string, src: string, ethertype: number, payload: Buffer, padTo = 0): Buffer {
  const frame = Buffer.concat([mac(dst), mac(src), u16(ethertype), payload]);
  return frame.length < padTo ? Buffer.concat([frame, Buffer.alloc(padTo - frame.length)]) : frame;
}

export interface VlanTag {
  /** Tag protocol identifier of this tag: 0x8100 (802.1Q), 0x88a8 (802.1ad), 0x9100. */
  tpid?: number;
  id: number;
  pcp?: number;
  dei?: boolean;
}

/**
 * The bytes after a VLAN TPID: TCI (PCP, DEI, VID) and the next ethertype, then the payload.
 * The TPID itself is the enclosing ethertype.
 */
export function vlan(id: number, ethertype: number, payload: Buffer, pcp = 0, dei = false): Buffer {
  return Buffer.concat([u16(((pcp & 7) << 13) | (dei ? 0x1000 : 0) | (id & 0x0fff)), u16(ethertype), payload]);
}

/** Ethernet with a stack of VLAN tags, outermost first; `ethertype` follows the last tag. */
export function ethernetTagged(dst: string, src: string, tags: VlanTag[], ethertype: number, payload: Buffer): Buffer {
  let inner = payload;
  let type = ethertype;
  for (let i = tags.length - 1; i >= 0; i--) {
    const t = tags[i]!;
    inner = vlan(t.id, type, inner, t.pcp ?? 0, t.dei ?? false);
    type = t.tpid ?? ETH_VLAN;
  }
  return ethernet(dst, src, type, inner);
}

export interface MplsLabel {
  label: number;
  tc?: number;
  ttl?: number;
  /** Bottom-of-stack bit; defaults to "last entry of the stack". */
  bottom?: boolean;
}

/** RFC 3032 label stack (S bit on the last entry unless overridden), then the payload. */
export function mpls(labels: (number | MplsLabel)[], payload: Buffer): Buffer {
  const entries = labels.map((l, i) => {
    const e: MplsLabel = typeof l === 'number' ? { label: l } : l;
    const bottom = e.bottom ?? i === labels.length - 1;
    return u32(((e.label & 0xfffff) << 12) | ((e.tc ?? 0) << 9) | (bottom ? 0x100 : 0) | (e.ttl ?? 64));
  });
  return Buffer.concat([...entries, payload]);
}

/** RFC 2516 PPPoE session header (ver/type 0x11, code 0) + PPP protocol (RFC 1661) + payload. */
export function pppoe(pppProtocol: number, payload: Buffer, sessionId = 0x1234): Buffer {
  return Buffer.concat([Buffer.from([0x11, 0x00]), u16(sessionId), u16(payload.length + 2), u16(pppProtocol), payload]);
}

/** PPP protocol numbers. */
export const PPP_IPV4 = 0x0021;
export const PPP_IPV6 = 0x0057;
export const PPP_LCP = 0xc021;

/** PPP (DLT_PPP / GRE PPP): optional FF 03 address/control (RFC 1662), protocol, payload. */
export function ppp(protocol: number, payload: Buffer, addressControl = true): Buffer {
  return Buffer.concat([addressControl ? Buffer.from([0xff, 0x03]) : Buffer.alloc(0), u16(protocol), payload]);
}

/** Cisco HDLC: address (0x0F unicast / 0x8F broadcast), control 0, ethertype, payload. */
export function cHdlc(ethertype: number, payload: Buffer, address = 0x0f): Buffer {
  return Buffer.concat([Buffer.from([address, 0x00]), u16(ethertype), payload]);
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 16 bytes). */
export function linuxSll(protocol: number, payload: Buffer, opts: { packetType?: number; arphrd?: number; addr?: string } = {}): Buffer {
  const addr = Buffer.alloc(8);
  const a = opts.addr === undefined ? mac('00:11:22:33:44:55') : mac(opts.addr);
  a.copy(addr);
  return Buffer.concat([u16(opts.packetType ?? 0), u16(opts.arphrd ?? 1), u16(a.length), addr, u16(protocol), payload]);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 20 bytes, protocol first). */
export function linuxSll2(protocol: number, payload: Buffer, opts: { ifIndex?: number; packetType?: number; arphrd?: number; addr?: string } = {}): Buffer {
  const addr = Buffer.alloc(8);
  const a = opts.addr === undefined ? mac('00:11:22:33:44:55') : mac(opts.addr);
  a.copy(addr);
  return Buffer.concat([u16(protocol), u16(0), u32(opts.ifIndex ?? 1), u16(opts.arphrd ?? 1),
    Buffer.from([opts.packetType ?? 0, a.length]), addr, payload]);
}

/** Address families used in DLT_NULL / DLT_LOOP headers. */
export const AF_INET = 2;
export const AF_INET6_BSD = 24;
export const AF_INET6_FREEBSD = 28;
export const AF_INET6_DARWIN = 30;
export const AF_INET6_LINUX = 10;

/** BSD loopback (DLT_NULL): 4-byte address family in the capturing host's byte order. */
export function bsdNull(family: number, payload: Buffer, littleEndian = true): Buffer {
  const h = Buffer.alloc(4);
  if (littleEndian) h.writeUInt32LE(family);
  else h.writeUInt32BE(family);
  return Buffer.concat([h, payload]);
}

/** OpenBSD loopback (DLT_LOOP): family in network byte order. */
export function loop(family: number, payload: Buffer): Buffer {
  return bsdNull(family, payload, false);
}

/** PPI header (version 0, flags 0, little-endian length and DLT), optional field bytes, payload. */
export function ppi(dlt: number, payload: Buffer, fields: Buffer = Buffer.alloc(0), lengthOverride?: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0;
  h[1] = 0;
  h.writeUInt16LE(lengthOverride ?? 8 + fields.length, 2);
  h.writeUInt32LE(dlt, 4);
  return Buffer.concat([h, fields, payload]);
}

// ---------------------------------------------------------------------------------------------
// IP
// ---------------------------------------------------------------------------------------------

export interface Ipv4Options {
  src: string;
  dst: string;
  /** Protocol number (default: TCP). */
  proto?: number;
  id?: number;
  tos?: number;
  ttl?: number;
  df?: boolean;
  /** More-fragments flag. */
  mf?: boolean;
  /** Fragment offset in 8-octet units. */
  fragOffset?: number;
  /** IP options, padded with zeros (End of Option List) to a multiple of 4. */
  options?: Buffer;
  /** Overrides the total length field (default: header + payload). */
  totalLength?: number;
  /** Overrides the IHL nibble (in 32-bit words). */
  ihl?: number;
  /** Overrides the version nibble. */
  version?: number;
  /** Overrides the header checksum (default: computed). */
  checksum?: number;
  /** Fill a zero TCP/UDP/ICMP checksum in the payload (default true; skipped for fragments). */
  transportChecksum?: boolean;
}

/** RFC 791 IPv4 header with a correct header checksum, then the payload. */
export function ipv4(o: Ipv4Options, payload: Buffer = Buffer.alloc(0)): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const optPad = opts.length % 4 === 0 ? opts : Buffer.concat([opts, Buffer.alloc(4 - (opts.length % 4))]);
  const hlen = 20 + optPad.length;
  const h = Buffer.alloc(hlen);
  h[0] = ((o.version ?? 4) << 4) | ((o.ihl ?? hlen / 4) & 0x0f);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE((o.totalLength ?? hlen + payload.length) & 0xffff, 2);
  h.writeUInt16BE((o.id ?? 0x1c46) & 0xffff, 4);
  h.writeUInt16BE((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) & 0x1fff), 6);
  h[8] = o.ttl ?? 64;
  const proto = o.proto ?? PROTO_TCP;
  h[9] = proto;
  ipv4Bytes(o.src).copy(h, 12);
  ipv4Bytes(o.dst).copy(h, 16);
  optPad.copy(h, 20);
  h.writeUInt16BE(o.checksum ?? internetChecksum(h), 10);
  const fragmented = (o.mf ?? false) || (o.fragOffset ?? 0) !== 0;
  const body = o.transportChecksum === false || fragmented ? payload
    : withTransportChecksum(proto, payload, Buffer.concat([ipv4Bytes(o.src), ipv4Bytes(o.dst), Buffer.from([0, proto]), u16(payload.length)]), false);
  return Buffer.concat([h, body]);
}

export type Ipv6ExtHeader =
  /** Hop-by-hop (0), destination options (60): `length` bytes of options (padded to 8n+6). */
  | { type: 'hop' | 'dest'; options?: Buffer; hdrExtLen?: number }
  /** Routing header (43): type, segments left, data (type-specific). */
  | { type: 'routing'; routingType?: number; segmentsLeft?: number; addresses?: string[]; hdrExtLen?: number }
  /** Fragment header (44): offset in 8-octet units, M flag, identification. */
  | { type: 'fragment'; offset?: number; more?: boolean; id?: number }
  /** Authentication header (51, RFC 4302): SPI, sequence, ICV bytes (multiple of 4). */
  | { type: 'ah'; spi?: number; seq?: number; icv?: Buffer }
  /** Raw: any next-header value with the given body (the first byte is filled in). */
  | { type: 'raw'; protocol: number; body: Buffer };

export interface Ipv6Options {
  src: string;
  dst: string;
  /** Upper-layer protocol after the extension headers (default: TCP). */
  nextHeader?: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  ext?: Ipv6ExtHeader[];
  /** Overrides the payload length field. */
  payloadLength?: number;
  /** Overrides the version nibble. */
  version?: number;
  /** Fill a zero TCP/UDP/ICMPv6 checksum in the payload (default true; skipped for fragments). */
  transportChecksum?: boolean;
}

function extProtocol(e: Ipv6ExtHeader): number {
  switch (e.type) {
    case 'hop': return PROTO_HOPOPTS;
    case 'dest': return PROTO_DSTOPTS;
    case 'routing': return PROTO_ROUTING;
    case 'fragment': return PROTO_FRAGMENT;
    case 'ah': return PROTO_AH;
    case 'raw': return e.protocol;
  }
}

/** Pads an options area with PadN / Pad1 so that header + options is a multiple of 8. */
function padOptions(opts: Buffer): Buffer {
  const total = 2 + opts.length;
  const pad = (8 - (total % 8)) % 8;
  if (pad === 0) return opts;
  if (pad === 1) return Buffer.concat([opts, Buffer.from([0])]);
  return Buffer.concat([opts, Buffer.from([1, pad - 2]), Buffer.alloc(pad - 2)]);
}

function extHeader(e: Ipv6ExtHeader, next: number): Buffer {
  switch (e.type) {
    case 'hop':
    case 'dest': {
      const body = padOptions(e.options ?? Buffer.alloc(0));
      const len = 2 + body.length;
      return Buffer.concat([Buffer.from([next, e.hdrExtLen ?? len / 8 - 1]), body]);
    }
    case 'routing': {
      const addrs = (e.addresses ?? ['2001:db8::fe']).map(ipv6Bytes);
      // Type 0-style layout: 4 reserved bytes, then addresses.
      const body = Buffer.concat([Buffer.from([e.routingType ?? 0, e.segmentsLeft ?? 0]), Buffer.alloc(4), ...addrs]);
      const len = 2 + body.length;
      return Buffer.concat([Buffer.from([next, e.hdrExtLen ?? len / 8 - 1]), body]);
    }
    case 'fragment': {
      const h = Buffer.alloc(8);
      h[0] = next;
      h.writeUInt16BE((((e.offset ?? 0) & 0x1fff) << 3) | (e.more ? 1 : 0), 2);
      h.writeUInt32BE((e.id ?? 0xabcdef01) >>> 0, 4);
      return h;
    }
    case 'ah': {
      const icv = e.icv ?? Buffer.alloc(12);
      const len = 12 + icv.length; // must be a multiple of 8 for IPv6
      return Buffer.concat([Buffer.from([next, len / 4 - 2, 0, 0]), u32(e.spi ?? 0x100), u32(e.seq ?? 1), icv]);
    }
    case 'raw': {
      const b = Buffer.from(e.body);
      if (b.length > 0) b[0] = next;
      return b;
    }
  }
}

/** RFC 8200 IPv6 header, extension headers in order, then the payload. */
export function ipv6(o: Ipv6Options, payload: Buffer = Buffer.alloc(0)): Buffer {
  const ext = o.ext ?? [];
  const upper = o.nextHeader ?? PROTO_TCP;
  const parts: Buffer[] = [];
  for (let i = 0; i < ext.length; i++) {
    const following = i + 1 < ext.length ? extProtocol(ext[i + 1]!) : upper;
    parts.push(extHeader(ext[i]!, following));
  }
  const first = ext.length > 0 ? extProtocol(ext[0]!) : upper;
  const fragmented = ext.some((e) => e.type === 'fragment' && ((e.offset ?? 0) !== 0 || e.more === true));
  const src = ipv6Bytes(o.src), dst = ipv6Bytes(o.dst);
  const body = o.transportChecksum === false || fragmented ? payload
    : withTransportChecksum(upper, payload, Buffer.concat([src, dst, u32(payload.length), Buffer.from([0, 0, 0, upper])]), true);
  const extBytes = Buffer.concat(parts);
  const h = Buffer.alloc(40);
  h.writeUInt32BE((((o.version ?? 6) & 0xf) << 28 | ((o.trafficClass ?? 0) & 0xff) << 20 | ((o.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  h.writeUInt16BE((o.payloadLength ?? extBytes.length + body.length) & 0xffff, 4);
  h[6] = first;
  h[7] = o.hopLimit ?? 64;
  src.copy(h, 8);
  dst.copy(h, 24);
  return Buffer.concat([h, extBytes, body]);
}

/** Fills the checksum of a TCP/UDP/ICMP(v6) payload whose checksum field is zero. */
function withTransportChecksum(proto: number, payload: Buffer, pseudo: Buffer, v6: boolean): Buffer {
  let at = -1;
  if (proto === PROTO_TCP && payload.length >= 20) at = 16;
  else if (proto === PROTO_UDP && payload.length >= 8) at = 6;
  else if (proto === PROTO_ICMPV6 && v6 && payload.length >= 4) at = 2;
  if (at < 0 || payload.readUInt16BE(at) !== 0) return payload;
  const b = Buffer.from(payload);
  let sum = internetChecksum(pseudo, b);
  if (proto === PROTO_UDP && sum === 0) sum = 0xffff;
  b.writeUInt16BE(sum, at);
  return b;
}

/** IP-in-IP (RFC 2003 / RFC 4213 / RFC 2473): the outer family follows `src`, the protocol the inner packet. */
export function ipInIp(outer: { src: string; dst: string; id?: number }, inner: Buffer): Buffer {
  const proto = inner.length > 0 && inner[0]! >> 4 === 6 ? PROTO_IPV6 : PROTO_IPIP;
  return outer.src.includes(':')
    ? ipv6({ src: outer.src, dst: outer.dst, nextHeader: proto }, inner)
    : ipv4({ src: outer.src, dst: outer.dst, proto, id: outer.id ?? 0x4242 }, inner);
}

// ---------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------

export interface TcpOptions {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** Flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...). Default ACK. */
  flags?: number;
  window?: number;
  /** TCP options, padded with zeros to a multiple of 4. */
  options?: Buffer;
  /** Overrides the data offset nibble (in 32-bit words). */
  dataOffset?: number;
}

/** RFC 9293 TCP header (checksum filled by ipv4()/ipv6()), then the payload. */
export function tcp(o: TcpOptions, payload: Buffer = Buffer.alloc(0)): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const optPad = opts.length % 4 === 0 ? opts : Buffer.concat([opts, Buffer.alloc(4 - (opts.length % 4))]);
  const h = Buffer.alloc(20 + optPad.length);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE((o.seq ?? 1000) >>> 0, 4);
  h.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
  h[12] = ((o.dataOffset ?? h.length / 4) & 0xf) << 4;
  h[13] = o.flags ?? TCP_ACK;
  h.writeUInt16BE(o.window ?? 65535, 14);
  optPad.copy(h, 20);
  return Buffer.concat([h, payload]);
}

/** RFC 768 UDP header (checksum filled by ipv4()/ipv6()), then the payload. */
export function udp(o: { sport: number; dport: number; length?: number }, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt16BE((o.length ?? 8 + payload.length) & 0xffff, 4);
  return Buffer.concat([h, payload]);
}

/** ICMP (RFC 792) echo-style message with its checksum; ICMPv6 checksums are filled by ipv6(). */
export function icmp(o: { type?: number; code?: number; id?: number; seq?: number; v6?: boolean } = {}, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h[0] = o.type ?? (o.v6 ? 128 : 8);
  h[1] = o.code ?? 0;
  h.writeUInt16BE(o.id ?? 0x77, 4);
  h.writeUInt16BE(o.seq ?? 1, 6);
  const m = Buffer.concat([h, payload]);
  if (!o.v6) m.writeUInt16BE(internetChecksum(m), 2);
  return m;
}

/** SCTP common header (RFC 9260 §3.1, checksum left zero) and the given chunk bytes. */
export function sctp(o: { sport: number; dport: number; vtag?: number }, chunks: Buffer = Buffer.from([1, 0, 0, 4])): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE((o.vtag ?? 0) >>> 0, 4);
  return Buffer.concat([h, chunks]);
}

// ---------------------------------------------------------------------------------------------
// Tunnels
// ---------------------------------------------------------------------------------------------

/** GRE version 0 (RFC 2784, key and sequence RFC 2890), then the payload. */
export function gre(o: { protocol: number; checksum?: boolean; key?: number; seq?: number; flags?: number }, payload: Buffer): Buffer {
  const flags = (o.flags ?? 0) | (o.checksum ? 0x8000 : 0) | (o.key !== undefined ? 0x2000 : 0) | (o.seq !== undefined ? 0x1000 : 0);
  const parts = [u16(flags), u16(o.protocol)];
  if (o.checksum) parts.push(u32(0));
  if (o.key !== undefined) parts.push(u32(o.key));
  if (o.seq !== undefined) parts.push(u32(o.seq));
  const h = Buffer.concat(parts);
  if (o.checksum) {
    const all = Buffer.concat([h, payload]);
    all.writeUInt16BE(internetChecksum(all), 4);
    return all;
  }
  return Buffer.concat([h, payload]);
}

/**
 * Enhanced GRE, version 1, as used by PPTP (RFC 2637 §4.1): key present (payload length, call
 * id), optional sequence and acknowledgment numbers, protocol 0x880B; the payload is a PPP frame.
 */
export function grePptp(o: { callId: number; seq?: number; ack?: number; keyPresent?: boolean }, pppFrame: Buffer): Buffer {
  const flags = ((o.keyPresent ?? true) ? 0x2000 : 0) | (o.seq !== undefined ? 0x1000 : 0) | (o.ack !== undefined ? 0x0080 : 0) | 1;
  const parts = [u16(flags), u16(0x880b)];
  if (o.keyPresent ?? true) parts.push(u16(pppFrame.length), u16(o.callId));
  if (o.seq !== undefined) parts.push(u32(o.seq));
  if (o.ack !== undefined) parts.push(u32(o.ack));
  return Buffer.concat([...parts, pppFrame]);
}

/** VXLAN (RFC 7348 §5): flags with I set, 24-bit VNI, then the inner Ethernet frame. */
export function vxlan(vni: number, frame: Buffer, flags = 0x08): Buffer {
  const h = Buffer.alloc(8);
  h[0] = flags;
  h.writeUInt32BE(((vni & 0xffffff) << 8) >>> 0, 4);
  return Buffer.concat([h, frame]);
}

export interface GtpuExtension {
  /** Type of this extension header (written as the "next extension header type" before it). */
  type: number;
  /** Content bytes; with the length byte and next-type byte the total must be a multiple of 4. */
  content: Buffer;
}

/**
 * GTP-U (3GPP TS 29.281 §5.1): version 1, PT 1, message type (default 255 T-PDU), length, TEID;
 * with any of seq / npdu / extensions the optional 4 bytes, then the extension header chain.
 */
export function gtpu(o: { teid: number; messageType?: number; seq?: number; npdu?: number; ext?: GtpuExtension[]; flags?: number }, payload: Buffer): Buffer {
  const ext = o.ext ?? [];
  let flags = 0x30;
  if (ext.length > 0) flags |= 0x04;
  if (o.seq !== undefined) flags |= 0x02;
  if (o.npdu !== undefined) flags |= 0x01;
  if (o.flags !== undefined) flags = o.flags;
  const optional: Buffer[] = [];
  if (flags & 0x07) {
    optional.push(u16(o.seq ?? 0), Buffer.from([o.npdu ?? 0, ext.length > 0 ? ext[0]!.type : 0]));
    for (let i = 0; i < ext.length; i++) {
      const e = ext[i]!;
      const total = e.content.length + 2;
      if (total % 4 !== 0) throw new Error('GTP-U extension length must be a multiple of 4');
      optional.push(Buffer.from([total / 4]), e.content, Buffer.from([i + 1 < ext.length ? ext[i + 1]!.type : 0]));
    }
  }
  const opt = Buffer.concat(optional);
  const h = Buffer.alloc(8);
  h[0] = flags;
  h[1] = o.messageType ?? 0xff;
  h.writeUInt16BE(opt.length + payload.length, 2);
  h.writeUInt32BE(o.teid >>> 0, 4);
  return Buffer.concat([h, opt, payload]);
}

// ---------------------------------------------------------------------------------------------
// Capture files
// ---------------------------------------------------------------------------------------------

export interface PcapRecord {
  data: Buffer;
  /** Microseconds since the Unix epoch. */
  tsUs: number;
  /** Original length on the wire (default: data.length). */
  wireLen?: number;
}

/**
 * A classic libpcap file (draft-ietf-opsawg-pcap §4-5): 24-byte header (microsecond magic, version
 * 2.4) and one 16-byte record header per packet. Little-endian unless `bigEndian`.
 */
export function pcapFile(packets: PcapRecord[], linkType: number, opts: { snaplen?: number; bigEndian?: boolean; nanoseconds?: boolean } = {}): Buffer {
  const be = opts.bigEndian ?? false;
  const w32 = (b: Buffer, v: number, at: number): void => { if (be) b.writeUInt32BE(v >>> 0, at); else b.writeUInt32LE(v >>> 0, at); };
  const w16 = (b: Buffer, v: number, at: number): void => { if (be) b.writeUInt16BE(v, at); else b.writeUInt16LE(v, at); };
  const h = Buffer.alloc(24);
  w32(h, opts.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(h, 2, 4);
  w16(h, 4, 6);
  w32(h, 0, 8);
  w32(h, 0, 12);
  w32(h, opts.snaplen ?? 262144, 16);
  w32(h, linkType, 20);
  const parts: Buffer[] = [h];
  for (const p of packets) {
    const r = Buffer.alloc(16);
    const sec = Math.floor(p.tsUs / 1e6);
    const frac = p.tsUs - sec * 1e6;
    w32(r, sec, 0);
    w32(r, opts.nanoseconds ? Math.round(frac * 1000) : Math.round(frac), 4);
    w32(r, p.data.length, 8);
    w32(r, p.wireLen ?? p.data.length, 12);
    parts.push(r, p.data);
  }
  return Buffer.concat(parts);
}
