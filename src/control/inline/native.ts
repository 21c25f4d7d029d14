/**
 * Loads the outpost_nfq addon (native/nfq.c) built by `npm run build` (native/build.mjs). It is
 * looked for beside the compiled code (dist/native/, what the package ships) and in the node-gyp
 * build folder (native/build/Release/, when run from the sources). A machine without it runs
 * Outpost normally; only inline mode refuses to start (CONTROL_INLINE_NATIVE_UNAVAILABLE).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { OutpostError } from '../../errors.js';

export interface NfqOpenOptions {
  copyRangeBytes?: number;
  maxQueueLen?: number;
  failOpen?: boolean;
  batchPackets?: number;
  rcvbufBytes?: number;
  /** SCHED_FIFO priority of the reader thread (1-99); 0: the default policy. */
  realtimePriority?: number;
  /**
   * SCHED_FIFO priority the calling (JavaScript) thread is raised to while a batch that awaits
   * verdicts is handed over and judged (native/nfq.c, Boost); 0: off.
   */
  boostPriority?: number;
  /** Most CPU milliseconds per second used while boosted (default 500). */
  boostBudgetMsPerSecond?: number;
  /** Stays boosted this long after the last boosted batch (default 0: lowered at once). */
  boostHoldMs?: number;
}

export interface NfqStats {
  packets: number;
  batches: number;
  enobufs: number;
  recvErrors: number;
  truncatedBatches: number;
  queueFullWaits: number;
  verdicts: number;
  /** Verdicts the reader thread gave itself (TCP segments that cannot carry a name). */
  preaccepted: number;
  verdictErrors: number;
  rawSent: number;
  rawErrors: number;
  /** The reader thread's SCHED_FIFO priority in effect (0: default policy, or refused). */
  readerRealtime: number;
  /** errno of a refused realtimePriority (EPERM without CAP_SYS_NICE), else 0. */
  readerRealtimeError: number;
  /** The boost priority in effect (0: off, or refused: see boostError). */
  boostPriority: number;
  /** errno of a refused boost (EPERM without CAP_SYS_NICE), else 0. */
  boostError: number;
  /** Times the JavaScript thread was raised. */
  boostRaises: number;
  /** Batches handed over unboosted because the budget of the current tenth of a second was spent. */
  boostOverBudget: number;
  /** Time the JavaScript thread spent raised, µs. */
  boostMicros: number;
  /** CPU time the JavaScript thread used while raised, µs (what the budget counts). */
  boostCpuMicros: number;
}

export interface NfqLatency {
  count: number; p50Us: number; p99Us: number; p999Us: number; maxUs: number;
  /** Batches, and the time from a batch's hand-over by the reader thread to the start of its JavaScript call. */
  wakeCount: number; wakeP50Us: number; wakeP99Us: number; wakeP999Us: number; wakeMaxUs: number;
  /** Packets with a kernel arrival stamp, and the time from that arrival at the gateway to the reader thread's recv. */
  kernelCount: number; kernelP50Us: number; kernelP99Us: number; kernelP999Us: number; kernelMaxUs: number;
}

/** An open queue (an N-API external). */
export type NfqHandle = { readonly __nfq: unique symbol };

export interface NfqAddon {
  open(queueNum: number, options: NfqOpenOptions, onBatch: (buf: Buffer, count: number) => void): NfqHandle;
  verdicts(handle: NfqHandle, triples: Uint32Array, count: number): number;
  sendRaw(handle: NfqHandle, family: 4 | 6, packet: Buffer, dst: Buffer): boolean;
  stats(handle: NfqHandle): NfqStats;
  /** Time packets spent in user space (reader thread → verdict) since the last reset. */
  latency(handle: NfqHandle, reset?: boolean): NfqLatency;
  close(handle: NfqHandle): void;
  /** SCHED_FIFO at `priority` for the calling thread (0: back to the default policy); 0 or the errno. */
  setThreadRealtime(priority: number): number;
}

/** Where the addon may be, nearest first. */
export function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  // here = <root>/{dist,src}/control/inline
  const root = join(here, '..', '..', '..');
  return [join(here, '..', '..', 'native', 'outpost_nfq.node'), join(root, 'dist', 'native', 'outpost_nfq.node'), join(root, 'native', 'build', 'Release', 'outpost_nfq.node')];
}

let cached: NfqAddon | undefined;

export function loadNfqAddon(): NfqAddon {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux') throw new OutpostError('CONTROL_INLINE_NATIVE_UNAVAILABLE', { reason: 'NFQUEUE exists on Linux only' });
  const found = addonCandidates().find((p) => existsSync(p));
  if (found === undefined) {
    const reason = 'outpost_nfq.node was not built (install libnetfilter-queue-dev and run npm run build)';
    throw new OutpostError('CONTROL_INLINE_NATIVE_UNAVAILABLE', { reason }, { details: { looked: addonCandidates() } });
  }
  try {
    cached = createRequire(import.meta.url)(found) as NfqAddon;
    return cached;
  } catch (err) {
    const reason = (err as Error).message;
    throw new OutpostError('CONTROL_INLINE_NATIVE_UNAVAILABLE', { reason }, { details: { path: found, reason }, cause: err });
  }
}
