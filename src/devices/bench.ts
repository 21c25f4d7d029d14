/**
 * Cost of device identity on the replay pipeline: replays a capture with the Sensor (Network
 * Activity events built, sink discarding them) without and with the DeviceIdentity observer and
 * enricher, best of N runs each, and times identity lookups. Usage:
 *   node --import tsx src/devices/bench.ts bench-cache/bench-5.pcap [runs]
 */
import { readFileSync } from 'node:fs';
import { Sensor } from '../sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../flows/flow-table.js';
import { DeviceIdentity } from './identity.js';
import { DeviceStore, Trust } from './store.js';

interface Pkt { buf: Buffer; ts: number; lt: number }

function loadPcap(path: string): Pkt[] {
  const b = readFileSync(path);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const nano = (le ? b.readUInt32LE(0) : b.readUInt32BE(0)) === 0xa1b23c4d;
  const lt = le ? b.readUInt32LE(20) : b.readUInt32BE(20);
  const out: Pkt[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const sec = le ? b.readUInt32LE(o) : b.readUInt32BE(o);
    const frac = le ? b.readUInt32LE(o + 4) : b.readUInt32BE(o + 4);
    const cap = le ? b.readUInt32LE(o + 8) : b.readUInt32BE(o + 8);
    if (o + 16 + cap > b.length) break;
    out.push({ buf: b.subarray(o + 16, o + 16 + cap), ts: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac), lt });
    o += 16 + cap;
  }
  return out;
}

function once(pkts: Pkt[], withIdentity: boolean): number {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  const sensor = new Sensor({
    flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: () => {},
    ...(withIdentity ? { packetObservers: [identity.observer], enrichers: [identity.enrich] } : {}),
  });
  const t0 = process.hrtime.bigint();
  for (const p of pkts) sensor.onPacket(p.buf, 0, p.buf.length, p.buf.length, p.ts, p.lt, 0);
  sensor.flush();
  return pkts.length / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const path = process.argv[2] ?? 'bench-cache/bench-5.pcap';
const runs = Number(process.argv[3] ?? 5);
const pkts = loadPcap(path);
let base = 0, withId = 0;
for (let i = 0; i < runs; i++) { base = Math.max(base, once(pkts, false)); withId = Math.max(withId, once(pkts, true)); }
const s = new DeviceStore();
for (let i = 0; i < 10_000; i++) {
  const d = s.identify({ mac: `00:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, trust: Trust.DHCP, source: 'bench', atMs: 0 })!;
  s.bind(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, d, undefined, Trust.DHCP, 0, 1e15);
}
const n = 2_000_000;
const addrs = Array.from({ length: 10_000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) s.lookup(addrs[i % 10_000]!, 1000);
const lps = n / (Number(process.hrtime.bigint() - t0) / 1e9);
console.log(JSON.stringify({ capture: path, packets: pkts.length, runs, baselinePktPerS: Math.round(base), withIdentityPktPerS: Math.round(withId), costPct: Math.round(1000 * (1 - withId / base)) / 10, identityLookupsPerS: Math.round(lps) }));
