/**
 * The logons a capture holds, as the registered Kerberos, NTLM and RADIUS analyzers hand them
 * on: decode → flow table → flow inspector, with the inspector's logon listener collecting.
 */
import { readCaptureFile, CaptureFileCounters } from '../../src/capture/capture-file.js';
import { Decoder, DecodedPacket, DecodeStatus } from '../../src/decode/decoder.js';
import { DecodeCounters } from '../../src/decode/counters.js';
import { FlowTable, FlowCounters, DEFAULT_FLOW_SETTINGS } from '../../src/flows/flow-table.js';
import { FlowInspector } from '../../src/protocols/inspector.js';
import type { LogonSeen } from '../../src/protocols/logon.js';

export function logonsOf(path: string): { logons: LogonSeen[]; counters: Record<string, number> } {
  const table = new FlowTable(DEFAULT_FLOW_SETTINGS, new FlowCounters(), null);
  const decoder = new Decoder(new DecodeCounters());
  const pkt = new DecodedPacket();
  const inspector = new FlowInspector();
  const logons: LogonSeen[] = [];
  inspector.onLogon = (l) => { logons.push(l); };
  readCaptureFile(path, (buf, offset, capLen, wireLen, tsUs, linkType) => {
    if (decoder.decode(buf, offset, capLen, wireLen, linkType, pkt) !== DecodeStatus.OK) return;
    const slot = table.update(pkt, buf, capLen, tsUs);
    if (slot >= 0) inspector.onPacket(table, slot, pkt, buf, tsUs);
  }, new CaptureFileCounters());
  return { logons, counters: inspector.counters() };
}

/**
 * Frames fed one by one through decode → flow table → inspector; logons collected. A flow's end
 * (its timeout, or end()) releases its inspection as the sensor does.
 */
export class LogonHarness {
  readonly inspector = new FlowInspector();
  readonly table = new FlowTable(DEFAULT_FLOW_SETTINGS, new FlowCounters(), (_t, slot, _a, _ts, final) => { if (final) this.inspector.release(slot); });
  readonly logons: LogonSeen[] = [];
  private readonly decoder = new Decoder(new DecodeCounters());
  private readonly pkt = new DecodedPacket();
  private tsUs = 1_700_000_000_000_000;
  constructor() { this.inspector.onLogon = (l) => { this.logons.push(l); }; }
  send(frame: Buffer): void {
    this.tsUs += 1000;
    if (this.decoder.decode(frame, 0, frame.length, frame.length, 1, this.pkt) !== DecodeStatus.OK) throw new Error('frame does not decode');
    const slot = this.table.update(this.pkt, frame, frame.length, this.tsUs);
    this.inspector.onPacket(this.table, slot, this.pkt, frame, this.tsUs);
  }
  /** Ends every flow (the capture's end). */
  end(): void { this.table.flush(this.tsUs); }
  counters(prefix: string): Record<string, number> {
    return Object.fromEntries(Object.entries(this.inspector.counters()).filter(([k, v]) => k.startsWith(prefix) && v !== 0));
  }
}
