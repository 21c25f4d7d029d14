/**
 * Live capture through the `pcap` npm package (node_pcap 3.1.0, pinned in package.json).
 *
 * We drive its native binding (pcap/build/Release/pcap_binding, the `PcapSession` class that
 * pcap.js itself wraps) instead of pcap.js's PcapSession because the JS wrapper allocates a
 * PacketWithHeader object and emits an event per packet, logs libpcap warnings with console.warn,
 * and gives no control over the close sequence. The binding is the same one pcap.js uses; only
 * its documented-in-source call signatures are relied on (see node_modules/pcap/pcap_session.cc):
 *
 *   open_live(device, filter, bufferSize, snaplen, outfile, onPacket, monitor, timeoutMs, onWarning, promisc)
 *     -> link type name ("LINKTYPE_ETHERNET", ... or "Unknown linktype N"); throws Error(libpcap message)
 *   dispatch(packetBuf, headerBuf) -> drains the ring; calls onPacket() (no arguments) after copying
 *     the packet into packetBuf (cut to packetBuf.length) and the header into headerBuf as four
 *     host-order 32-bit words: tv_sec, tv_usec, caplen, len (memcpy of 4 bytes each from
 *     struct pcap_pkthdr; tv_sec/tv_usec are truncated to their low 32 bits, fine until 2106).
 *     Returns -2 once pcap_breakloop was requested, after calling pcap_close.
 *   start_polling() -> libuv poll on the pcap fd, calling this.read_callback when readable.
 *   close() -> only pcap_breakloop(); the real pcap_close happens in the next dispatch (-2).
 *   stats() -> {ps_recv, ps_drop, ps_ifdrop}; throws after pcap_close.
 *
 * Known limitation of that binding (documented in README.md): the handle is set non-blocking, and
 * libpcap 1.10 only notices pcap_breakloop while walking received packets, so after stop() the
 * socket and its ref'ed libuv poll handle are released only when the next packet arrives on that
 * interface. On an idle interface they stay until then (the process still exits via process.exit).
 */
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import type { PacketCallback } from './types.js';
import { LinkType } from './types.js';
import { OutpostError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The subset of the native PcapSession we use (pcap_session.cc). */
interface NativeSession {
  open_live(
    device: string,
    filter: string,
    bufferSize: number,
    snaplen: number,
    outfile: string,
    onPacket: () => void,
    monitor: boolean,
    bufferTimeoutMs: number,
    onWarning: (msg: string) => void,
    promiscuous: boolean,
  ): string;
  dispatch(packet: Buffer, header: Buffer): number;
  start_polling(): void;
  close(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
  /** pcap_inject(); throws when libpcap refuses the frame. */
  inject(data: Buffer): void;
  read_callback?: () => void;
}

interface NativeBinding {
  PcapSession: new () => NativeSession;
}

interface PcapModule {
  findalldevs(): Array<{
    name: string;
    description?: string;
    addresses?: Array<{ addr?: string; netmask?: string; broadaddr?: string } | null>;
    flags?: string;
  }>;
  lib_version: string;
}

let pcapModule: PcapModule | null = null;
let bindingModule: NativeBinding | null = null;

/** Loaded lazily so that file replay works on hosts where the native addon failed to build. */
function loadPcap(): { pcap: PcapModule; binding: NativeBinding } {
  if (pcapModule === null || bindingModule === null) {
    pcapModule = require('pcap') as PcapModule;
    bindingModule = require('pcap/build/Release/pcap_binding') as NativeBinding;
  }
  return { pcap: pcapModule, binding: bindingModule };
}

export type LiveCaptureErrorCode = 'CAPTURE_INTERFACE_OPEN_FAILED' | 'CAPTURE_LIBPCAP_UNAVAILABLE' | 'CAPTURE_ALREADY_STARTED';

export class LiveCaptureError extends OutpostError {
  declare readonly code: LiveCaptureErrorCode;
  /** Interface concerned, if any. */
  readonly interfaceName: string | undefined;

  constructor(code: LiveCaptureErrorCode, message: string, interfaceName?: string, cause?: unknown) {
    super(code, { interface: interfaceName, reason: message }, { message, ...(cause === undefined ? {} : { cause }) });
    this.interfaceName = interfaceName;
  }
}

export interface LiveCaptureOptions {
  /** Interface names as libpcap knows them (see LiveCapture.listInterfaces()). */
  interfaces: string[];
  /** BPF filter expression ('' for none), applied in the kernel on every interface. */
  bpfFilter: string;
  snaplenBytes: number;
  promiscuous: boolean;
  /** Kernel ring size per interface (pcap_set_buffer_size). */
  bufferSizeBytes: number;
  /** pcap_set_timeout; <= 0 selects immediate mode (each packet wakes us up). */
  bufferTimeoutMs: number;
}

export interface LiveInterfaceStats {
  interface: string;
  ifIndex: number;
  /** ps_recv: packets received by the kernel for this socket (semantics vary by platform). */
  packetsReceived: number;
  /** ps_drop: dropped because the ring was full (we were too slow). */
  kernelDrops: number;
  /** ps_ifdrop: dropped by the interface/driver (0 may also mean "not supported"). */
  interfaceDrops: number;
  /** Packets handed to the PacketCallback. */
  packetsDelivered: number;
}

export interface LiveInterfaceInfo {
  name: string;
  description: string | null;
  addresses: string[];
  loopback: boolean;
}

/** Counters across all interfaces; `snapshot()` gives stable dotted names. */
export class LiveCaptureCounters {
  packets = 0;
  bytes = 0;
  /** Packets whose caplen exceeded our copy buffer (cannot happen with snaplen <= buffer). */
  truncatedCopies = 0;
  /** Exceptions thrown by the PacketCallback (caught so they do not abort inside libpcap). */
  callbackErrors = 0;
  /** libpcap warnings at open (e.g. no IPv4 address on the interface for pcap_lookupnet). */
  openWarnings = 0;

  snapshot(): Record<string, number> {
    return {
      'capture.live_packets': this.packets,
      'capture.live_bytes': this.bytes,
      'capture.live_truncated_copies': this.truncatedCopies,
      'capture.live_callback_errors': this.callbackErrors,
      'capture.live_open_warnings': this.openWarnings,
    };
  }
}

/** Maps the binding's link type names back to LINKTYPE_ numbers (pcap_session.cc's switch). */
function linkTypeNumber(name: string): number {
  switch (name) {
    case 'LINKTYPE_NULL':
      return LinkType.NULL;
    case 'LINKTYPE_ETHERNET':
      return LinkType.ETHERNET;
    case 'LINKTYPE_IEEE802_11_RADIO':
      return 127;
    case 'LINKTYPE_RAW':
      // The binding reports DLT_RAW (12 on Linux) under this name; LINKTYPE_RAW is 101.
      return LinkType.RAW;
    case 'LINKTYPE_LINUX_SLL':
      return LinkType.LINUX_SLL;
    default: {
      // "Unknown linktype N": N is the DLT_ value, equal to the LINKTYPE_ value for all the
      // types we decode (SLL2 276, IPV4 228, IPV6 229, LOOP 108 on Linux).
      const m = /(-?\d+)\s*$/.exec(name);
      return m?.[1] !== undefined ? Number(m[1]) : -1;
    }
  }
}

const HOST_LE = endianness() === 'LE';

/** The binding checks IsInt32() on numeric arguments. */
function clampInt32(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.max(-0x80000000, Math.min(0x7fffffff, Math.floor(v)));
}

/** One opened interface. */
class Tap {
  readonly session: NativeSession;
  readonly packetBuf: Buffer;
  readonly header = Buffer.alloc(16);
  linkType = -1;
  delivered = 0;
  /** dispatch() returned -2: libpcap handle closed by the binding; never call it again. */
  finalized = false;
  /** close() (pcap_breakloop) requested. */
  closing = false;
  lastStats: { ps_recv: number; ps_drop: number; ps_ifdrop: number } = { ps_recv: 0, ps_drop: 0, ps_ifdrop: 0 };

  constructor(
    readonly name: string,
    readonly ifIndex: number,
    binding: NativeBinding,
    snaplen: number,
  ) {
    this.session = new binding.PcapSession();
    // The binding copies each packet into this buffer (cut to its length), so it must hold a
    // full snaplen; reused for every packet.
    this.packetBuf = Buffer.alloc(snaplen);
  }

  readStats(): void {
    if (this.finalized) return;
    try {
      const s = this.session.stats();
      // pcap_stat fields are u_int; keep them unsigned.
      this.lastStats = { ps_recv: s.ps_recv >>> 0, ps_drop: s.ps_drop >>> 0, ps_ifdrop: s.ps_ifdrop >>> 0 };
    } catch {
      /* closed in the meantime: keep the last values */
    }
  }
}

export class LiveCapture {
  private readonly taps: Tap[] = [];
  /** The interface whose packets are being delivered right now (during onPacket), else null. */
  private dispatching: Tap | null = null;
  private running = false;
  private started = false;
  private abortListener: (() => void) | null = null;
  private signal: AbortSignal | null = null;

  constructor(
    private readonly options: LiveCaptureOptions,
    private readonly onPacket: PacketCallback,
    readonly counters: LiveCaptureCounters = new LiveCaptureCounters(),
    /** Receives exceptions thrown by onPacket; by default they are re-thrown on the next tick. */
    private readonly onError?: (err: unknown) => void,
  ) {}

  /** libpcap's interface list (pcap_findalldevs). */
  static listInterfaces(): LiveInterfaceInfo[] {
    let pcap: PcapModule;
    try {
      pcap = loadPcap().pcap;
    } catch (err) {
      throw new LiveCaptureError('CAPTURE_LIBPCAP_UNAVAILABLE', `pcap native module unavailable: ${(err as Error).message}`, undefined, err);
    }
    return pcap.findalldevs().map((d) => ({
      name: d.name,
      description: d.description ?? null,
      addresses: (d.addresses ?? []).flatMap((a) => (a?.addr !== undefined ? [a.addr] : [])),
      loopback: (d.flags ?? '').includes('PCAP_IF_LOOPBACK'),
    }));
  }

  /** The interfaces this capture opens (the resolved list when the configuration said [auto]). */
  get interfaces(): readonly string[] {
    return this.options.interfaces;
  }

  /** Link types of the opened interfaces, in options.interfaces order (after start()). */
  get linkTypes(): number[] {
    return this.taps.map((t) => t.linkType);
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * True once libpcap has really closed every interface (pcap_close ran). After stop() this
   * becomes true when the next packet arrives on each interface; see the note at the top.
   */
  get isClosed(): boolean {
    return !this.running && this.taps.every((t) => t.finalized);
  }

  /**
   * Opens every interface and starts delivering packets. Throws LiveCaptureError
   * (CAPTURE_INTERFACE_OPEN_FAILED naming the interface and libpcap's reason) if any interface
   * cannot be opened; interfaces opened before it are stopped again. Aborting `signal` stops.
   */
  start(signal: AbortSignal): void {
    if (this.started) throw new LiveCaptureError('CAPTURE_ALREADY_STARTED', 'LiveCapture.start() called twice');
    this.started = true;
    if (signal.aborted) return;
    let binding: NativeBinding;
    try {
      binding = loadPcap().binding;
    } catch (err) {
      throw new LiveCaptureError('CAPTURE_LIBPCAP_UNAVAILABLE', `pcap native module unavailable: ${(err as Error).message}`, undefined, err);
    }
    const o = this.options;
    const snaplen = Math.max(64, Math.min(262144, Math.floor(o.snaplenBytes)));
    this.running = true;
    try {
      o.interfaces.forEach((name, i) => {
        const tap = new Tap(name, i, binding, snaplen);
        this.taps.push(tap);
        let linkName: string;
        try {
          linkName = tap.session.open_live(
            name,
            o.bpfFilter,
            clampInt32(o.bufferSizeBytes),
            snaplen,
            '',
            this.makePacketHandler(tap),
            false,
            clampInt32(o.bufferTimeoutMs),
            () => {
              // pcap_lookupnet failing (interface without IPv4) only affects filters that use
              // the netmask ("ip broadcast"); counted, not fatal.
              this.counters.openWarnings++;
            },
            o.promiscuous,
          );
        } catch (err) {
          this.releaseFailedOpen(tap);
          throw new LiveCaptureError(
            'CAPTURE_INTERFACE_OPEN_FAILED',
            `cannot open interface ${JSON.stringify(name)} for capture: ${(err as Error).message}`,
            name,
            err,
          );
        }
        tap.linkType = linkTypeNumber(linkName);
        this.installReadCallback(tap);
        tap.session.start_polling();
      });
    } catch (err) {
      this.stop();
      throw err;
    }
    this.signal = signal;
    this.abortListener = () => this.stop();
    signal.addEventListener('abort', this.abortListener, { once: true });
  }

  private installReadCallback(tap: Tap): void {
    // Called by the binding's libuv poll when the pcap fd is readable.
    tap.session.read_callback = () => {
      if (tap.finalized) return; // the handle is gone: dispatch would use a freed pcap_t
      this.dispatching = tap;
      const r = tap.session.dispatch(tap.packetBuf, tap.header);
      this.dispatching = null;
      if (r === -2) tap.finalized = true;
    };
  }

  /**
   * The binding does not pcap_close a handle whose open failed. When the failure came after
   * pcap_activate (a bad BPF filter, say) that is a live packet socket with its ring; route it
   * through the normal close path (poll + breakloop) so libpcap releases it on the next packet.
   * When activation itself failed there is no fd to poll and only a small pcap_t leaks.
   */
  private releaseFailedOpen(tap: Tap): void {
    tap.closing = true;
    try {
      this.installReadCallback(tap);
      tap.session.start_polling();
      tap.session.close();
    } catch {
      tap.finalized = true;
    }
  }

  private makePacketHandler(tap: Tap): () => void {
    const header = tap.header;
    const buf = tap.packetBuf;
    const bufLen = buf.length;
    const ifIndex = tap.ifIndex;
    const c = this.counters;
    const onPacket = this.onPacket;
    // Called by the binding from inside pcap_dispatch, once per packet, with no arguments.
    return () => {
      if (!this.running) return;
      const sec = HOST_LE ? header.readUInt32LE(0) : header.readUInt32BE(0);
      const usec = HOST_LE ? header.readUInt32LE(4) : header.readUInt32BE(4);
      let capLen = HOST_LE ? header.readUInt32LE(8) : header.readUInt32BE(8);
      const wireLen = HOST_LE ? header.readUInt32LE(12) : header.readUInt32BE(12);
      if (capLen > bufLen) {
        c.truncatedCopies++;
        capLen = bufLen;
      }
      tap.delivered++;
      c.packets++;
      c.bytes += capLen;
      try {
        onPacket(buf, 0, capLen, wireLen, sec * 1e6 + usec, tap.linkType, ifIndex);
      } catch (err) {
        // An exception escaping here would reach Nan::FatalException inside libpcap's loop.
        c.callbackErrors++;
        if (this.onError !== undefined) this.onError(err);
        else
          process.nextTick(() => {
            throw err;
          });
      }
    };
  }

  /**
   * Stops delivering packets and asks libpcap to close every interface. Idempotent; safe to call
   * from inside the PacketCallback. Final stats are kept and still returned by stats().
   */
  stop(): void {
    this.running = false;
    if (this.signal !== null && this.abortListener !== null) {
      this.signal.removeEventListener('abort', this.abortListener);
    }
    this.signal = null;
    this.abortListener = null;
    for (const tap of this.taps) {
      if (tap.closing || tap.finalized) continue;
      tap.readStats();
      tap.closing = true;
      try {
        tap.session.close();
      } catch {
        /* already closed */
      }
    }
  }

  /** Per-interface libpcap statistics (last values if the interface is already stopped). */
  /**
   * Sends a frame out of the interface whose packet is being delivered (call it from within the
   * packet callback): SPAN-mode resets answer a packet on the interface it was seen on.
   * Returns false outside a delivery, or when libpcap refuses the frame.
   */
  injectOnCurrent(frame: Buffer): boolean {
    const tap = this.dispatching;
    if (tap === null || tap.finalized) return false;
    try {
      tap.session.inject(frame);
      return true;
    } catch {
      return false;
    }
  }

  stats(): LiveInterfaceStats[] {
    return this.taps.map((tap) => {
      if (!tap.closing) tap.readStats();
      return {
        interface: tap.name,
        ifIndex: tap.ifIndex,
        packetsReceived: tap.lastStats.ps_recv,
        kernelDrops: tap.lastStats.ps_drop,
        interfaceDrops: tap.lastStats.ps_ifdrop,
        packetsDelivered: tap.delivered,
      };
    });
  }
}
