/**
 * OCSF 1.8.0 DNS Activity (class_uid 4003, category 4 Network Activity) events from a parsed
 * DNS message (RFC 1035 §4). activity_id: 1 Query, 2 Response (from QR), or 6 Traffic when the
 * caller reports a query and its response together. Endpoints come from the caller: for a query
 * src is the client, for a response src is the server, as on the wire.
 */
import { randomEventUid } from './event-uid.js';
import { isIP } from 'node:net';
import { OCSF_VERSION, PRODUCT, type OcsfEventBase, type OcsfMetadata } from './ocsf.js';
import type { DnsMessageInfo } from '../protocols/dns/message.js';

export interface DnsEndpoint {
  ip: string;
  port?: number;
}

export interface DnsEventContext {
  src: DnsEndpoint;
  dst: DnsEndpoint;
  /** Event time (ms since epoch), normally the packet's capture time. */
  timeMs: number;
  /** Override: 6 (Traffic) for a query+response pair; default from QR (1 Query / 2 Response). */
  activityId?: 1 | 2 | 6;
  queryTimeMs?: number;
  responseTimeMs?: number;
  /** Network Activity direction_id (0 Unknown, 1 Inbound, 2 Outbound, 3 Lateral). */
  directionId?: 0 | 1 | 2 | 3;
  /** connection_info.uid of the UDP / TCP flow that carried the message (its Network Activity events' uid). */
  flowUid?: string;
}

const ACTIVITY_NAMES: Record<number, string> = { 1: 'Query', 2: 'Response', 6: 'Traffic' };
const DIRECTION_NAMES = ['Unknown', 'Inbound', 'Outbound', 'Lateral'];

/** OCSF dns_activity rcode_id captions; RCODE is 4 bits in the header (RFC 1035 §4.1.1). */
const RCODE_NAMES: Record<number, string> = {
  0: 'NoError',
  1: 'FormError',
  2: 'ServError',
  3: 'NXDomain',
  4: 'NotImp',
  5: 'Refused',
  6: 'YXDomain',
  7: 'YXRRSet',
  8: 'NXRRSet',
  9: 'NotAuth',
  10: 'NotZone',
  11: 'DSOTYPENI',
  24: 'Unassigned',
};

/** OCSF opcode_id captions (RFC 1035 §4.1.1, RFC 1996, RFC 2136, RFC 8490). */
const OPCODE_NAMES: Record<number, string> = {
  0: 'Query',
  1: 'Inverse Query',
  2: 'Status',
  3: 'Reserved',
  4: 'Notify',
  5: 'Update',
  6: 'DSO Message',
};

/** dns_answer.flag_ids: 1 AA, 2 TC, 3 RD, 4 RA, 5 AD, 6 CD. */
const FLAG_NAMES = ['', 'Authoritative Answer', 'Truncated Response', 'Recursion Desired', 'Recursion Available', 'Authentic Data', 'Checking Disabled'];

export interface DnsQueryObject {
  hostname: string;
  type: string;
  class: string;
  opcode?: string;
  opcode_id?: number;
  packet_uid: number;
}

export interface DnsAnswerObject {
  rdata: string;
  type: string;
  class: string;
  ttl: number;
  packet_uid: number;
  flag_ids?: number[];
  flags?: string[];
}

export interface DnsActivityEvent extends OcsfEventBase {
  activity_id: number;
  activity_name: string;
  category_uid: 4;
  category_name: 'Network Activity';
  class_uid: 4003;
  class_name: 'DNS Activity';
  type_uid: number;
  type_name: string;
  severity_id: 1;
  severity: 'Informational';
  time: number;
  metadata: OcsfMetadata & { uid: string; log_name: string };
  src_endpoint: DnsEndpoint;
  dst_endpoint: DnsEndpoint;
  connection_info: {
    uid?: string;
    protocol_num: number;
    protocol_name: string;
    protocol_ver_id?: number;
    direction_id: number;
    direction: string;
  };
  query?: DnsQueryObject;
  answers?: DnsAnswerObject[];
  rcode_id?: number;
  rcode?: string;
  query_time?: number;
  response_time?: number;
  unmapped?: Record<string, unknown>;
}

function endpoint(e: DnsEndpoint): DnsEndpoint {
  return e.port === undefined ? { ip: e.ip } : { ip: e.ip, port: e.port };
}

/** Builds the event; `info` must come from a parse that returned ParseStatus.OK. */
export function buildDnsActivityEvent(info: DnsMessageInfo, ctx: DnsEventContext): DnsActivityEvent {
  const activity = ctx.activityId ?? (info.qr ? 2 : 1);
  const activityName = ACTIVITY_NAMES[activity] ?? 'Other';
  const ver = isIP(ctx.src.ip);
  const direction = ctx.directionId ?? 0;
  const ev: DnsActivityEvent = {
    activity_id: activity,
    activity_name: activityName,
    category_uid: 4,
    category_name: 'Network Activity',
    class_uid: 4003,
    class_name: 'DNS Activity',
    type_uid: 400300 + activity,
    type_name: `DNS Activity: ${activityName}`,
    severity_id: 1,
    severity: 'Informational',
    time: Math.floor(ctx.timeMs),
    metadata: { version: OCSF_VERSION, product: PRODUCT, uid: randomEventUid(), log_name: info.protocol },
    src_endpoint: endpoint(ctx.src),
    dst_endpoint: endpoint(ctx.dst),
    connection_info: {
      ...(ctx.flowUid !== undefined ? { uid: ctx.flowUid } : {}),
      protocol_num: info.transport === 'tcp' ? 6 : 17,
      protocol_name: info.transport,
      ...(ver === 4 || ver === 6 ? { protocol_ver_id: ver } : {}),
      direction_id: direction,
      direction: DIRECTION_NAMES[direction] ?? 'Unknown',
    },
  };
  if (info.hasQuestion) {
    const opcodeName = OPCODE_NAMES[info.opcode];
    ev.query = {
      hostname: info.qname,
      type: info.qtypeName,
      class: info.qclassName,
      ...(opcodeName !== undefined ? { opcode: opcodeName, opcode_id: info.opcode } : { opcode: String(info.opcode), opcode_id: 99 }),
      packet_uid: info.id,
    };
  }
  if (info.qr) {
    const flagIds: number[] = [];
    if (info.aa) flagIds.push(1);
    if (info.tc) flagIds.push(2);
    if (info.rd) flagIds.push(3);
    if (info.ra) flagIds.push(4);
    if (info.ad) flagIds.push(5);
    if (info.cd) flagIds.push(6);
    const answers: DnsAnswerObject[] = [];
    for (const a of info.answers) {
      if (a.data === undefined) continue; // rdata is required; only A/AAAA/CNAME/PTR/NS/DNAME carry text
      const o: DnsAnswerObject = { rdata: a.data, type: a.typeName, class: a.className, ttl: a.ttl, packet_uid: info.id };
      if (flagIds.length > 0) {
        o.flag_ids = flagIds.slice();
        o.flags = flagIds.map((f) => FLAG_NAMES[f] ?? 'Other');
      }
      answers.push(o);
    }
    if (answers.length > 0) ev.answers = answers;
    const rcodeId = info.rcode <= 11 ? info.rcode : 24; // 12–15 are unassigned
    ev.rcode_id = rcodeId;
    ev.rcode = RCODE_NAMES[rcodeId] ?? 'Other';
  }
  if (ctx.queryTimeMs !== undefined) ev.query_time = Math.floor(ctx.queryTimeMs);
  if (ctx.responseTimeMs !== undefined) ev.response_time = Math.floor(ctx.responseTimeMs);
  if (info.answersOmitted > 0 || info.protocol !== 'dns') {
    ev.unmapped = { dns_protocol: info.protocol, answers_omitted: info.answersOmitted };
  }
  return ev;
}

/**
 * When each outstanding query was sent, so that its response's event carries `query_time` and
 * `response_time` together. A response answers the query of the same flow (client address and
 * port, server address and port) with the same ID (RFC 1035 §4.1.1, §7.3; RFC 5452 §9.1); the
 * key is the flow's number and the ID. Bounded: past `max` outstanding queries the oldest is
 * dropped and counted (`dns.query_times_evicted`), as is a response with no query kept
 * (`dns.responses_unmatched`: the query was missed, dropped, or answered twice).
 */
/**
 * One number for (flow, DNS message id): the flow counter times 2^16 plus the 16-bit id (RFC 1035
 * §4.1.1). Exact while the counter stays below 2^37 flows, so no string is built per message.
 */
function queryKey(flowUid: number, id: number): number {
  return flowUid * 65536 + (id & 0xffff);
}

export class DnsQueryTimes {
  private readonly sent = new Map<number, number>();
  evicted = 0;
  matched = 0;
  unmatched = 0;

  constructor(private readonly max = 4096) {}

  /** A query of `flowUid` with `id` was seen at timeMs. */
  query(flowUid: number, id: number, timeMs: number): void {
    const key = queryKey(flowUid, id);
    this.sent.delete(key);
    this.sent.set(key, timeMs);
    if (this.sent.size > this.max) {
      this.sent.delete(this.sent.keys().next().value as number);
      this.evicted++;
    }
  }

  /** A response of `flowUid` with `id`: the time of its query (forgotten now), if one was kept. */
  response(flowUid: number, id: number): number | undefined {
    const key = queryKey(flowUid, id);
    const t = this.sent.get(key);
    if (t === undefined) { this.unmatched++; return undefined; }
    this.sent.delete(key);
    this.matched++;
    return t;
  }

  get size(): number { return this.sent.size; }

  snapshot(): Record<string, number> {
    return { 'dns.responses_matched': this.matched, 'dns.responses_unmatched': this.unmatched, 'dns.query_times_evicted': this.evicted };
  }
}
