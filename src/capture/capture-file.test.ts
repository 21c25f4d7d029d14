import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CaptureFileCounters,
  CaptureFileError,
  readCaptureFile,
  readCaptureFileAsync,
  type CaptureFileSummary,
} from './capture-file.js';
import { LinkType } from './types.js';

// ---------------------------------------------------------------------------------------------
// Byte-level builders
// ---------------------------------------------------------------------------------------------

function u16(le: boolean, v: number): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}
function u32(le: boolean, v: number): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}
function i64(le: boolean, v: bigint): Buffer {
  const b = Buffer.alloc(8);
  if (le) b.writeBigInt64LE(v);
  else b.writeBigInt64BE(v);
  return b;
}
function pad4(b: Buffer): Buffer {
  const r = b.length % 4;
  return r === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - r)]);
}
/** Packet payload whose bytes encode `id`, so delivered data can be checked. */
function payload(id: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (id * 7 + i) & 0xff;
  return b;
}

// classic pcap [draft-ietf-opsawg-pcap §4, §5]
function pcapHeader(le: boolean, nsec: boolean, snaplen: number, linkTypeField: number): Buffer {
  const magic = nsec ? 0xa1b23c4d : 0xa1b2c3d4;
  return Buffer.concat([u32(le, magic), u16(le, 2), u16(le, 4), u32(le, 0), u32(le, 0), u32(le, snaplen), u32(le, linkTypeField)]);
}
function pcapRecord(le: boolean, sec: number, frac: number, data: Buffer, wireLen = data.length, capLen = data.length): Buffer {
  return Buffer.concat([u32(le, sec), u32(le, frac), u32(le, capLen), u32(le, wireLen), data]);
}

// pcapng [draft-ietf-opsawg-pcapng]
function opt(le: boolean, code: number, value: Buffer): Buffer {
  return Buffer.concat([u16(le, code), u16(le, value.length), pad4(value)]);
}
function opts(le: boolean, ...o: Buffer[]): Buffer {
  return o.length === 0 ? Buffer.alloc(0) : Buffer.concat([...o, u16(le, 0), u16(le, 0)]);
}
function block(le: boolean, type: number, body: Buffer): Buffer {
  const b = pad4(body);
  const len = 12 + b.length;
  return Buffer.concat([u32(le, type), u32(le, len), b, u32(le, len)]);
}
function shb(le: boolean): Buffer {
  return block(le, 0x0a0d0d0a, Buffer.concat([u32(le, 0x1a2b3c4d), u16(le, 1), u16(le, 0), i64(le, -1n)]));
}
function idb(le: boolean, linkType: number, snaplen: number, o: Buffer = Buffer.alloc(0)): Buffer {
  return block(le, 1, Buffer.concat([u16(le, linkType), u16(le, 0), u32(le, snaplen), o]));
}
function tsParts(units: bigint): [number, number] {
  return [Number(units >> 32n), Number(units & 0xffffffffn)];
}
function epb(le: boolean, ifId: number, tsUnits: bigint, data: Buffer, wireLen = data.length): Buffer {
  const [hi, lo] = tsParts(tsUnits);
  return block(le, 6, Buffer.concat([u32(le, ifId), u32(le, hi), u32(le, lo), u32(le, data.length), u32(le, wireLen), pad4(data)]));
}
function pb(le: boolean, ifId: number, tsUnits: bigint, data: Buffer, wireLen = data.length): Buffer {
  const [hi, lo] = tsParts(tsUnits);
  return block(le, 2, Buffer.concat([u16(le, ifId), u16(le, 0), u32(le, hi), u32(le, lo), u32(le, data.length), u32(le, wireLen), pad4(data)]));
}
function spb(le: boolean, wireLen: number, data: Buffer): Buffer {
  return block(le, 3, Buffer.concat([u32(le, wireLen), pad4(data)]));
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

interface Seen {
  data: Buffer;
  capLen: number;
  wireLen: number;
  tsUs: number;
  linkType: number;
  ifIndex: number;
}

let dir = '';
let fileNo = 0;
function writeTemp(content: Buffer): string {
  const p = join(dir, `f${fileNo++}.cap`);
  writeFileSync(p, content);
  return p;
}

function read(
  content: Buffer | string,
  options?: { bufferSizeBytes?: number },
): { seen: Seen[]; summary: CaptureFileSummary; c: CaptureFileCounters } {
  const path = typeof content === 'string' ? content : writeTemp(content);
  const seen: Seen[] = [];
  const c = new CaptureFileCounters();
  const summary = readCaptureFile(
    path,
    (buf, offset, capLen, wireLen, tsUs, linkType, ifIndex) => {
      assert.ok(offset >= 0 && offset + capLen <= buf.length, 'packet lies inside the buffer');
      seen.push({ data: Buffer.from(buf.subarray(offset, offset + capLen)), capLen, wireLen, tsUs, linkType, ifIndex });
    },
    c,
    options,
  );
  return { seen, summary, c };
}

function nonZero(c: CaptureFileCounters): Record<string, number> {
  return Object.fromEntries(Object.entries(c.snapshot()).filter(([, v]) => v !== 0));
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-capture-file-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Classic pcap
// ---------------------------------------------------------------------------------------------

describe('classic pcap', () => {
  for (const le of [true, false]) {
    for (const nsec of [false, true]) {
      it(`reads ${le ? 'little' : 'big'}-endian ${nsec ? 'nanosecond' : 'microsecond'} files`, () => {
        const frac = nsec ? 123456789 : 123456;
        const file = Buffer.concat([
          pcapHeader(le, nsec, 65535, LinkType.ETHERNET),
          pcapRecord(le, 1700000000, frac, payload(1, 60)),
          pcapRecord(le, 1700000001, 0, payload(2, 42), 1514),
          pcapRecord(le, 1700000002, nsec ? 999999999 : 999999, payload(3, 1)),
        ]);
        const { seen, summary, c } = read(file);
        assert.equal(summary.format, 'pcap');
        assert.equal(summary.stopReason, 'eof');
        assert.equal(summary.packets, 3);
        assert.equal(summary.bytes, 103);
        assert.equal(summary.bytesConsumed, file.length);
        assert.deepEqual(summary.interfaces, [
          { ifIndex: 0, section: 0, linkType: 1, snaplen: 65535, tsUnitsPerSecond: nsec ? 1e9 : 1e6, tsOffsetSeconds: 0, fcsLengthBytes: 0 },
        ]);
        assert.deepEqual(
          seen.map((s) => [s.capLen, s.wireLen, s.tsUs, s.linkType, s.ifIndex]),
          [
            [60, 60, 1700000000123456, 1, 0],
            [42, 1514, 1700000001000000, 1, 0],
            [1, 1, 1700000002999999, 1, 0],
          ],
        );
        assert.deepEqual(seen[0]?.data, payload(1, 60));
        assert.deepEqual(seen[1]?.data, payload(2, 42));
        assert.equal(summary.firstTsUs, 1700000000123456);
        assert.equal(summary.lastTsUs, 1700000002999999);
        assert.deepEqual(nonZero(c), { 'capture.file_files': 1, 'capture.file_packets': 3, 'capture.file_bytes': 103 });
      });
    }
  }

  it('masks the FCS bits out of the link type and reports the FCS length', () => {
    // F bit (26) set, FCS length 2 (x 16 bits = 4 bytes) in bits 28-31.
    const field = LinkType.ETHERNET | 0x04000000 | (2 << 28);
    const { seen, summary } = read(Buffer.concat([pcapHeader(true, false, 65535, field), pcapRecord(true, 1, 0, payload(1, 64))]));
    assert.equal(seen[0]?.linkType, LinkType.ETHERNET);
    assert.equal(summary.interfaces[0]?.linkType, LinkType.ETHERNET);
    assert.equal(summary.interfaces[0]?.fcsLengthBytes, 4);
  });

  it('cuts a record longer than the snaplen to the snaplen, as libpcap does', () => {
    const file = Buffer.concat([
      pcapHeader(true, false, 100, LinkType.RAW),
      pcapRecord(true, 1, 0, payload(1, 150)),
      pcapRecord(true, 2, 0, payload(2, 80)),
    ]);
    const { seen, summary, c } = read(file);
    assert.equal(summary.stopReason, 'eof');
    assert.deepEqual(seen.map((s) => [s.capLen, s.wireLen]), [[100, 150], [80, 80]]);
    assert.deepEqual(seen[0]?.data, payload(1, 150).subarray(0, 100));
    assert.deepEqual(seen[1]?.data, payload(2, 80), 'the record after it is read from the right place');
    assert.equal(c.recordsOverSnaplen, 1);
  });

  it('treats snaplen 0 in the header as the maximum', () => {
    const { seen, c } = read(Buffer.concat([pcapHeader(true, false, 0, 1), pcapRecord(true, 1, 0, payload(1, 3000))]));
    assert.equal(seen[0]?.capLen, 3000);
    assert.equal(c.recordsOverSnaplen, 0);
  });

  it('stops at a record whose caplen exceeds 256 KiB, counting it', () => {
    const bogus = Buffer.concat([u32(true, 3), u32(true, 0), u32(true, 262145), u32(true, 262145), payload(9, 32)]);
    const file = Buffer.concat([pcapHeader(true, false, 0, 1), pcapRecord(true, 1, 0, payload(1, 60)), bogus, pcapRecord(true, 4, 0, payload(4, 60))]);
    const { seen, summary, c } = read(file);
    assert.equal(seen.length, 1);
    assert.equal(summary.stopReason, 'oversized_record');
    assert.equal(summary.bytesConsumed, 24 + 16 + 60);
    assert.deepEqual(nonZero(c), { 'capture.file_files': 1, 'capture.file_packets': 1, 'capture.file_bytes': 60, 'capture.file_oversized_records': 1 });
  });

  it('reads records straddling buffer refills (small buffer, many variable-size packets)', () => {
    const parts = [pcapHeader(true, false, 65535, 1)];
    const n = 3000;
    for (let i = 0; i < n; i++) parts.push(pcapRecord(true, 1000 + i, i, payload(i, 1 + ((i * 37) % 1600))));
    const file = Buffer.concat(parts);
    assert.ok(file.length > 20 * 65536);
    const { seen, summary } = read(file, { bufferSizeBytes: 65536 });
    assert.equal(summary.stopReason, 'eof');
    assert.equal(seen.length, n);
    for (let i = 0; i < n; i++) {
      const s = seen[i];
      assert.ok(s !== undefined);
      assert.equal(s.tsUs, (1000 + i) * 1e6 + i);
      assert.ok(s.data.equals(payload(i, 1 + ((i * 37) % 1600))), `packet ${i} intact`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// pcapng
// ---------------------------------------------------------------------------------------------

/**
 * Section 1 (little-endian): if0 Ethernet, default µs resolution; if1 raw IPv4 (LINKTYPE_RAW),
 * ns resolution with if_tsoffset 10 s and snaplen 64. Packets: EPB if0, custom block, EPB if1,
 * NRB, SPB (uses if0, snaplen 0 => cut by the wire length only), PB if1 (cut to nothing: it is
 * the block's caplen that counts), ISB.
 * Section 2 (big-endian): its own if0 = Linux SLL with binary resolution 2^-10 s; EPB; SPB on it
 * with snaplen 32.
 */
function mixedPcapng(): { file: Buffer; expected: Array<[number, number, number, number, number]> } {
  const L = true;
  const B = false;
  const tsresolNs = opt(L, 9, Buffer.from([9]));
  const tsoffset = opt(L, 14, i64(L, 10n));
  const file = Buffer.concat([
    shb(L),
    idb(L, LinkType.ETHERNET, 65535),
    idb(L, LinkType.RAW, 64, opts(L, opt(L, 2, Buffer.from('eth1 name option')), tsresolNs, tsoffset)),
    epb(L, 0, 1700000000123456n, payload(1, 60)),
    block(L, 0x40000bad, Buffer.concat([u32(L, 32473), Buffer.from('custom data')])), // custom block [pcapng §4.8]
    epb(L, 1, 1700000000987654321n, payload(2, 40), 40),
    block(L, 4, Buffer.concat([u16(L, 1), u16(L, 8), Buffer.from([10, 0, 0, 1]), Buffer.from('host'), u16(L, 0), u16(L, 0)])), // NRB
    spb(L, 50, payload(3, 50)),
    pb(L, 1, 1700000001000000000n, payload(4, 20), 1500),
    block(L, 5, Buffer.concat([u32(L, 0), u32(L, 0), u32(L, 0)])), // ISB
    shb(B),
    idb(B, LinkType.LINUX_SLL, 32, opts(B, opt(B, 9, Buffer.from([0x80 | 10])))),
    epb(B, 0, (1700000002n << 10n) | 512n, payload(5, 30)),
    spb(B, 100, payload(6, 100)),
  ]);
  // [capLen, wireLen, tsUs, linkType, ifIndex]
  const expected: Array<[number, number, number, number, number]> = [
    [60, 60, 1700000000123456, LinkType.ETHERNET, 0],
    [40, 40, 1700000000987654 + 10e6, LinkType.RAW, 1],
    [50, 50, 1700000000987654 + 10e6, LinkType.ETHERNET, 0], // SPB: last timestamp seen
    [20, 1500, 1700000001000000 + 10e6, LinkType.RAW, 1],
    [30, 30, 1700000002500000, LinkType.LINUX_SLL, 2],
    [32, 100, 1700000002500000, LinkType.LINUX_SLL, 2], // SPB cut to snaplen 32
  ];
  return { file, expected };
}

describe('pcapng', () => {
  it('reads sections of both byte orders, mixed link types, tsresol/tsoffset, EPB, SPB, PB, skipping other blocks', () => {
    const { file, expected } = mixedPcapng();
    const { seen, summary, c } = read(file);
    assert.equal(summary.format, 'pcapng');
    assert.equal(summary.stopReason, 'eof');
    assert.equal(summary.bytesConsumed, file.length);
    assert.deepEqual(seen.map((s) => [s.capLen, s.wireLen, s.tsUs, s.linkType, s.ifIndex]), expected);
    assert.deepEqual(seen[0]?.data, payload(1, 60));
    assert.deepEqual(seen[1]?.data, payload(2, 40));
    assert.deepEqual(seen[2]?.data, payload(3, 50));
    assert.deepEqual(seen[3]?.data, payload(4, 20));
    assert.deepEqual(seen[5]?.data, payload(6, 32));
    assert.deepEqual(
      summary.interfaces.map((i) => [i.ifIndex, i.section, i.linkType, i.snaplen, i.tsUnitsPerSecond, i.tsOffsetSeconds]),
      [
        [0, 0, LinkType.ETHERNET, 65535, 1e6, 0],
        [1, 0, LinkType.RAW, 64, 1e9, 10],
        [2, 1, LinkType.LINUX_SLL, 32, 1024, 0],
      ],
    );
    assert.deepEqual(nonZero(c), {
      'capture.file_files': 1,
      'capture.file_packets': 6,
      'capture.file_bytes': 60 + 40 + 50 + 20 + 30 + 32,
      'capture.file_unknown_blocks_skipped': 3,
    });
  });

  it('converts nanosecond timestamps exactly and handles 10^-n resolutions below µs', () => {
    const L = true;
    const file = Buffer.concat([
      shb(L),
      idb(L, 1, 0, opts(L, opt(L, 9, Buffer.from([9])))),
      idb(L, 1, 0, opts(L, opt(L, 9, Buffer.from([3])))), // milliseconds
      idb(L, 1, 0, opts(L, opt(L, 9, Buffer.from([0x80 | 20])))), // 2^-20 s
      idb(L, 1, 0, opts(L, opt(L, 14, i64(L, -3600n)))), // negative if_tsoffset
      epb(L, 0, 1999999999999999999n, payload(1, 4)),
      epb(L, 1, 1700000000123n, payload(1, 4)),
      epb(L, 2, (1700000000n << 20n) + (1n << 19n), payload(1, 4)),
      epb(L, 3, 1700000000000000n, payload(1, 4)),
    ]);
    const { seen } = read(file);
    assert.deepEqual(seen.map((s) => s.tsUs), [1999999999999999, 1700000000123000, 1700000000500000, 1700000000000000 - 3600e6]);
  });

  it('skips packets of undescribed interfaces, counting them', () => {
    const L = true;
    const file = Buffer.concat([
      shb(L),
      spb(L, 10, payload(1, 10)), // no IDB yet
      idb(L, 1, 0),
      epb(L, 5, 1n, payload(2, 10)), // no interface 5
      epb(L, 0, 2n, payload(3, 10)),
    ]);
    const { seen, summary, c } = read(file);
    assert.equal(summary.stopReason, 'eof');
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]?.data, payload(3, 10));
    assert.equal(c.badInterfaceIds, 2);
  });

  it('grows the buffer once for a block larger than it', () => {
    const L = true;
    const big = payload(7, 200_000);
    const file = Buffer.concat([shb(L), idb(L, 1, 0), epb(L, 0, 1n, payload(1, 100)), epb(L, 0, 2n, big), epb(L, 0, 3n, payload(3, 100))]);
    const { seen, summary, c } = read(file, { bufferSizeBytes: 65536 });
    assert.equal(summary.stopReason, 'eof');
    assert.equal(seen.length, 3);
    assert.ok(seen[1]?.data.equals(big));
    assert.deepEqual(seen[2]?.data, payload(3, 100));
    assert.equal(c.bufferGrows, 1);
  });

  it('stops on an option running past its block, keeping the interface', () => {
    const L = true;
    const badOpt = Buffer.concat([u16(L, 9), u16(L, 200), Buffer.from([9, 0, 0, 0])]);
    const { seen, c } = read(Buffer.concat([shb(L), idb(L, 1, 0, badOpt), epb(L, 0, 5n, payload(1, 10))]));
    assert.equal(seen[0]?.tsUs, 5, 'default µs resolution kept');
    assert.equal(c.badOptions, 1);
  });

  describe('bad blocks are counted and end the file', () => {
    const L = true;
    const head = Buffer.concat([shb(L), idb(L, 1, 0), epb(L, 0, 1n, payload(1, 10))]);
    const tail = epb(L, 0, 2n, payload(2, 10));
    const cases: Array<[string, Buffer, string]> = [
      ['length not a multiple of 4', Buffer.concat([u32(L, 6), u32(L, 30), Buffer.alloc(22), u32(L, 30)]), 'bad_block'],
      ['length below 12', Buffer.concat([u32(L, 6), u32(L, 8), u32(L, 8)]), 'bad_block'],
      ['EPB shorter than its fixed fields', Buffer.concat([u32(L, 6), u32(L, 16), u32(L, 0), u32(L, 16)]), 'bad_block'],
      ['trailing length differs', Buffer.concat([u32(L, 6), u32(L, 16), u32(L, 0), u32(L, 20)]), 'bad_block'],
      ['EPB caplen beyond the block', Buffer.concat([u32(L, 6), u32(L, 36), u32(L, 0), u32(L, 0), u32(L, 0), u32(L, 5), u32(L, 5), u32(L, 0), u32(L, 36)]), 'bad_block'],
      ['SHB with a bad byte-order magic', Buffer.concat([u32(L, 0x0a0d0d0a), u32(L, 28), u32(L, 0x12345678), Buffer.alloc(12), u32(L, 28)]), 'bad_block'],
      ['length above 16 MiB', Buffer.concat([u32(L, 6), u32(L, 0x7ffffff0), Buffer.alloc(32)]), 'oversized_record'],
    ];
    for (const [name, bad, reason] of cases) {
      it(name, () => {
        const { seen, summary, c } = read(Buffer.concat([head, bad, tail]));
        assert.equal(seen.length, 1);
        assert.equal(summary.stopReason, reason);
        assert.equal(summary.bytesConsumed, head.length);
        if (reason === 'bad_block') assert.equal(c.badBlocks, 1);
        else assert.equal(c.oversizedRecords, 1);
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Truncation, garbage, errors
// ---------------------------------------------------------------------------------------------

/** Record boundaries of a file and the packet count once each boundary is reached. */
function truncationSweep(file: Buffer, boundaries: Array<[number, number]>): void {
  for (let k = 0; k <= file.length; k++) {
    const prefix = file.subarray(0, k);
    if (k < 4) {
      assert.throws(
        () => read(prefix),
        (e: unknown) => e instanceof CaptureFileError && e.code === 'CAPTURE_FILE_NOT_A_CAPTURE',
        `offset ${k} is not a capture`,
      );
      continue;
    }
    let packets = 0;
    let atBoundary = false;
    for (const [off, n] of boundaries) {
      if (off <= k) packets = n;
      if (off === k) atBoundary = true;
    }
    const { seen, summary, c } = read(prefix);
    assert.equal(seen.length, packets, `packets at offset ${k}`);
    assert.equal(summary.stopReason, atBoundary ? 'eof' : 'truncated', `stop reason at offset ${k}`);
    assert.equal(c.truncatedRecords, atBoundary ? 0 : 1, `truncated counter at offset ${k}`);
    assert.equal(c.badBlocks + c.oversizedRecords, 0, `no framing error at offset ${k}`);
  }
}

describe('truncated files (cut at every offset)', () => {
  it('classic pcap: < 4 bytes throws NOT_A_CAPTURE; otherwise complete records are delivered and a cut one is counted', () => {
    const h = pcapHeader(false, true, 65535, 1);
    const r1 = pcapRecord(false, 1, 5, payload(1, 13));
    const r2 = pcapRecord(false, 2, 6, payload(2, 7));
    const file = Buffer.concat([h, r1, r2]);
    truncationSweep(file, [
      [h.length, 0],
      [h.length + r1.length, 1],
      [file.length, 2],
    ]);
  });

  it('pcapng: same rule, with a cut inside the SHB (even before the byte-order magic) counted as truncated', () => {
    const L = false;
    const parts = [shb(L), idb(L, 1, 0), epb(L, 0, 1n, payload(1, 5)), block(L, 0x40000bad, u32(L, 1)), spb(L, 3, payload(2, 3))];
    const bounds: Array<[number, number]> = [];
    let off = 0;
    let n = 0;
    for (const p of parts) {
      off += p.length;
      if (p.readUInt32BE(0) === 6 || p.readUInt32BE(0) === 3) n++;
      bounds.push([off, n]);
    }
    truncationSweep(Buffer.concat(parts), bounds);
  });
});

describe('garbage and errors', () => {
  it('an empty file and garbage are not captures', () => {
    for (const content of [Buffer.alloc(0), Buffer.from('GET / HTTP/1.1\r\n\r\n'), payload(3, 4096)]) {
      const p = writeTemp(content);
      assert.throws(
        () => read(p),
        (e: unknown) =>
          e instanceof CaptureFileError && e.code === 'CAPTURE_FILE_NOT_A_CAPTURE' && e.message.includes(p),
      );
    }
  });

  it('pcapng block type without a byte-order magic is not a capture', () => {
    const fake = Buffer.concat([u32(true, 0x0a0d0d0a), u32(true, 28), Buffer.from('text'), Buffer.alloc(20)]);
    assert.throws(() => read(fake), (e: unknown) => e instanceof CaptureFileError && e.code === 'CAPTURE_FILE_NOT_A_CAPTURE');
  });

  it('garbage after valid records never throws', () => {
    const junk = Buffer.alloc(100, 0xff);
    const a = read(Buffer.concat([pcapHeader(true, false, 65535, 1), pcapRecord(true, 1, 0, payload(1, 10)), junk]));
    assert.equal(a.seen.length, 1);
    assert.equal(a.summary.stopReason, 'oversized_record');
    const b = read(Buffer.concat([shb(true), idb(true, 1, 0), epb(true, 0, 1n, payload(1, 10)), junk]));
    assert.equal(b.seen.length, 1);
    assert.equal(b.summary.stopReason, 'oversized_record');
    const zeros = read(Buffer.concat([shb(true), idb(true, 1, 0), Buffer.alloc(64)]));
    assert.equal(zeros.summary.stopReason, 'bad_block');
  });

  it('random byte corruption never throws and never hands out bytes outside the buffer', () => {
    // Deterministic xorshift so a failure is reproducible.
    let seed = 0x9e3779b9;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const { file: ng } = mixedPcapng();
    const classic = Buffer.concat([pcapHeader(true, false, 200, 1), ...Array.from({ length: 20 }, (_, i) => pcapRecord(true, i, i, payload(i, 10 + i * 9)))]);
    // Keep the magic (and the first SHB's byte-order magic) intact: those decide NOT_A_CAPTURE.
    for (const [base, keep] of [[ng, 12], [classic, 4]] as const) {
      for (let round = 0; round < 300; round++) {
        const f = Buffer.from(base);
        const flips = 1 + rnd(8);
        for (let i = 0; i < flips; i++) f[keep + rnd(f.length - keep)] = rnd(256);
        const { summary, c } = read(f); // read() asserts every packet lies inside the buffer
        assert.ok(summary.packets <= 40);
        assert.ok(c.truncatedRecords + c.badBlocks + c.oversizedRecords <= 1);
      }
    }
  });

  it('missing file: CAPTURE_FILE_NOT_FOUND naming the path', () => {
    const p = join(dir, 'does-not-exist.pcap');
    assert.throws(
      () => read(p),
      (e: unknown) => e instanceof CaptureFileError && e.code === 'CAPTURE_FILE_NOT_FOUND' && e.message.includes(p),
    );
  });

  it('a directory: CAPTURE_FILE_UNREADABLE naming the path', () => {
    const p = join(dir, 'a-directory.pcap');
    mkdirSync(p);
    assert.throws(
      () => read(p),
      (e: unknown) => e instanceof CaptureFileError && e.code === 'CAPTURE_FILE_UNREADABLE' && e.message.includes(p),
    );
  });

  it('counters accumulate across files', () => {
    const c = new CaptureFileCounters();
    const f = writeTemp(Buffer.concat([pcapHeader(true, false, 65535, 1), pcapRecord(true, 1, 0, payload(1, 10))]));
    readCaptureFile(f, () => {}, c);
    readCaptureFile(f, () => {}, c);
    assert.equal(c.snapshot()['capture.file_packets'], 2);
    assert.equal(c.snapshot()['capture.file_files'], 2);
  });
});

describe('readCaptureFileAsync', () => {
  it('delivers the same packets, yielding to the event loop between batches', async () => {
    const { file, expected } = mixedPcapng();
    const p = writeTemp(file);
    const got: number[][] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const summary = await readCaptureFileAsync(
      p,
      (_b, _o, capLen, wireLen, tsUs, linkType, ifIndex) => {
        got.push([capLen, wireLen, tsUs, linkType, ifIndex]);
      },
      new CaptureFileCounters(),
      { yieldEveryPackets: 1 },
    );
    clearInterval(timer);
    assert.deepEqual(got, expected);
    assert.equal(summary.stopReason, 'eof');
    assert.equal(summary.packets, 6);
  });

  it('stops when the signal is aborted', async () => {
    const parts = [pcapHeader(true, false, 65535, 1)];
    for (let i = 0; i < 100; i++) parts.push(pcapRecord(true, i, 0, payload(i, 10)));
    const ac = new AbortController();
    let n = 0;
    const summary = await readCaptureFileAsync(
      writeTemp(Buffer.concat(parts)),
      () => {
        if (++n === 25) ac.abort();
      },
      new CaptureFileCounters(),
      { yieldEveryPackets: 10, signal: ac.signal },
    );
    assert.equal(summary.stopReason, 'aborted');
    assert.equal(summary.packets, 30);
  });

  it('rejects with CaptureFileError for a missing file', async () => {
    await assert.rejects(
      readCaptureFileAsync(join(dir, 'nope.pcapng'), () => {}, new CaptureFileCounters()),
      (e: unknown) => e instanceof CaptureFileError && e.code === 'CAPTURE_FILE_NOT_FOUND',
    );
  });
});
