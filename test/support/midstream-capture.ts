/**
 * Makes a capture that starts mid-stream out of a whole one: every TCP segment with SYN set (SYN
 * and SYN-ACK) is left out and so is everything in the first `cutSeconds`, as if the sensor had
 * started after the connections were opened. Written as classic pcap (microsecond times) with
 * the input's link type. With `keepBeforeCut: 'non-tcp'`, packets other than TCP segments are
 * kept in the cut part (DHCP, DNS, mDNS): what a restarted sensor still knows from its persisted
 * device store and DNS name cache.
 */
import { writeFileSync } from 'node:fs';
import { readCaptureFile, CaptureFileCounters } from '../../src/capture/capture-file.js';
import { Decoder, DecodedPacket, DecodeStatus } from '../../src/decode/decoder.js';
import { DecodeCounters } from '../../src/decode/counters.js';
import { IPPROTO_TCP } from '../../src/decode/constants.js';

const TCP_SYN = 0x02;

export interface MidstreamResult { kept: number; synDropped: number; cutDropped: number; firstUs: number }

export function writeMidstreamCapture(input: string, output: string, cutSeconds: number, keepBeforeCut: 'none' | 'non-tcp' = 'none'): MidstreamResult {
  const decoder = new Decoder(new DecodeCounters());
  const p = new DecodedPacket();
  const records: Buffer[] = [];
  let linkType = -1;
  let firstUs = -1;
  const r: MidstreamResult = { kept: 0, synDropped: 0, cutDropped: 0, firstUs: 0 };
  readCaptureFile(input, (buf, offset, capLen, wireLen, tsUs, lt) => {
    if (firstUs < 0) firstUs = tsUs;
    if (linkType < 0) linkType = lt;
    const tcp = decoder.decode(buf, offset, capLen, wireLen, lt, p) === DecodeStatus.OK && p.protocol === IPPROTO_TCP;
    if (tsUs < firstUs + cutSeconds * 1_000_000 && (keepBeforeCut === 'none' || tcp)) { r.cutDropped++; return; }
    if (tcp && (p.tcpFlags & TCP_SYN) !== 0) {
      r.synDropped++;
      return;
    }
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(tsUs / 1_000_000), 0);
    h.writeUInt32LE(tsUs % 1_000_000, 4);
    h.writeUInt32LE(capLen, 8);
    h.writeUInt32LE(wireLen, 12);
    records.push(h, Buffer.from(buf.subarray(offset, offset + capLen)));
    r.kept++;
  }, new CaptureFileCounters());
  // Classic pcap global header (version 2.4, snaplen 262144).
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(262144, 16);
  g.writeUInt32LE(Math.max(0, linkType), 20);
  writeFileSync(output, Buffer.concat([g, ...records]));
  r.firstUs = firstUs;
  return r;
}
