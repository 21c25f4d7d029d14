/**
 * OCSF 1.8.0 Network Activity (class_uid 4001) events from flow-table slots.
 *
 * The client (SYN sender, else the endpoint judged to have started the conversation) is
 * `src_endpoint`; `traffic.*_out` is client → server. Each event carries the counts since the
 * flow's previous event, so the events of one flow sum to its totals; `connection_info.uid` is
 * the flow's id (flow-uid.ts: unique across restarts and sensors) and ties its events together,
 * and its DNS and HTTP events to them.
 */
import { randomEventUid } from './event-uid.js';
import type { FlowTable } from '../flows/flow-table.js';
import { FlowActivity, EndReason, END_REASON_NAMES } from '../flows/flow-table.js';
import { protocolName } from '../decode/constants.js';
import { ipv4ToString, ipv6ToString, macToString } from '../decode/format.js';
import { directionOf, isInternal } from './direction.js';
import { tlsVersionName, type FlowFindings } from '../protocols/inspector.js';
import { FlowUids } from './flow-uid.js';

import { OCSF_VERSION, PRODUCT, type OcsfEventBase, type OcsfMetadata } from './ocsf.js';

const ACTIVITY_NAMES: Record<number, string> = {
  [FlowActivity.OPEN]: 'Open',
  [FlowActivity.CLOSE]: 'Close',
  [FlowActivity.RESET]: 'Reset',
  [FlowActivity.TRAFFIC]: 'Traffic',
};

const DIRECTION_NAMES = ['Unknown', 'Inbound', 'Outbound', 'Lateral'];

/** `type_name` per activity, built once rather than per event. */
const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ACTIVITY_NAMES).map(([id, name]) => [id, `Network Activity: ${name}`]));

/** Lower-case IANA protocol names by number, built once (0-255). */
const PROTOCOL_NAMES: readonly string[] = Array.from({ length: 256 }, (_, n) => protocolName(n).toLowerCase());

export interface NetworkEndpoint {
  ip: string;
  port?: number;
  mac?: string;
  vlan_uid?: string;
  hostname?: string;
}

export interface NetworkActivityEvent extends OcsfEventBase {
  activity_id: number;
  activity_name: string;
  category_uid: 4;
  category_name: 'Network Activity';
  class_uid: 4001;
  class_name: 'Network Activity';
  type_uid: number;
  type_name: string;
  severity_id: 1;
  severity: 'Informational';
  time: number;
  start_time: number;
  end_time: number;
  duration: number;
  metadata: OcsfMetadata & { uid: string; log_name: string };
  src_endpoint: NetworkEndpoint;
  dst_endpoint: NetworkEndpoint;
  connection_info: {
    uid: string;
    protocol_num: number;
    protocol_name: string;
    protocol_ver_id: number;
    direction_id: number;
    direction: string;
    tcp_flags?: number;
  };
  /** True when a SYN or SYN-ACK told which side opened the connection. */
  is_src_dst_assignment_known: boolean;
  tls?: { sni?: string; version: string; sans?: Array<{ name: string; type: string }> };
  ja4_fingerprint_list?: Array<{ type_id: number; type: string; value: string }>;
  app_protocol_name?: string;
  unmapped?: Record<string, unknown>;
  traffic: { packets_out: number; packets_in: number; bytes_out: number; bytes_in: number; packets: number; bytes: number };
  /** On the final event of a flow that had interim events: the whole flow's counts. */
  cumulative_traffic?: { packets_out: number; packets_in: number; bytes_out: number; bytes_in: number; packets: number; bytes: number };
}

/** Protocols whose ports are meaningful in the flow key. */
function hasPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 132 || proto === 136;
}

function address(words: Uint32Array, k: number, version: number): string {
  return version === 4 ? ipv4ToString(words[k + 3]!) : ipv6ToString(words[k]!, words[k + 1]!, words[k + 2]!, words[k + 3]!);
}

/** For callers that pass no FlowUids of their own (a Sensor has one). */
const PROCESS_FLOW_UIDS = new FlowUids();

/** Name a client looked up for a server address (DNS answers), if any. */
export type NameResolver = (clientIp: string, serverIp: string, atMs: number) => string | undefined;

export function buildNetworkActivity(t: FlowTable, slot: number, activity: FlowActivity, tsUs: number,
  findings?: FlowFindings, resolveName?: NameResolver, uids: FlowUids = PROCESS_FLOW_UIDS): NetworkActivityEvent {
  const k = slot << 2;
  const ver = t.ipVersion[slot]!;
  const proto = t.protocol[slot]!;
  const clientIsA = t.clientIsA(slot);
  const ipA = address(t.addrA, k, ver);
  const ipB = address(t.addrB, k, ver);
  const a: NetworkEndpoint = { ip: ipA };
  const b: NetworkEndpoint = { ip: ipB };
  if (hasPorts(proto)) { a.port = t.portA[slot]!; b.port = t.portB[slot]!; }
  const macA = t.macA[slot]!, macB = t.macB[slot]!;
  if (macA >= 0) a.mac = macToString(macA);
  if (macB >= 0) b.mac = macToString(macB);
  const vlan = t.vlan[slot]!;
  if (vlan !== 0) { a.vlan_uid = String(vlan); b.vlan_uid = String(vlan); }

  const pAB = t.packetsAB[slot]! - t.reportedPacketsAB[slot]!;
  const pBA = t.packetsBA[slot]! - t.reportedPacketsBA[slot]!;
  const bAB = t.bytesAB[slot]! - t.reportedBytesAB[slot]!;
  const bBA = t.bytesBA[slot]! - t.reportedBytesBA[slot]!;
  const start = Math.floor(t.firstSeenUs[slot]! / 1000);
  const end = Math.floor(t.lastSeenUs[slot]! / 1000);
  const name = ACTIVITY_NAMES[activity] ?? 'Other';
  const internalA = isInternal(ver, t.addrA[k]!, t.addrA[k + 1]!, t.addrA[k + 2]!, t.addrA[k + 3]!);
  const internalB = isInternal(ver, t.addrB[k]!, t.addrB[k + 1]!, t.addrB[k + 2]!, t.addrB[k + 3]!);
  const direction = clientIsA ? directionOf(internalA, internalB) : directionOf(internalB, internalA);
  const ev: NetworkActivityEvent = {
    activity_id: activity,
    activity_name: name,
    category_uid: 4,
    category_name: 'Network Activity',
    class_uid: 4001,
    class_name: 'Network Activity',
    type_uid: 400100 + activity,
    type_name: TYPE_NAMES[activity] ?? `Network Activity: ${name}`,
    severity_id: 1,
    severity: 'Informational',
    time: Math.floor(tsUs / 1000),
    start_time: start,
    end_time: end,
    duration: end - start,
    metadata: { version: OCSF_VERSION, product: PRODUCT, uid: randomEventUid(), log_name: 'flow' },
    src_endpoint: clientIsA ? a : b,
    dst_endpoint: clientIsA ? b : a,
    connection_info: {
      uid: uids.of(t.uid[slot]!),
      protocol_num: proto,
      protocol_name: PROTOCOL_NAMES[proto] ?? protocolName(proto).toLowerCase(),
      protocol_ver_id: ver,
      direction_id: direction,
      direction: DIRECTION_NAMES[direction] ?? 'Unknown',
    },
    is_src_dst_assignment_known: t.clientKnown(slot),
    traffic: clientIsA
      ? { packets_out: pAB, packets_in: pBA, bytes_out: bAB, bytes_in: bBA, packets: pAB + pBA, bytes: bAB + bBA }
      : { packets_out: pBA, packets_in: pAB, bytes_out: bBA, bytes_in: bAB, packets: pAB + pBA, bytes: bAB + bBA },
  };
  if (proto === 6) ev.connection_info.tcp_flags = t.tcpFlagsA[slot]! | t.tcpFlagsB[slot]!;
  // The final event of a flow that had interim Traffic events carries its counts since the last
  // one (like every event) and, in OCSF `cumulative_traffic` ("the cumulative (running total)
  // network traffic for this event"), the whole flow's: a consumer that keeps one record per flow
  // (a Cloud Discovery log line, docs/DISCOVERY-FORMATS.md) reads them off the final event alone.
  // Absent when the final event is the flow's only report: then `traffic` is the whole flow.
  if ((activity === FlowActivity.CLOSE || activity === FlowActivity.RESET) && t.reportedPacketsAB[slot]! + t.reportedPacketsBA[slot]! > 0) {
    const pa = t.packetsAB[slot]!, pb = t.packetsBA[slot]!, ba = t.bytesAB[slot]!, bb = t.bytesBA[slot]!;
    ev.cumulative_traffic = clientIsA
      ? { packets_out: pa, packets_in: pb, bytes_out: ba, bytes_in: bb, packets: pa + pb, bytes: ba + bb }
      : { packets_out: pb, packets_in: pa, bytes_out: bb, bytes_in: ba, packets: pa + pb, bytes: ba + bb };
  }
  // A flow still open that the sensor ended (capture end, shutdown, table full): its Close says why.
  if (t.ending !== EndReason.NONE) (ev.unmapped ??= {}).flow_end_reason = END_REASON_NAMES[t.ending];
  if (findings !== undefined) addFindings(ev, findings);
  if (ev.dst_endpoint.hostname === undefined && resolveName !== undefined) {
    // No name on the wire (no SNI, encrypted ClientHello, plain TCP): the name the client
    // resolved to this address just before the flow started.
    const name = resolveName(ev.src_endpoint.ip, ev.dst_endpoint.ip, start);
    if (name !== undefined) {
      ev.dst_endpoint.hostname = name;
      (ev.unmapped ??= {}).hostname_source = 'dns';
    }
  }
  return ev;
}

/**
 * Names and TLS details (see docs/OCSF.md for the mapping): the destination name goes in
 * `dst_endpoint.hostname` with its source in `unmapped.hostname_source`; TLS/QUIC details in
 * the `tls` object, the JA4 client fingerprint in `ja4_fingerprint_list`, the negotiated or first
 * offered ALPN in `app_protocol_name`, the offered ALPN list in `unmapped.tls_alpn_offered`.
 */
function addFindings(ev: NetworkActivityEvent, f: FlowFindings): void {
  if (f.hostname !== undefined) {
    ev.dst_endpoint.hostname = f.hostname;
    (ev.unmapped ??= {}).hostname_source = f.hostnameSource ?? 'unknown';
  }
  const tls = f.tls;
  if (tls !== undefined) {
    const o: Omit<NonNullable<NetworkActivityEvent['tls']>, 'version'> = {};
    if (tls.sni !== undefined) o.sni = tls.sni;
    // The version the server chose; else QUIC's (always TLS 1.3, RFC 9001 §4.2); else the
    // highest the client offered (the server's reply was not seen).
    const offered = tls.versions !== undefined && tls.versions.length > 0 ? Math.max(...tls.versions) : undefined;
    const version = tls.serverVersion ?? (f.quicVersion !== undefined ? 0x0304 : offered);
    if (tls.certificateNames !== undefined && tls.certificateNames.length > 0) {
      o.sans = tls.certificateNames.map((name) => ({ name, type: 'DNS' }));
    }
    // OCSF requires tls.version: without any version seen there is no tls object.
    if (version !== undefined) ev.tls = { ...o, version: tlsVersionName(version) };
    if (tls.ja4 !== undefined) ev.ja4_fingerprint_list = [{ type_id: 1, type: 'JA4', value: tls.ja4 }];
    const alpn = tls.serverAlpn ?? tls.alpn?.[0];
    if (alpn !== undefined) ev.app_protocol_name = alpn;
    if (tls.alpn !== undefined && tls.alpn.length > 0) (ev.unmapped ??= {}).tls_alpn_offered = tls.alpn;
    if (tls.ech) (ev.unmapped ??= {}).tls_ech = true;
  }
  if (f.quicVersion !== undefined) (ev.unmapped ??= {}).quic_version = f.quicVersion;
}
