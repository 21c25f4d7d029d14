/**
 * Bidirectional flow table, stored as parallel typed arrays (one slot per flow) so that a
 * tracked flow costs a fixed, small number of bytes and the garbage collector sees a handful of
 * large arrays instead of millions of objects.
 *
 * - Key: (IP version, protocol, VLAN, endpoint A, endpoint B) where A is the lower of the two
 *   (address, port) pairs, so both directions of a conversation hash to the same slot.
 * - Lookup: chained hashing over a power-of-two bucket array; chains use the slot numbers.
 * - Expiry: one LRU list per timeout class (TCP, UDP, ICMP, other, closed TCP). Every list has a
 *   single timeout, so its head is always the next to expire and expiry costs O(expired).
 * - Bounds: `maxFlows`; when full, the least recently seen flow is evicted and counted.
 * - Storage grows by doubling up to maxFlows so an idle sensor does not reserve its maximum.
 */
import { DecodedPacket, Fragment } from '../decode/decoder.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE } from '../decode/constants.js';

export interface FlowSettings {
  maxFlows: number;
  flowIdleTimeoutMs: { tcp: number; udp: number; icmp: number; other: number };
  tcpClosedTimeoutMs: number;
  flowActiveTimeoutMs: number;
  emitOpenEvents: boolean;
}

export const DEFAULT_FLOW_SETTINGS: FlowSettings = {
  maxFlows: 1 << 20,
  flowIdleTimeoutMs: { tcp: 300_000, udp: 120_000, icmp: 60_000, other: 120_000 },
  tcpClosedTimeoutMs: 10_000,
  flowActiveTimeoutMs: 300_000,
  emitOpenEvents: false,
};

/** OCSF Network Activity activity_id values used for flow events. */
export const enum FlowActivity {
  OPEN = 1,
  CLOSE = 2,
  RESET = 3,
  TRAFFIC = 6,
}

/** Why a flow left the table (counted per reason). */
export const enum EvictReason {
  IDLE = 0,
  TCP_CLOSED = 1,
  TABLE_FULL = 2,
  FLUSH = 3,
}

/**
 * Why the sensor, not the flow, ended a flow still open: `FlowTable.ending` during a final event.
 * NONE: the flow ended on its own (FIN/RST then the closed timeout, or the idle timeout).
 */
export const enum EndReason {
  NONE = 0,
  /** The capture file ended (replay). */
  CAPTURE_END = 1,
  /** The sensor stopped (daemon shutdown). */
  SHUTDOWN = 2,
  /** The table was full and this was the least recently seen flow. */
  TABLE_FULL = 3,
}

/** `unmapped.flow_end_reason` text per EndReason (index). */
export const END_REASON_NAMES: readonly string[] = ['', 'capture_end', 'shutdown', 'table_full'];

/** How a flow's client was decided, for the `flows.client_by_*` counters. */
const enum ClientBy { SYN, SERVER_TABLE, PORT, DNS, FIRST_SENDER }

/**
 * Known servers: (address, port) pairs seen answering a SYN (the SYN-ACK's sender) or proven
 * server by an application request, remembered so that a later flow with the same pair whose
 * handshake was not seen is oriented the same way (over TCP or UDP: a service port usually
 * serves both, as DNS and HTTPS/QUIC do). Direct-mapped, 16384 entries (320 KB, independent of
 * maxFlows); a pair overwritten by another is counted in `flows.server_table_evictions`.
 */
const KNOWN_SERVER_ENTRIES = 1 << 14;

export class FlowCounters {
  created = 0;
  evictedIdle = 0;
  evictedTcpClosed = 0;
  evictedTableFull = 0;
  flushed = 0;
  activeTimeoutEvents = 0;
  /** Later IP fragments whose flow was not found (their first fragment was never seen). */
  orphanFragments = 0;
  tableGrowths = 0;
  /** Flows whose handshake was not seen, by what decided their client (see initialClient). */
  clientByServerTable = 0;
  clientByPort = 0;
  clientByDns = 0;
  clientByFirstSender = 0;
  /** Flows whose client guess a TLS ClientHello or HTTP request from the other side corrected. */
  clientByPayload = 0;
  /** Known-server entries overwritten by a different (address, port). */
  serverTableEvictions = 0;

  snapshot(active: number): Record<string, number> {
    return {
      'flows.created': this.created,
      'flows.active': active,
      'flows.evicted_idle': this.evictedIdle,
      'flows.evicted_tcp_closed': this.evictedTcpClosed,
      'flows.evicted_table_full': this.evictedTableFull,
      'flows.flushed': this.flushed,
      'flows.active_timeout_events': this.activeTimeoutEvents,
      'flows.orphan_fragments': this.orphanFragments,
      'flows.table_growths': this.tableGrowths,
      'flows.client_by_server_table': this.clientByServerTable,
      'flows.client_by_port': this.clientByPort,
      'flows.client_by_dns': this.clientByDns,
      'flows.client_by_first_sender': this.clientByFirstSender,
      'flows.client_by_payload': this.clientByPayload,
      'flows.server_table_evictions': this.serverTableEvictions,
    };
  }
}

/** Receives flow events; reads what it needs from the table during the call. */
export type FlowEventCallback = (table: FlowTable, slot: number, activity: FlowActivity, tsUs: number, final: boolean) => void;

/**
 * For a flow whose handshake was not seen and whose ports do not tell the server: which endpoint
 * a DNS answer named (an address a client resolved is a server). 1: endpoint A, 2: endpoint B,
 * 0: neither or both. Called at most once per flow, when it is created.
 */
export type ServerHint = (table: FlowTable, slot: number) => 0 | 1 | 2;

// LRU list ids, one per timeout class.
const LIST_TCP = 0;
const LIST_UDP = 1;
const LIST_ICMP = 2;
const LIST_OTHER = 3;
const LIST_CLOSED = 4;
const LIST_COUNT = 5;
const NONE = -1;

// Per-flow state bits.
const ST_CLIENT_IS_A = 0x01;
const ST_FIN_A = 0x02;
const ST_FIN_B = 0x04;
const ST_RST = 0x08;
const ST_CLOSED = 0x10;
/** The client was decided from a SYN/SYN-ACK rather than guessed. */
const ST_CLIENT_BY_SYN = 0x20;
/** The client was decided by an application message (TLS ClientHello, HTTP request). */
const ST_CLIENT_BY_PAYLOAD = 0x40;

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;

const INITIAL_CAPACITY = 1 << 14;
/** Fragmented datagrams in flight that can be attributed at once (direct-mapped, 4096). */
const FRAGMENT_CACHE_ENTRIES = 1 << 12;

function foldSrc(p: DecodedPacket): number {
  return (p.src0 ^ p.src1 ^ p.src2 ^ p.src3) >>> 0;
}
function foldDst(p: DecodedPacket): number {
  return (p.dst0 ^ p.dst1 ^ p.dst2 ^ p.dst3) >>> 0;
}
function fragmentIndex(p: DecodedPacket): number {
  let h = Math.imul(foldSrc(p) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ foldDst(p), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ p.fragmentId ^ (p.protocol << 24), 0x85ebca6b);
  return (h ^ (h >>> 15)) & (FRAGMENT_CACHE_ENTRIES - 1);
}

/**
 * Port rank for telling a server from a client (lower rank = more likely the server):
 * 0 for IANA system ports (1-1023), 1 for user (registered) ports 1024-49151, 2 for the dynamic
 * ports 49152-65535 (RFC 6335 §6), which IANA never assigns to a service. Port 0 tells nothing.
 */
function portRank(port: number): number {
  if (port === 0) return 3;
  if (port < 1024) return 0;
  if (port < 49152) return 1;
  return 2;
}

/**
 * Which side the ports name as server: > 0 the source, < 0 the destination, 0 neither. A system
 * port facing a non-system one is the server, and so is a user port facing a dynamic one. Two
 * ports of one rank tell nothing: Linux picks ephemeral ports from 32768-60999 (RFC 6056 §2.1),
 * inside the user range, so "the lower port" would often name a client (VoIP relays, games,
 * BACnet's 47808 against a scanner's port).
 */
function portSaysServer(srcPort: number, dstPort: number, udp: boolean): number {
  const rs = portRank(srcPort), rd = portRank(dstPort);
  if (rs === rd || rs === 3 || rd === 3) return 0;
  // Over UDP, peer-to-peer and real-time media pick both ports freely (Gnutella, BitTorrent,
  // games, RTP relays): only a system port names a server there.
  if (udp && rs !== 0 && rd !== 0) return 0;
  return rd - rs;
}

function knownServerIndex(w0: number, w1: number, w2: number, w3: number, port: number): number {
  let h = Math.imul(w3 ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ w2 ^ port, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ w1 ^ (w0 << 1), 0x85ebca6b);
  return (h ^ (h >>> 15)) & (KNOWN_SERVER_ENTRIES - 1);
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class FlowTable {
  readonly counters: FlowCounters;
  private readonly settings: FlowSettings;
  private readonly onEvent: FlowEventCallback | null;
  private readonly idleTimeoutUs: Float64Array;
  private readonly activeTimeoutUs: number;

  capacity = 0;
  size = 0;
  /** Whether the packet last passed to update() was sent by its flow's client. */
  lastPacketFromClient = false;
  /** During a final event: why the sensor ended the flow (EndReason), else NONE. */
  ending: EndReason = EndReason.NONE;
  /** Consulted for flows without a handshake whose ports tell nothing (the sensor sets it). */
  serverHint: ServerHint | null = null;
  private flushReason: EndReason = EndReason.CAPTURE_END;
  private nextUid = 1;

  // Key.
  ipVersion!: Uint8Array;
  protocol!: Uint8Array;
  vlan!: Uint16Array;
  addrA!: Uint32Array; // 4 words per slot
  addrB!: Uint32Array;
  portA!: Uint16Array;
  portB!: Uint16Array;
  private hash!: Uint32Array;
  private chain!: Int32Array;
  private buckets!: Int32Array;
  private bucketMask = 0;

  // State and counters. Direction "A→B" is from endpoint A to endpoint B.
  state!: Uint8Array;
  tcpFlagsA!: Uint8Array; // OR of flags sent by A
  tcpFlagsB!: Uint8Array;
  packetsAB!: Float64Array;
  packetsBA!: Float64Array;
  bytesAB!: Float64Array;
  bytesBA!: Float64Array;
  /** Counters at the flow's previous event, so events carry only what is new. */
  reportedPacketsAB!: Float64Array;
  reportedPacketsBA!: Float64Array;
  reportedBytesAB!: Float64Array;
  reportedBytesBA!: Float64Array;
  firstSeenUs!: Float64Array;
  lastSeenUs!: Float64Array;
  lastEventUs!: Float64Array;
  /** Source MAC of A's and B's packets as a 48-bit integer, -1 unknown. */
  macA!: Float64Array;
  macB!: Float64Array;
  /** Sequential flow id, unique within this table's lifetime. */
  uid!: Float64Array;
  private list!: Uint8Array;
  private prev!: Int32Array;
  private next!: Int32Array;
  // Fragment cache: first fragment (addresses, protocol, id) → flow slot and that flow's uid.
  private readonly fragSlot = new Int32Array(FRAGMENT_CACHE_ENTRIES).fill(NONE);
  private readonly fragUid = new Float64Array(FRAGMENT_CACHE_ENTRIES);
  private readonly fragId = new Uint32Array(FRAGMENT_CACHE_ENTRIES);
  private readonly fragSrc = new Uint32Array(FRAGMENT_CACHE_ENTRIES);
  private readonly fragDst = new Uint32Array(FRAGMENT_CACHE_ENTRIES);
  private readonly fragProto = new Uint8Array(FRAGMENT_CACHE_ENTRIES);
  // Known servers (see KNOWN_SERVER_ENTRIES): address words and port, -1 = empty.
  private readonly srvAddr = new Uint32Array(KNOWN_SERVER_ENTRIES * 4);
  private readonly srvPort = new Int32Array(KNOWN_SERVER_ENTRIES).fill(-1);
  private readonly listHead = new Int32Array(LIST_COUNT).fill(NONE);
  private readonly listTail = new Int32Array(LIST_COUNT).fill(NONE);
  private freeHead = NONE;

  constructor(settings: FlowSettings, counters: FlowCounters, onEvent: FlowEventCallback | null) {
    this.settings = settings;
    this.counters = counters;
    this.onEvent = onEvent;
    const t = settings.flowIdleTimeoutMs;
    this.idleTimeoutUs = new Float64Array([t.tcp * 1000, t.udp * 1000, t.icmp * 1000, t.other * 1000, settings.tcpClosedTimeoutMs * 1000]);
    this.activeTimeoutUs = settings.flowActiveTimeoutMs * 1000;
    this.allocate(Math.min(INITIAL_CAPACITY, nextPow2(settings.maxFlows)));
  }

  /**
   * Bytes each slot costs in the per-slot typed arrays plus its bucket (used by the memory
   * benchmark): 1+1+2 (version, protocol, VLAN), 16+16 (addresses), 2+2 (ports), 4+4 (hash,
   * chain), 4 (bucket), 1+1+1 (state, TCP flags), 8×14 (counters, times, MACs, uid), 1+4+4 (LRU).
   */
  static readonly BYTES_PER_SLOT = 1 + 1 + 2 + 16 + 16 + 2 + 2 + 4 + 4 + 4 + 1 + 1 + 1 + 8 * 14 + 1 + 4 + 4;

  private allocate(capacity: number): void {
    const old = this.capacity > 0 ? this.snapshotArrays() : null;
    const oldCap = this.capacity;
    this.capacity = capacity;
    this.ipVersion = grow(old?.ipVersion, new Uint8Array(capacity));
    this.protocol = grow(old?.protocol, new Uint8Array(capacity));
    this.vlan = grow(old?.vlan, new Uint16Array(capacity));
    this.addrA = grow(old?.addrA, new Uint32Array(capacity * 4));
    this.addrB = grow(old?.addrB, new Uint32Array(capacity * 4));
    this.portA = grow(old?.portA, new Uint16Array(capacity));
    this.portB = grow(old?.portB, new Uint16Array(capacity));
    this.hash = grow(old?.hash, new Uint32Array(capacity));
    this.chain = grow(old?.chain, new Int32Array(capacity));
    this.state = grow(old?.state, new Uint8Array(capacity));
    this.tcpFlagsA = grow(old?.tcpFlagsA, new Uint8Array(capacity));
    this.tcpFlagsB = grow(old?.tcpFlagsB, new Uint8Array(capacity));
    this.packetsAB = grow(old?.packetsAB, new Float64Array(capacity));
    this.packetsBA = grow(old?.packetsBA, new Float64Array(capacity));
    this.bytesAB = grow(old?.bytesAB, new Float64Array(capacity));
    this.bytesBA = grow(old?.bytesBA, new Float64Array(capacity));
    this.reportedPacketsAB = grow(old?.reportedPacketsAB, new Float64Array(capacity));
    this.reportedPacketsBA = grow(old?.reportedPacketsBA, new Float64Array(capacity));
    this.reportedBytesAB = grow(old?.reportedBytesAB, new Float64Array(capacity));
    this.reportedBytesBA = grow(old?.reportedBytesBA, new Float64Array(capacity));
    this.firstSeenUs = grow(old?.firstSeenUs, new Float64Array(capacity));
    this.lastSeenUs = grow(old?.lastSeenUs, new Float64Array(capacity));
    this.lastEventUs = grow(old?.lastEventUs, new Float64Array(capacity));
    this.macA = grow(old?.macA, new Float64Array(capacity));
    this.macB = grow(old?.macB, new Float64Array(capacity));
    this.uid = grow(old?.uid, new Float64Array(capacity));
    this.list = grow(old?.list, new Uint8Array(capacity));
    this.prev = grow(old?.prev, new Int32Array(capacity));
    this.next = grow(old?.next, new Int32Array(capacity));
    // New slots join the free list (lowest first); old ones keep their links.
    for (let s = capacity - 1; s >= oldCap; s--) {
      this.chain[s] = this.freeHead;
      this.freeHead = s;
    }
    // Rehash into buckets sized to the capacity (load factor <= 1).
    const nb = nextPow2(capacity);
    this.buckets = new Int32Array(nb).fill(NONE);
    this.bucketMask = nb - 1;
    if (old) {
      for (let l = 0; l < LIST_COUNT; l++) {
        for (let s = this.listHead[l]!; s !== NONE; s = this.next[s]!) {
          const b = this.hash[s]! & this.bucketMask;
          this.chain[s] = this.buckets[b]!;
          this.buckets[b] = s;
        }
      }
    }
  }

  private snapshotArrays() {
    return {
      ipVersion: this.ipVersion, protocol: this.protocol, vlan: this.vlan, addrA: this.addrA, addrB: this.addrB,
      portA: this.portA, portB: this.portB, hash: this.hash, chain: this.chain, state: this.state,
      tcpFlagsA: this.tcpFlagsA, tcpFlagsB: this.tcpFlagsB, packetsAB: this.packetsAB, packetsBA: this.packetsBA,
      bytesAB: this.bytesAB, bytesBA: this.bytesBA, reportedPacketsAB: this.reportedPacketsAB,
      reportedPacketsBA: this.reportedPacketsBA, reportedBytesAB: this.reportedBytesAB,
      reportedBytesBA: this.reportedBytesBA, firstSeenUs: this.firstSeenUs, lastSeenUs: this.lastSeenUs,
      lastEventUs: this.lastEventUs, macA: this.macA, macB: this.macB, uid: this.uid, list: this.list,
      prev: this.prev, next: this.next,
    };
  }

  /**
   * Accounts one decoded packet (status OK) to its flow, creating the flow when needed.
   * Returns the flow's slot, or -1 for a later fragment whose flow is unknown.
   */
  update(p: DecodedPacket, buf: Buffer, wireLen: number, tsUs: number): number {
    if (p.fragment === Fragment.LATER) return this.laterFragment(p, wireLen, tsUs);
    // Canonical order: A is the lower (address words, port) pair.
    let aIsSrc: boolean;
    if (p.src0 !== p.dst0) aIsSrc = p.src0 < p.dst0;
    else if (p.src1 !== p.dst1) aIsSrc = p.src1 < p.dst1;
    else if (p.src2 !== p.dst2) aIsSrc = p.src2 < p.dst2;
    else if (p.src3 !== p.dst3) aIsSrc = p.src3 < p.dst3;
    else aIsSrc = p.srcPort <= p.dstPort;

    let a0, a1, a2, a3, b0, b1, b2, b3, pa, pb;
    if (aIsSrc) {
      a0 = p.src0; a1 = p.src1; a2 = p.src2; a3 = p.src3; b0 = p.dst0; b1 = p.dst1; b2 = p.dst2; b3 = p.dst3;
      pa = p.srcPort; pb = p.dstPort;
    } else {
      a0 = p.dst0; a1 = p.dst1; a2 = p.dst2; a3 = p.dst3; b0 = p.src0; b1 = p.src1; b2 = p.src2; b3 = p.src3;
      pa = p.dstPort; pb = p.srcPort;
    }
    const proto = p.protocol;
    const vlan = p.vlanId;
    const ver = p.ipVersion;

    let slot: number;
    let h = Math.imul(a3 ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ b3, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ ((pa << 16) | pb), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ ((proto << 16) | vlan | (ver << 28)), 0xc2b2ae35);
    if (ver === 6) {
      h = Math.imul(h ^ a0 ^ (b0 << 1), 0x85ebca6b);
      h = Math.imul(h ^ a1 ^ (b1 << 1), 0xc2b2ae35);
      h = Math.imul(h ^ a2 ^ (b2 << 1), 0x85ebca6b);
    }
    h = (h ^ (h >>> 16)) >>> 0;

    slot = this.buckets[h & this.bucketMask]!;
    const addrA = this.addrA, addrB = this.addrB;
    while (slot !== NONE) {
      if (this.hash[slot] === h && this.portA[slot] === pa && this.portB[slot] === pb
        && this.protocol[slot] === proto && this.vlan[slot] === vlan && this.ipVersion[slot] === ver) {
        const k = slot << 2;
        if (addrA[k + 3] === a3 && addrB[k + 3] === b3 && addrA[k] === a0 && addrB[k] === b0
          && addrA[k + 1] === a1 && addrB[k + 1] === b1 && addrA[k + 2] === a2 && addrB[k + 2] === b2) break;
      }
      slot = this.chain[slot]!;
    }

    const fromA = aIsSrc;
    if (slot === NONE) {
      slot = this.create(h, ver, proto, vlan, a0, a1, a2, a3, b0, b1, b2, b3, pa, pb, tsUs);
      this.state[slot] = this.initialClient(p, aIsSrc, slot);
      if (this.settings.emitOpenEvents && this.onEvent !== null) {
        this.onEvent(this, slot, FlowActivity.OPEN, tsUs, false);
      }
    } else if (tsUs >= this.lastSeenUs[slot]!) {
      // Lists stay ordered by last-seen time only if a packet older than the flow's latest
      // (time going backwards in merged captures) does not move it to the tail.
      this.touch(slot);
    }

    if (fromA) {
      this.packetsAB[slot] = this.packetsAB[slot]! + 1;
      this.bytesAB[slot] = this.bytesAB[slot]! + wireLen;
      if (this.macA[slot] === -1 && p.srcMacOffset >= 0) this.macA[slot] = readMac(buf, p.srcMacOffset);
    } else {
      this.packetsBA[slot] = this.packetsBA[slot]! + 1;
      this.bytesBA[slot] = this.bytesBA[slot]! + wireLen;
      if (this.macB[slot] === -1 && p.srcMacOffset >= 0) this.macB[slot] = readMac(buf, p.srcMacOffset);
    }
    if (tsUs > this.lastSeenUs[slot]!) this.lastSeenUs[slot] = tsUs;

    if (proto === IPPROTO_TCP) this.tcp(slot, p.tcpFlags, fromA);
    this.lastPacketFromClient = fromA === ((this.state[slot]! & ST_CLIENT_IS_A) !== 0);
    if (p.fragment === Fragment.FIRST) this.rememberFragment(p, slot);

    if (tsUs - this.lastEventUs[slot]! >= this.activeTimeoutUs && this.onEvent !== null) {
      // Long-lived flow: report what it has done so far (OCSF "Traffic"), then keep counting.
      this.counters.activeTimeoutEvents++;
      this.onEvent(this, slot, FlowActivity.TRAFFIC, tsUs, false);
      this.markReported(slot, tsUs);
    }
    return slot;
  }

  /**
   * Later fragments carry no transport header. They belong to the flow of the first fragment
   * with the same addresses, protocol and identification (RFC 791 §3.2, RFC 8200 §4.5), which
   * a small direct-mapped cache remembers; a fragment whose first part was not seen (or was
   * overwritten in the cache) is counted as an orphan and not attributed.
   */
  private laterFragment(p: DecodedPacket, wireLen: number, tsUs: number): number {
    const i = fragmentIndex(p);
    const slot = this.fragSlot[i]!;
    if (slot === NONE || this.uid[slot] === 0 || this.fragId[i] !== p.fragmentId || this.fragSrc[i] !== foldSrc(p) || this.fragDst[i] !== foldDst(p)
      || this.fragProto[i] !== p.protocol || this.uid[slot] !== this.fragUid[i] || this.protocol[slot] !== p.protocol) {
      this.counters.orphanFragments++;
      return NONE;
    }
    const k = slot << 2;
    const fromA = this.addrA[k + 3] === p.src3 && this.addrA[k + 2] === p.src2 && this.addrA[k + 1] === p.src1 && this.addrA[k] === p.src0;
    if (fromA) {
      this.packetsAB[slot] = this.packetsAB[slot]! + 1;
      this.bytesAB[slot] = this.bytesAB[slot]! + wireLen;
    } else {
      this.packetsBA[slot] = this.packetsBA[slot]! + 1;
      this.bytesBA[slot] = this.bytesBA[slot]! + wireLen;
    }
    if (tsUs >= this.lastSeenUs[slot]!) {
      this.lastSeenUs[slot] = tsUs;
      this.touch(slot);
    }
    return slot;
  }

  private rememberFragment(p: DecodedPacket, slot: number): void {
    const i = fragmentIndex(p);
    this.fragSlot[i] = slot;
    this.fragUid[i] = this.uid[slot]!;
    this.fragId[i] = p.fragmentId;
    this.fragSrc[i] = foldSrc(p);
    this.fragDst[i] = foldDst(p);
    this.fragProto[i] = p.protocol;
  }

  /**
   * Who is the client, decided once when the flow is created: the sender of a SYN, the receiver
   * of a SYN-ACK (is_src_dst_assignment_known). Without a handshake (connections already open
   * when the sensor started, a capture cut mid-stream, UDP), in this order: an endpoint seen
   * before as a server (known-server table), the ports (portSaysServer), an address a DNS answer
   * gave (serverHint), and last the first sender. A TLS ClientHello or HTTP request seen later
   * from the side taken as server corrects the guess (reverseClient).
   */
  private initialClient(p: DecodedPacket, aIsSrc: boolean, slot: number): number {
    let srcIsClient = true;
    let by = ClientBy.FIRST_SENDER;
    const proto = p.protocol;
    if (proto === IPPROTO_TCP && (p.tcpFlags & TCP_SYN) !== 0) {
      srcIsClient = (p.tcpFlags & TCP_ACK) === 0;
      by = ClientBy.SYN;
    } else if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
      const srcServes = this.isKnownServer(p.src0, p.src1, p.src2, p.src3, p.srcPort);
      const dstServes = this.isKnownServer(p.dst0, p.dst1, p.dst2, p.dst3, p.dstPort);
      const ports = portSaysServer(p.srcPort, p.dstPort, proto === IPPROTO_UDP);
      if (srcServes !== dstServes) {
        srcIsClient = dstServes;
        by = ClientBy.SERVER_TABLE;
      } else if (ports !== 0) {
        srcIsClient = ports < 0;
        by = ClientBy.PORT;
      } else if (this.serverHint !== null) {
        const hint = this.serverHint(this, slot);
        if (hint !== 0) {
          // hint 1: A is the server, so the source is the client when it is B.
          srcIsClient = (hint === 1) !== aIsSrc;
          by = ClientBy.DNS;
        }
      }
    }
    const c = this.counters;
    switch (by) {
      case ClientBy.SERVER_TABLE: c.clientByServerTable++; break;
      case ClientBy.PORT: c.clientByPort++; break;
      case ClientBy.DNS: c.clientByDns++; break;
      case ClientBy.FIRST_SENDER: c.clientByFirstSender++; break;
      default: break;
    }
    return (srcIsClient === aIsSrc ? ST_CLIENT_IS_A : 0) | (by === ClientBy.SYN ? ST_CLIENT_BY_SYN : 0);
  }

  private isKnownServer(w0: number, w1: number, w2: number, w3: number, port: number): boolean {
    const i = knownServerIndex(w0, w1, w2, w3, port);
    const k = i << 2;
    const a = this.srvAddr;
    return this.srvPort[i] === port && a[k + 3] === w3 && a[k] === w0 && a[k + 1] === w1 && a[k + 2] === w2;
  }

  private rememberServer(w0: number, w1: number, w2: number, w3: number, port: number): void {
    const i = knownServerIndex(w0, w1, w2, w3, port);
    const k = i << 2;
    const a = this.srvAddr;
    const old = this.srvPort[i]!;
    if (old === port && a[k + 3] === w3 && a[k] === w0 && a[k + 1] === w1 && a[k + 2] === w2) return;
    if (old !== -1) this.counters.serverTableEvictions++;
    a[k] = w0; a[k + 1] = w1; a[k + 2] = w2; a[k + 3] = w3;
    this.srvPort[i] = port;
  }

  /** Remembers the flow's server side (A or B) as a known server. */
  private rememberServerOf(slot: number, serverIsA: boolean): void {
    const k = slot << 2;
    const w = serverIsA ? this.addrA : this.addrB;
    this.rememberServer(w[k]!, w[k + 1]!, w[k + 2]!, w[k + 3]!, serverIsA ? this.portA[slot]! : this.portB[slot]!);
  }

  /**
   * An application message proved that the flow's client is the side taken as server (a TLS
   * ClientHello or HTTP request sent by it; RFC 8446 §4.1.2, RFC 9110 §3.3). Only a guess is
   * corrected: a client decided by the handshake stays. Returns whether the flow was reversed;
   * the packet last passed to update() then counts as the client's.
   */
  reverseClient(slot: number): boolean {
    const st = this.state[slot]!;
    if ((st & (ST_CLIENT_BY_SYN | ST_CLIENT_BY_PAYLOAD)) !== 0) return false;
    this.state[slot] = (st ^ ST_CLIENT_IS_A) | ST_CLIENT_BY_PAYLOAD;
    this.lastPacketFromClient = !this.lastPacketFromClient;
    this.counters.clientByPayload++;
    this.rememberServerOf(slot, (st & ST_CLIENT_IS_A) !== 0);
    return true;
  }

  private tcp(slot: number, flags: number, fromA: boolean): void {
    let st = this.state[slot]!;
    if (fromA) this.tcpFlagsA[slot]! |= flags;
    else this.tcpFlagsB[slot]! |= flags;
    if ((st & ST_CLIENT_BY_SYN) === 0 && (flags & TCP_SYN) !== 0 && this.packetsAB[slot]! + this.packetsBA[slot]! <= 2) {
      // The SYN arrived right after a first packet seen out of order: it decides.
      const senderIsClient = (flags & TCP_ACK) === 0;
      st = (st & ~ST_CLIENT_IS_A) | ((senderIsClient === fromA) ? ST_CLIENT_IS_A : 0) | ST_CLIENT_BY_SYN;
    }
    // The sender of a SYN-ACK serves on that port (RFC 9293 §3.5): remembered for flows with the
    // same endpoint whose handshake will not be seen.
    if ((flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) this.rememberServerOf(slot, fromA);
    if (flags & TCP_RST) st |= ST_RST | ST_CLOSED;
    if (flags & TCP_FIN) st |= fromA ? ST_FIN_A : ST_FIN_B;
    if ((st & (ST_FIN_A | ST_FIN_B)) === (ST_FIN_A | ST_FIN_B)) st |= ST_CLOSED;
    if ((st & ST_CLOSED) !== 0 && this.list[slot] !== LIST_CLOSED) {
      this.unlink(slot);
      this.append(slot, LIST_CLOSED);
    }
    this.state[slot] = st;
  }

  private create(h: number, ver: number, proto: number, vlan: number,
    a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number,
    pa: number, pb: number, tsUs: number): number {
    if (this.size >= this.settings.maxFlows) this.evictOldest();
    if (this.freeHead === NONE) {
      this.counters.tableGrowths++;
      this.allocate(Math.min(this.capacity * 2, this.settings.maxFlows));
    }
    const slot = this.freeHead;
    this.freeHead = this.chain[slot]!;
    this.size++;
    this.counters.created++;
    this.ipVersion[slot] = ver;
    this.protocol[slot] = proto;
    this.vlan[slot] = vlan;
    const k = slot << 2;
    this.addrA[k] = a0; this.addrA[k + 1] = a1; this.addrA[k + 2] = a2; this.addrA[k + 3] = a3;
    this.addrB[k] = b0; this.addrB[k + 1] = b1; this.addrB[k + 2] = b2; this.addrB[k + 3] = b3;
    this.portA[slot] = pa;
    this.portB[slot] = pb;
    this.hash[slot] = h;
    const b = h & this.bucketMask;
    this.chain[slot] = this.buckets[b]!;
    this.buckets[b] = slot;
    this.tcpFlagsA[slot] = 0;
    this.tcpFlagsB[slot] = 0;
    this.packetsAB[slot] = 0; this.packetsBA[slot] = 0; this.bytesAB[slot] = 0; this.bytesBA[slot] = 0;
    this.reportedPacketsAB[slot] = 0; this.reportedPacketsBA[slot] = 0;
    this.reportedBytesAB[slot] = 0; this.reportedBytesBA[slot] = 0;
    this.firstSeenUs[slot] = tsUs;
    this.lastSeenUs[slot] = tsUs;
    this.lastEventUs[slot] = tsUs;
    this.macA[slot] = -1;
    this.macB[slot] = -1;
    this.uid[slot] = this.nextUid++;
    this.append(slot, listFor(proto));
    return slot;
  }

  private touch(slot: number): void {
    const l = this.list[slot]!;
    if (this.listTail[l] === slot) return;
    this.unlink(slot);
    this.append(slot, l);
  }

  private append(slot: number, l: number): void {
    const tail = this.listTail[l]!;
    this.list[slot] = l;
    this.prev[slot] = tail;
    this.next[slot] = NONE;
    if (tail === NONE) this.listHead[l] = slot;
    else this.next[tail] = slot;
    this.listTail[l] = slot;
  }

  private unlink(slot: number): void {
    const l = this.list[slot]!;
    const pv = this.prev[slot]!, nx = this.next[slot]!;
    if (pv === NONE) this.listHead[l] = nx; else this.next[pv] = nx;
    if (nx === NONE) this.listTail[l] = pv; else this.prev[nx] = pv;
  }

  private removeFromBucket(slot: number): void {
    const b = this.hash[slot]! & this.bucketMask;
    let s = this.buckets[b]!;
    if (s === slot) { this.buckets[b] = this.chain[slot]!; return; }
    while (s !== NONE) {
      const n = this.chain[s]!;
      if (n === slot) { this.chain[s] = this.chain[slot]!; return; }
      s = n;
    }
  }

  /**
   * Ends a flow with its final event: Reset after an RST, otherwise Close, also for a flow the
   * sensor ended while it was open (capture end, shutdown, table full; `ending` says which), so
   * that every flow ends with one event that consumers count as its end. The event's time is the
   * flow's last packet: the end the sensor observed, never later than end_time.
   */
  private evict(slot: number, reason: EvictReason): void {
    if (this.onEvent !== null) {
      const st = this.state[slot]!;
      const activity = (st & ST_RST) !== 0 ? FlowActivity.RESET : FlowActivity.CLOSE;
      this.ending = (st & ST_CLOSED) !== 0 ? EndReason.NONE
        : reason === EvictReason.FLUSH ? this.flushReason
        : reason === EvictReason.TABLE_FULL ? EndReason.TABLE_FULL : EndReason.NONE;
      this.onEvent(this, slot, activity, this.lastSeenUs[slot]!, true);
      this.ending = EndReason.NONE;
    }
    switch (reason) {
      case EvictReason.IDLE: this.counters.evictedIdle++; break;
      case EvictReason.TCP_CLOSED: this.counters.evictedTcpClosed++; break;
      case EvictReason.TABLE_FULL: this.counters.evictedTableFull++; break;
      case EvictReason.FLUSH: this.counters.flushed++; break;
    }
    this.unlink(slot);
    this.removeFromBucket(slot);
    // uid 0 marks a free slot, so stale references (the fragment cache) cannot reach it.
    this.uid[slot] = 0;
    this.chain[slot] = this.freeHead;
    this.freeHead = slot;
    this.size--;
  }

  private evictOldest(): void {
    let oldest = NONE;
    for (let l = 0; l < LIST_COUNT; l++) {
      const h = this.listHead[l]!;
      if (h !== NONE && (oldest === NONE || this.lastSeenUs[h]! < this.lastSeenUs[oldest]!)) oldest = h;
    }
    if (oldest !== NONE) this.evict(oldest, EvictReason.TABLE_FULL);
  }

  /** Evicts every flow idle for longer than its class's timeout at time `nowUs`. */
  expire(nowUs: number): void {
    for (let l = 0; l < LIST_COUNT; l++) {
      const timeout = this.idleTimeoutUs[l]!;
      const reason = l === LIST_CLOSED ? EvictReason.TCP_CLOSED : EvictReason.IDLE;
      for (let s = this.listHead[l]!; s !== NONE; s = this.listHead[l]!) {
        if (nowUs - this.lastSeenUs[s]! <= timeout) break;
        this.evict(s, reason);
      }
    }
  }

  /**
   * Ends every flow (end of a capture file, shutdown), oldest first. Each final event carries
   * its flow's last packet time, not `nowUs` (kept for callers that know the clock).
   */
  flush(nowUs: number, reason: EndReason.CAPTURE_END | EndReason.SHUTDOWN = EndReason.CAPTURE_END): void {
    void nowUs;
    this.flushReason = reason;
    for (;;) {
      let oldest = NONE;
      for (let l = 0; l < LIST_COUNT; l++) {
        const h = this.listHead[l]!;
        if (h !== NONE && (oldest === NONE || this.lastSeenUs[h]! < this.lastSeenUs[oldest]!)) oldest = h;
      }
      if (oldest === NONE) return;
      this.evict(oldest, EvictReason.FLUSH);
    }
  }

  /** Records that an event carried the flow's counters up to now. */
  markReported(slot: number, tsUs: number): void {
    this.reportedPacketsAB[slot] = this.packetsAB[slot]!;
    this.reportedPacketsBA[slot] = this.packetsBA[slot]!;
    this.reportedBytesAB[slot] = this.bytesAB[slot]!;
    this.reportedBytesBA[slot] = this.bytesBA[slot]!;
    this.lastEventUs[slot] = tsUs;
  }

  clientIsA(slot: number): boolean {
    return (this.state[slot]! & ST_CLIENT_IS_A) !== 0;
  }

  /** The client was decided by a SYN or SYN-ACK, not guessed (is_src_dst_assignment_known). */
  clientKnown(slot: number): boolean {
    return (this.state[slot]! & ST_CLIENT_BY_SYN) !== 0;
  }

  isClosed(slot: number): boolean {
    return (this.state[slot]! & ST_CLOSED) !== 0;
  }

  /** Visits every live flow (API listings, tests); not for the packet path. */
  forEach(fn: (slot: number) => void): void {
    for (let l = 0; l < LIST_COUNT; l++) {
      for (let s = this.listHead[l]!; s !== NONE; s = this.next[s]!) fn(s);
    }
  }
}

function grow<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(old: T | undefined, fresh: T): T {
  if (old !== undefined) fresh.set(old as never);
  return fresh;
}

function listFor(proto: number): number {
  if (proto === IPPROTO_TCP) return LIST_TCP;
  if (proto === IPPROTO_UDP || proto === IPPROTO_UDPLITE) return LIST_UDP;
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return LIST_ICMP;
  return LIST_OTHER;
}

function readMac(buf: Buffer, o: number): number {
  return ((buf[o]! << 8) | buf[o + 1]!) * 4294967296 + (((buf[o + 2]! << 24) | (buf[o + 3]! << 16) | (buf[o + 4]! << 8) | buf[o + 5]!) >>> 0);
}
