/**
 * `npm run bench:devices [-- FILE [RUNS]]`: the cost of device identity on the packet pipeline
 * and the rate of identity lookups.
 *
 * The capture (default bench-cache/bench-5.pcap, which `OUTPOST_BENCH_COPIES=5 npm run bench`
 * builds) is read into memory once, then replayed through the Sensor with Network Activity events
 * built and discarded, without and with the DeviceIdentity observer and enricher, alternating,
 * best of RUNS each: the difference is what identity costs per packet, without disk reads in it.
 * Lookups, three ways: 10,000 devices with one address each, every lookup a hit (the best case);
 * 10,000 addresses each handed to 8 devices in turn (a DHCP pool with churn), looked up at random
 * times across that history, each answer checked against the holder at that time; and addresses
 * the store never saw (the usual case for the client side of transit or server traffic).
 * Links: fresh randomized MACs seen first by ARP, then in a DHCP request carrying a client id the
 * store knows (the ARP device is folded into the known one), against 100,000 addresses.
 */
import { existsSync } from 'node:fs';
import { built, formatTable, machineInfo } from './bench-common.js';

// The built modules (dist/), the code that ships; `npm run build` first.
const { readCaptureFile, CaptureFileCounters } = await built<typeof import('../src/capture/capture-file.js')>('capture/capture-file.js');
const { Sensor } = await built<typeof import('../src/sensor.js')>('sensor.js');
const { DEFAULT_FLOW_SETTINGS } = await built<typeof import('../src/flows/flow-table.js')>('flows/flow-table.js');
const { DeviceIdentity } = await built<typeof import('../src/devices/identity.js')>('devices/identity.js');
const { DeviceStore, Trust } = await built<typeof import('../src/devices/store.js')>('devices/store.js');
import { mulberry32 } from '../test/support/prng.js';

interface Pkt { buf: Buffer; wireLen: number; ts: number; lt: number }

const path = process.argv[2] ?? 'bench-cache/bench-5.pcap';
const runs = Number(process.argv[3] ?? 7);
if (!existsSync(path)) {
  console.error(`bench-devices: ${path} is missing; build it with OUTPOST_BENCH_COPIES=5 npm run bench (needs ../shared), or pass a capture`);
  process.exit(2);
}

const pkts: Pkt[] = [];
readCaptureFile(path, (buf, offset, capLen, wireLen, tsUs, linkType) => {
  // The reader reuses its buffer: keep a copy of each packet.
  pkts.push({ buf: Buffer.from(buf.subarray(offset, offset + capLen)), wireLen, ts: tsUs, lt: linkType });
}, new CaptureFileCounters());

function once(withIdentity: boolean): number {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  const sensor = new Sensor({
    flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: () => {},
    ...(withIdentity ? { packetObservers: [identity.observer], stages: [identity.stage], httpObservers: [identity.onHttpRequest] } : {}),
  });
  const t0 = process.hrtime.bigint();
  for (const p of pkts) sensor.onPacket(p.buf, 0, p.buf.length, p.wireLen, p.ts, p.lt, 0);
  sensor.flush();
  return pkts.length / (Number(process.hrtime.bigint() - t0) / 1e9);
}

let base = 0, withId = 0;
for (let i = 0; i < runs; i++) { base = Math.max(base, once(false)); withId = Math.max(withId, once(true)); }

const store = new DeviceStore();
const addrs = Array.from({ length: 10_000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
for (let i = 0; i < addrs.length; i++) {
  const d = store.links.identify({ mac: `00:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, trust: Trust.DHCP, source: 'bench', atMs: 0 })!;
  store.addresses.bind(addrs[i]!, d, undefined, Trust.DHCP, 0, 1e15);
}
const n = 2_000_000;
let hits = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) if (store.addresses.lookup(addrs[i % addrs.length]!, 1000) !== undefined) hits++;
const lookupsPerS = n / (Number(process.hrtime.bigint() - t0) / 1e9);

// A pool with churn: address i held by device (i + k) mod 10,000 during [k·H, (k+1)·H), k < 8.
const HOLD_MS = 3_600_000, TURNS = 8;
const churn = new DeviceStore({ maxDevices: 20_000 });
const devs = addrs.map((_, i) => churn.links.identify({ mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, trust: Trust.DHCP, source: 'bench', atMs: 0 })!);
for (let k = 0; k < TURNS; k++) {
  for (let i = 0; i < addrs.length; i++) churn.addresses.bind(addrs[i]!, devs[(i + k) % devs.length]!, undefined, Trust.DHCP, k * HOLD_MS, (k + 1) * HOLD_MS);
}
const rnd = mulberry32(7);
const probes = Array.from({ length: 100_000 }, () => { const i = Math.floor(rnd() * addrs.length); const at = Math.floor(rnd() * TURNS * HOLD_MS); return { a: addrs[i]!, at, want: devs[(i + Math.floor(at / HOLD_MS)) % devs.length]!.uid }; });
let churnRight = 0;
const t1 = process.hrtime.bigint();
for (let i = 0; i < n; i++) { const p = probes[i % probes.length]!; if (churn.addresses.lookup(p.a, p.at)?.uid === p.want) churnRight++; }
const churnPerS = n / (Number(process.hrtime.bigint() - t1) / 1e9);

const unknown = Array.from({ length: 10_000 }, (_, i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
let missHits = 0;
const t2 = process.hrtime.bigint();
for (let i = 0; i < n; i++) if (store.addresses.lookup(unknown[i % unknown.length]!, 1000) !== undefined) missHits++;
const missPerS = n / (Number(process.hrtime.bigint() - t2) / 1e9);

// Links: 50,000 devices holding 100,000 addresses; then 20,000 fresh randomized MACs, each seen
// by ARP first (a weak device with an address of its own), whose DHCP request then carries the
// client id of one of the first 1,000 devices: the weak device is folded into that one.
const big = new DeviceStore({ maxDevices: 100_000 }); // room for the ARP devices: no eviction of the owners
const owners: string[] = [];
for (let i = 0; i < 50_000; i++) {
  const hex = i.toString(16).padStart(6, '0');
  const d = big.links.identify({ mac: `00:10:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`, clientId: `01${hex}`, trust: Trust.DHCP, source: 'bench', atMs: 0 })!;
  if (i < 1000) owners.push(`01${hex}`);
  big.addresses.bind(`10.${(2 * i) >> 16}.${((2 * i) >> 8) & 255}.${(2 * i) & 255}`, d, undefined, Trust.DHCP, 0, 1e15);
  big.addresses.bind(`10.${(2 * i + 1) >> 16}.${((2 * i + 1) >> 8) & 255}.${(2 * i + 1) & 255}`, d, undefined, Trust.DHCP, 0, 1e15);
}
const LINKS = 20_000;
const linkedBefore = big.counters.macLinked;
const t3 = process.hrtime.bigint();
for (let i = 0; i < LINKS; i++) {
  const hex = i.toString(16).padStart(6, '0');
  const fresh = `02:20:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
  // Seen first by ARP (a weak device of its own, holding an address), then in a DHCP request.
  const weak = big.links.identify({ mac: fresh, trust: Trust.NEIGHBOR, source: 'arp', atMs: 1000 + i })!;
  big.addresses.bind(`172.16.${i >> 8}.${i & 255}`, weak, fresh, Trust.NEIGHBOR, 1000 + i);
  big.links.identify({ mac: fresh, clientId: owners[i % owners.length]!, trust: Trust.DHCP, source: 'bench', atMs: 1000 + i });
}
const linksPerS = LINKS / (Number(process.hrtime.bigint() - t3) / 1e9);
const linksMade = big.counters.macLinked - linkedBefore;

const m = machineInfo();
console.log(`bench-devices: ${path}, ${pkts.length} packets in memory, best of ${runs} run(s) each; machine ${m.nproc} x ${m.cpuModel}, node ${m.node}`);
console.log(formatTable(['measure', 'result'], [
  ['replay without device identity', `${(base / 1e6).toFixed(3)} M packets/s`],
  ['replay with device identity (observer + enricher)', `${(withId / 1e6).toFixed(3)} M packets/s`],
  ['cost of identity', `${(100 * (1 - withId / base)).toFixed(1)} %`],
  ['identity lookups (AddressTimeline.lookup, 10,000 devices)', `${(lookupsPerS / 1e6).toFixed(2)} M/s (${hits} of ${n} found)`],
  [`lookups in a pool with churn (${TURNS} holders per address, random times)`, `${(churnPerS / 1e6).toFixed(2)} M/s (${churnRight} of ${n} right)`],
  ['lookups of addresses the store never saw', `${(missPerS / 1e6).toFixed(2)} M/s (${missHits} found)`],
  ['ARP-seen MACs linked by DHCP client id, 100,000 addresses in the table', `${Math.round(linksPerS).toLocaleString('en-US')} /s (${linksMade} of ${LINKS} linked)`],
]));
console.log(JSON.stringify({ capture: path, packets: pkts.length, runs, baselinePktPerS: Math.round(base), withIdentityPktPerS: Math.round(withId), costPct: Math.round(1000 * (1 - withId / base)) / 10, identityLookupsPerS: Math.round(lookupsPerS), lookupHits: hits, churnLookupsPerS: Math.round(churnPerS), churnRight, missLookupsPerS: Math.round(missPerS), missHits, linksPerS: Math.round(linksPerS), linksMade }));
if (churnRight !== n || missHits !== 0 || hits !== n || linksMade !== LINKS) { console.error('bench-devices: a lookup gave a wrong answer'); process.exitCode = 1; }
