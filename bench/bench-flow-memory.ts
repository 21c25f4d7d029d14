/**
 * `npm run bench:flows` (node --expose-gc): memory per tracked flow and update rate of the flow
 * table, with 1,000,000 concurrent flows built directly into a DecodedPacket (no capture file).
 *
 * Each address family runs in its own child process (same node flags) so that one measurement
 * does not inherit the other's heap. Per child:
 *   1. gc, then process.memoryUsage() (rss, arrayBuffers) as the baseline;
 *   2. insert N flows with distinct 5-tuples (half TCP, half UDP; timeouts far longer than the
 *      run so nothing expires; maxFlows = max(N, the default 2^20), so the table ends at the
 *      capacity a default configuration reaches) → flows inserted per second;
 *   3. gc, memoryUsage() again → bytes per flow (rss and arrayBuffers deltas / N), and the
 *      table's own typed-array bytes (FlowTable.BYTES_PER_SLOT × capacity / N, and the exact
 *      sum of every typed array the table holds, buckets and fragment cache included);
 *   4. --passes (default 3) passes over all flows with one packet each, alternating direction
 *      → packets per second on existing flows.
 * Options: --flows N (default 1000000), --max-flows N (default max(flows, 2^20)), --passes N,
 *   --family 4|6|both (default both).
 * Output: a table on stdout and test-output/bench-flow-memory.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { FlowSettings } from '../src/flows/flow-table.js';
import { PROJECT_ROOT, built, fmt, formatTable, machineInfo } from './bench-common.js';

// The built flow table (dist/), the code that ships; `npm run build` first.
const { DecodedPacket } = await built<typeof import('../src/decode/decoder.js')>('decode/decoder.js');
const { FlowTable, FlowCounters, DEFAULT_FLOW_SETTINGS } = await built<typeof import('../src/flows/flow-table.js')>('flows/flow-table.js');
const { IPPROTO_TCP, IPPROTO_UDP } = await built<typeof import('../src/decode/constants.js')>('decode/constants.js');
type DecodedPacket = InstanceType<typeof DecodedPacket>;
type FlowTable = InstanceType<typeof FlowTable>;

const TARGET_BYTES_PER_FLOW = 256;
const DAY_MS = 86_400_000;

interface FamilyResult {
  family: 4 | 6;
  flows: number;
  tableSize: number;
  capacity: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  arrayBuffersBeforeBytes: number;
  arrayBuffersAfterBytes: number;
  heapUsedBeforeBytes: number;
  heapUsedAfterBytes: number;
  rssBytesPerFlow: number;
  arrayBufferBytesPerFlow: number;
  bytesPerSlotConstant: number;
  slotBytesPerFlow: number;
  typedArrayBytesPerFlow: number;
  /** Peak RSS of the child process during the run (includes the transient doubling copies). */
  maxRssBytes: number;
  insertSeconds: number;
  flowsInsertedPerSecond: number;
  updatePackets: number;
  updateSeconds: number;
  packetsPerSecondExisting: number;
  created: number;
  growths: number;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc (npm run bench:flows does)');
  g();
  g();
}

/** Fills `p` with flow i's 5-tuple; `reverse` swaps the direction. */
function setTuple(p: DecodedPacket, family: 4 | 6, i: number, reverse: boolean): void {
  // Client: a distinct (address, port) per flow; server: one of 256 addresses on 443/53.
  const client = (0x0a000000 | (i >>> 10)) >>> 0;
  const clientPort = 1024 + (i & 1023);
  const server = (0xc0a80000 | (i & 0xff)) >>> 0;
  const tcp = (i & 1) === 0;
  const serverPort = tcp ? 443 : 53;
  p.protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  p.tcpFlags = tcp ? 0x10 : 0;
  let s0 = 0, s1 = 0, s2 = 0, d0 = 0, d1 = 0, d2 = 0;
  if (family === 6) {
    s0 = 0x20010db8; s1 = 0x00010000; s2 = 0;
    d0 = 0x20010db8; d1 = 0x00020000; d2 = 0;
  }
  if (!reverse) {
    p.src0 = s0; p.src1 = s1; p.src2 = s2; p.src3 = client; p.srcPort = clientPort;
    p.dst0 = d0; p.dst1 = d1; p.dst2 = d2; p.dst3 = server; p.dstPort = serverPort;
    p.srcMacOffset = 6;
  } else {
    p.src0 = d0; p.src1 = d1; p.src2 = d2; p.src3 = server; p.srcPort = serverPort;
    p.dst0 = s0; p.dst1 = s1; p.dst2 = s2; p.dst3 = client; p.dstPort = clientPort;
    p.srcMacOffset = 0;
  }
}

function typedArrayBytes(table: FlowTable): number {
  let total = 0;
  for (const v of Object.values(table as unknown as Record<string, unknown>)) {
    if (ArrayBuffer.isView(v)) total += v.byteLength;
  }
  return total;
}

function runFamily(family: 4 | 6, flows: number, passes: number, maxFlows: number): FamilyResult {
  const settings: FlowSettings = {
    maxFlows,
    flowIdleTimeoutMs: { tcp: DAY_MS, udp: DAY_MS, icmp: DAY_MS, other: DAY_MS },
    tcpClosedTimeoutMs: DAY_MS,
    flowActiveTimeoutMs: DAY_MS,
    emitOpenEvents: false,
  };
  // An Ethernet header with two MACs, so the table's MAC capture path runs.
  const frame = Buffer.from('0200000000010200000000020800', 'hex');
  const p = new DecodedPacket();
  p.ipVersion = family;
  p.fragment = 0;
  p.vlanId = 0;
  p.dstMacOffset = 0;

  gc();
  const before = process.memoryUsage();
  const counters = new FlowCounters();
  const table = new FlowTable(settings, counters, null);
  let ts = 1_700_000_000_000_000;

  let t0 = process.hrtime.bigint();
  for (let i = 0; i < flows; i++) {
    setTuple(p, family, i, false);
    table.update(p, frame, 60, ts++);
  }
  const insertSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

  gc();
  const after = process.memoryUsage();

  t0 = process.hrtime.bigint();
  for (let pass = 0; pass < passes; pass++) {
    const reverse = pass % 2 === 0;
    for (let i = 0; i < flows; i++) {
      setTuple(p, family, i, reverse);
      table.update(p, frame, 60, ts++);
    }
  }
  const updateSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const updatePackets = passes * flows;
  if (table.size !== flows || counters.created !== flows) {
    throw new Error(`expected ${flows} flows, table has ${table.size} (created ${counters.created}): tuples collided or flows were evicted`);
  }

  return {
    family,
    flows,
    tableSize: table.size,
    capacity: table.capacity,
    rssBeforeBytes: before.rss,
    rssAfterBytes: after.rss,
    arrayBuffersBeforeBytes: before.arrayBuffers,
    arrayBuffersAfterBytes: after.arrayBuffers,
    heapUsedBeforeBytes: before.heapUsed,
    heapUsedAfterBytes: after.heapUsed,
    rssBytesPerFlow: (after.rss - before.rss) / flows,
    arrayBufferBytesPerFlow: (after.arrayBuffers - before.arrayBuffers) / flows,
    bytesPerSlotConstant: FlowTable.BYTES_PER_SLOT,
    slotBytesPerFlow: (FlowTable.BYTES_PER_SLOT * table.capacity) / flows,
    typedArrayBytesPerFlow: typedArrayBytes(table) / flows,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    insertSeconds,
    flowsInsertedPerSecond: flows / insertSeconds,
    updatePackets,
    updateSeconds,
    packetsPerSecondExisting: updatePackets / updateSeconds,
    created: counters.created,
    growths: counters.tableGrowths,
  };
}

function main(): number {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      flows: { type: 'string' },
      passes: { type: 'string' },
      family: { type: 'string' },
      'max-flows': { type: 'string' },
      child: { type: 'string' },
    },
  });
  const flows = Math.max(1, Number(values.flows ?? 1_000_000) | 0);
  const passes = Math.max(1, Number(values.passes ?? 3) | 0);
  const maxFlows = Math.max(flows, Number(values['max-flows'] ?? DEFAULT_FLOW_SETTINGS.maxFlows) | 0);

  if (values.child !== undefined) {
    const family = values.child === '6' ? 6 : 4;
    process.stdout.write(JSON.stringify(runFamily(family, flows, passes, maxFlows)) + '\n');
    return 0;
  }
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    process.stderr.write('bench:flows: run with node --expose-gc (npm run bench:flows does)\n');
    return 2;
  }

  const families: (4 | 6)[] = values.family === '4' ? [4] : values.family === '6' ? [6] : [4, 6];
  const machine = machineInfo();
  process.stdout.write(`bench:flows: ${flows} concurrent flows, maxFlows ${maxFlows}, ${passes} update pass(es); ${machine.nproc} x ${machine.cpuModel}, node ${machine.node}\n`);
  const results: FamilyResult[] = [];
  for (const family of families) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url),
      '--child', String(family), '--flows', String(flows), '--max-flows', String(maxFlows), '--passes', String(passes)], { encoding: 'utf8', cwd: PROJECT_ROOT });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      throw new Error(`IPv${family} child exited with ${r.status ?? r.signal}`);
    }
    results.push(JSON.parse(r.stdout) as FamilyResult);
  }

  const MiB = 2 ** 20;
  process.stdout.write('\n' + formatTable(
    ['family', 'flows', 'RSS B/flow', 'arrayBuffers B/flow', 'BYTES_PER_SLOT', 'slot B/flow', 'all typed arrays B/flow', 'peak RSS MiB', 'inserts/s', 'pkts/s existing'],
    results.map((r) => [
      `IPv${r.family}`, String(r.flows), fmt(r.rssBytesPerFlow, 1), fmt(r.arrayBufferBytesPerFlow, 1), String(r.bytesPerSlotConstant),
      fmt(r.slotBytesPerFlow, 1), fmt(r.typedArrayBytesPerFlow, 1), fmt(r.maxRssBytes / MiB, 1),
      `${fmt(r.flowsInsertedPerSecond / 1e6, 2)} M`, `${fmt(r.packetsPerSecondExisting / 1e6, 2)} M`,
    ]),
  ) + '\n\n');
  for (const r of results) {
    const met = r.rssBytesPerFlow <= TARGET_BYTES_PER_FLOW;
    process.stdout.write(`IPv${r.family}: ${r.rssBytesPerFlow.toFixed(1)} B/flow of RSS (target <= ${TARGET_BYTES_PER_FLOW}: ${met ? 'met' : 'NOT met'}); `
      + `capacity ${r.capacity}, ${r.growths} growths, rss ${(r.rssBeforeBytes / MiB).toFixed(1)} -> ${(r.rssAfterBytes / MiB).toFixed(1)} MiB\n`);
  }

  const outDir = join(PROJECT_ROOT, 'test-output');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'bench-flow-memory.json'), JSON.stringify({
    date: new Date().toISOString(),
    machine,
    command: `node --expose-gc --import tsx bench/bench-flow-memory.ts --flows ${flows} --max-flows ${maxFlows} --passes ${passes}`,
    targetBytesPerFlow: TARGET_BYTES_PER_FLOW,
    results: results.map((r) => ({ ...r, targetMet: r.rssBytesPerFlow <= TARGET_BYTES_PER_FLOW })),
  }, null, 2) + '\n');
  process.stdout.write('wrote test-output/bench-flow-memory.json\n');
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  process.stderr.write(`bench:flows: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
