/**
 * `npm run compare:ndpi`: replays every capture of ../shared/corpus/ndpi and compares our flows
 * (the sum of each flow's Network Activity events) with ndpiReader's expected output.
 *
 * A flow is "found" when we have a flow with the same protocol and the same two endpoints
 * (either order); its counts are "identical" when packets and bytes agree per direction with
 * the same client. Results per capture go to test-output/compare-ndpi.json.
 */
import { readdirSync, readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import { parseNdpiOut, type NdpiFlow } from './ndpi-out.js';
import { replay } from '../src/replay.js';
import { DEFAULT_FLOW_SETTINGS, type FlowSettings } from '../src/flows/flow-table.js';
import type { NetworkActivityEvent } from '../src/events/network-activity.js';

export interface OurFlow {
  protocol: number;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  c2sPackets: number;
  c2sBytes: number;
  s2cPackets: number;
  s2cBytes: number;
  hostname: string | null;
  /** Our client was a guess (no SYN/SYN-ACK seen: is_src_dst_assignment_known false). */
  guessed: boolean;
}

export type Mismatch =
  | { kind: 'missing'; ndpi: NdpiFlow }
  | { kind: 'counts'; ndpi: NdpiFlow; ours: OurFlow }
  | { kind: 'direction'; ndpi: NdpiFlow; ours: OurFlow }
  | { kind: 'extra'; ours: OurFlow };

export interface FileResult {
  capture: string;
  ndpiFlows: number;
  ourFlows: number;
  found: number;
  identical: number;
  /**
   * Of `identical`: flows whose handshake neither side saw, with the same counts but our client
   * on the other side. ndpiReader's client is then its first sender by construction; ours comes
   * from ports, known servers, DNS answers or a client-only message (docs/ACCURACY.md).
   */
  guessedOtherWay: number;
  /** Same counts with client and server swapped, our client decided by the handshake. */
  reversed: number;
  /** nDPI flows labelled TLS, QUIC or HTTP that carry a Hostname/SNI, matched to one of ours. */
  named: number;
  /** ...of which our flow carries the same name. */
  sameName: number;
  nameMismatches: Array<{ ndpi: NdpiFlow; ours: string | null }>;
  mismatches: Mismatch[];
  counters: Record<string, number>;
}

export interface CompareSummary {
  captures: number;
  ndpiFlows: number;
  ourFlows: number;
  found: number;
  identical: number;
  guessedOtherWay: number;
  reversed: number;
  extra: number;
  foundPct: number;
  identicalPct: number;
  /** Identical with the same client as ndpiReader's first sender, guessed flows included. */
  sameClientAsNdpiPct: number;
  named: number;
  sameName: number;
  sameNamePct: number;
  files: FileResult[];
}

export function defaultCorpusDir(): string {
  return process.env.OUTPOST_NDPI_CORPUS ?? resolve(process.cwd(), '../shared/corpus/ndpi');
}

/**
 * Flow settings for comparison with ndpiReader. Reading a file, ndpiReader never expires a flow
 * (its idle scan runs only on live captures) and never splits one on FIN/RST, so every 5-tuple
 * is one flow for the whole capture. The same is obtained here with timeouts longer than any
 * capture. `--default-settings` compares with the shipped timeouts instead (flows then split
 * where the sensor would split them, and the figures are lower by design).
 */
export function ndpiComparableSettings(): FlowSettings {
  const never = 100 * 365 * 24 * 3600 * 1000;
  return {
    ...DEFAULT_FLOW_SETTINGS,
    flowIdleTimeoutMs: { tcp: never, udp: never, icmp: never, other: never },
    tcpClosedTimeoutMs: never,
    flowActiveTimeoutMs: never,
  };
}

function endpointKey(proto: number, ipA: string, portA: number, ipB: string, portB: number): string {
  const a = `${ipA}|${portA}`, b = `${ipB}|${portB}`;
  return a < b ? `${proto}|${a}|${b}` : `${proto}|${b}|${a}`;
}

/**
 * ndpiReader prints IPv6 addresses through `ndpi_patchIPv6Address`, which turns every ":0:"
 * into "::" in one left-to-right pass (so 2001:0:db8::1 prints as 2001::db8::1). Our canonical
 * RFC 5952 text goes through the same transform before keys are compared.
 */
export function ndpiAddressText(ip: string): string {
  return ip.includes(':') ? ip.split(':0:').join('::') : ip;
}

export function ourFlowsFromEvents(events: NetworkActivityEvent[]): OurFlow[] {
  const byUid = new Map<string, OurFlow>();
  for (const e of events) {
    const uid = e.connection_info.uid;
    let f = byUid.get(uid);
    if (!f) {
      f = {
        protocol: e.connection_info.protocol_num,
        clientIp: ndpiAddressText(e.src_endpoint.ip), clientPort: e.src_endpoint.port ?? 0,
        serverIp: ndpiAddressText(e.dst_endpoint.ip), serverPort: e.dst_endpoint.port ?? 0,
        c2sPackets: 0, c2sBytes: 0, s2cPackets: 0, s2cBytes: 0,
        hostname: e.dst_endpoint.hostname ?? null,
        guessed: !e.is_src_dst_assignment_known,
      };
      byUid.set(uid, f);
    }
    f.c2sPackets += e.traffic.packets_out;
    f.c2sBytes += e.traffic.bytes_out;
    f.s2cPackets += e.traffic.packets_in;
    f.s2cBytes += e.traffic.bytes_in;
  }
  return [...byUid.values()];
}

/** The flows whose names are scored: nDPI saw TLS, QUIC or HTTP and attached a name. */
export function isNamedByNdpi(n: NdpiFlow): boolean {
  if (n.hostname === null || n.hostname === '') return false;
  const labels = n.application.split('.');
  return labels.includes('TLS') || labels.includes('QUIC') || labels.includes('HTTP');
}

export function compareFile(pcapPath: string, outPath: string, settings: FlowSettings): FileResult {
  const ndpi = parseNdpiOut(readFileSync(outPath, 'utf8'));
  const events: NetworkActivityEvent[] = [];
  const { counters } = replay({ files: [pcapPath], emit: new Set(['network']), flows: settings, sink: (e) => events.push(e as NetworkActivityEvent) });
  const ours = ourFlowsFromEvents(events);
  const index = new Map<string, OurFlow[]>();
  for (const f of ours) {
    const k = endpointKey(f.protocol, f.clientIp, f.clientPort, f.serverIp, f.serverPort);
    const list = index.get(k);
    if (list) list.push(f); else index.set(k, [f]);
  }
  const result: FileResult = {
    capture: basename(pcapPath), ndpiFlows: ndpi.length, ourFlows: ours.length, found: 0, identical: 0, guessedOtherWay: 0, reversed: 0,
    named: 0, sameName: 0, nameMismatches: [], mismatches: [], counters,
  };
  const used = new Set<OurFlow>();
  for (const n of ndpi) {
    const k = endpointKey(n.protocol, n.clientIp, n.clientPort, n.serverIp, n.serverPort);
    const candidates = (index.get(k) ?? []).filter((f) => !used.has(f));
    if (candidates.length === 0) { result.mismatches.push({ kind: 'missing', ndpi: n }); continue; }
    result.found++;
    const same = (f: OurFlow) => f.clientIp === n.clientIp && f.clientPort === n.clientPort
      && f.c2sPackets === n.c2sPackets && f.c2sBytes === n.c2sBytes && f.s2cPackets === n.s2cPackets && f.s2cBytes === n.s2cBytes;
    const swapped = (f: OurFlow) => f.serverIp === n.clientIp && f.serverPort === n.clientPort
      && f.s2cPackets === n.c2sPackets && f.s2cBytes === n.c2sBytes && f.c2sPackets === n.s2cPackets && f.c2sBytes === n.s2cBytes;
    const exact = candidates.find(same);
    const rev = exact ? undefined : candidates.find(swapped);
    const match = exact ?? rev ?? candidates[0]!;
    used.add(match);
    if (exact) result.identical++;
    else if (rev?.guessed === true) { result.identical++; result.guessedOtherWay++; }
    else if (rev) { result.reversed++; result.mismatches.push({ kind: 'direction', ndpi: n, ours: rev }); }
    else result.mismatches.push({ kind: 'counts', ndpi: n, ours: match });
    if (isNamedByNdpi(n)) {
      result.named++;
      if (match.hostname !== null && match.hostname === n.hostname!.toLowerCase()) result.sameName++;
      else result.nameMismatches.push({ ndpi: n, ours: match.hostname });
    }
  }
  for (const f of ours) if (!used.has(f)) result.mismatches.push({ kind: 'extra', ours: f });
  return result;
}

export function compareCorpus(dir: string, settings: FlowSettings, only?: (name: string) => boolean): CompareSummary {
  const pcapDir = join(dir, 'pcap');
  const resultDir = join(dir, 'result');
  const files: FileResult[] = [];
  for (const name of readdirSync(pcapDir).sort()) {
    if (only && !only(name)) continue;
    const out = join(resultDir, `${name}.out`);
    if (!existsSync(out)) continue;
    files.push(compareFile(join(pcapDir, name), out, settings));
  }
  const sum = (f: (r: FileResult) => number) => files.reduce((s, r) => s + f(r), 0);
  const ndpiFlows = sum((r) => r.ndpiFlows);
  const found = sum((r) => r.found);
  const identical = sum((r) => r.identical);
  const guessedOtherWay = sum((r) => r.guessedOtherWay);
  return {
    captures: files.length,
    ndpiFlows,
    ourFlows: sum((r) => r.ourFlows),
    found,
    identical,
    guessedOtherWay,
    reversed: sum((r) => r.reversed),
    extra: sum((r) => r.mismatches.filter((m) => m.kind === 'extra').length),
    foundPct: ndpiFlows ? (100 * found) / ndpiFlows : 0,
    identicalPct: ndpiFlows ? (100 * identical) / ndpiFlows : 0,
    sameClientAsNdpiPct: ndpiFlows ? (100 * (identical - guessedOtherWay)) / ndpiFlows : 0,
    named: sum((r) => r.named),
    sameName: sum((r) => r.sameName),
    sameNamePct: sum((r) => r.named) ? (100 * sum((r) => r.sameName)) / sum((r) => r.named) : 0,
    files,
  };
}

function fmt(f: OurFlow | NdpiFlow): string {
  return `${f.clientIp}:${f.clientPort} -> ${f.serverIp}:${f.serverPort} ${f.c2sPackets}/${f.c2sBytes} <-> ${f.s2cPackets}/${f.s2cBytes}`;
}

async function main(): Promise<void> {
  const dir = defaultCorpusDir();
  if (!existsSync(join(dir, 'pcap'))) {
    console.error(`compare:ndpi skipped: nDPI corpus not found at ${dir} (set OUTPOST_NDPI_CORPUS)`);
    process.exit(0);
  }
  const filter = process.argv.slice(2).find((a) => !a.startsWith('--'));
  const t0 = Date.now();
  const settings = process.argv.includes('--default-settings') ? { ...DEFAULT_FLOW_SETTINGS } : ndpiComparableSettings();
  const s = compareCorpus(dir, settings, filter ? (n) => n.includes(filter) : undefined);
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/compare-ndpi.json', JSON.stringify(s, null, 1));
  if (process.argv.includes('--verbose') || filter) {
    for (const f of s.files) {
      for (const m of f.nameMismatches) console.log(`${f.capture}: name     ndpi ${m.ndpi.application} "${m.ndpi.hostname}" | ours "${m.ours ?? ''}" (line ${m.ndpi.line})`);
      for (const m of f.mismatches) {
        if (m.kind === 'missing') console.log(`${f.capture}: missing  ndpi ${fmt(m.ndpi)} (line ${m.ndpi.line})`);
        else if (m.kind === 'extra') console.log(`${f.capture}: extra    ours ${fmt(m.ours)}`);
        else console.log(`${f.capture}: ${m.kind.padEnd(8)} ndpi ${fmt(m.ndpi)} | ours ${fmt(m.ours)}`);
      }
    }
  }
  console.log(JSON.stringify({
    captures: s.captures, ndpiFlows: s.ndpiFlows, ourFlows: s.ourFlows, found: s.found, identical: s.identical,
    guessedOtherWay: s.guessedOtherWay, reversedDirection: s.reversed, extraFlows: s.extra,
    foundPct: Number(s.foundPct.toFixed(3)), identicalPct: Number(s.identicalPct.toFixed(3)),
    sameClientAsNdpiPct: Number(s.sameClientAsNdpiPct.toFixed(3)),
    namedByNdpi: s.named, sameName: s.sameName, sameNamePct: Number(s.sameNamePct.toFixed(3)),
    elapsedMs: Date.now() - t0, details: 'test-output/compare-ndpi.json',
  }, null, 2));
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) main().catch((e) => { console.error(e); process.exit(1); });
