import { isIP } from 'node:net';
import type { FastifyPluginAsync } from 'fastify';
import { OutpostError } from '../errors.js';
import type { AreaRoutes } from '../area.js';
import { protocolName } from '../decode/constants.js';
import { ipv4ToString, ipv6ToString, macToString } from '../decode/format.js';
import type { FlowTable } from './flow-table.js';

const PROTOCOLS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, gre: 47, esp: 50, icmpv6: 58, sctp: 132 };

const endpoint = {
  type: 'object',
  required: ['ip'],
  properties: { ip: { type: 'string' }, port: { type: 'integer' }, mac: { type: 'string' } },
} as const;

const flowSchema = {
  type: 'object',
  required: ['uid', 'protocol', 'protocolName', 'ipVersion', 'client', 'server', 'clientKnown', 'packetsOut', 'packetsIn', 'bytesOut', 'bytesIn', 'firstSeen', 'lastSeen', 'closed'],
  properties: {
    uid: { type: 'string', description: 'Same as connection_info.uid in the flow\'s events.' },
    protocol: { type: 'integer' },
    protocolName: { type: 'string' },
    ipVersion: { type: 'integer' },
    vlan: { type: 'integer' },
    client: endpoint,
    server: endpoint,
    clientKnown: { type: 'boolean', description: 'Client decided by SYN/SYN-ACK rather than by who was seen first.' },
    packetsOut: { type: 'number', description: 'client → server' },
    packetsIn: { type: 'number' },
    bytesOut: { type: 'number' },
    bytesIn: { type: 'number' },
    firstSeen: { type: 'string', format: 'date-time' },
    lastSeen: { type: 'string', format: 'date-time' },
    closed: { type: 'boolean', description: 'FIN or RST seen; kept for tcpClosedTimeoutMs.' },
  },
} as const;

function addr(words: Uint32Array, k: number, version: number): string {
  return version === 4 ? ipv4ToString(words[k + 3]!) : ipv6ToString(words[k]!, words[k + 1]!, words[k + 2]!, words[k + 3]!);
}

/** RFC 5952 text of an address given by a user, to compare with the table's formatting. */
function canonicalIp(ip: string): string {
  const v = isIP(ip);
  if (v === 0) throw new OutpostError('API_VALIDATION_FAILED', { reason: `/querystring/ip: not an IPv4 or IPv6 address (got ${JSON.stringify(ip)})` }, { details: { problems: [{ path: '/querystring/ip', rule: 'format', message: 'must be an IPv4 or IPv6 address' }] } });
  if (v === 4) return ip;
  return new URL(`http://[${ip}]/`).hostname.replace(/^\[|\]$/g, '');
}

function hasPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 132 || proto === 136;
}

function describe(t: FlowTable, slot: number) {
  const k = slot << 2;
  const ver = t.ipVersion[slot]!;
  const proto = t.protocol[slot]!;
  const a: { ip: string; port?: number; mac?: string } = { ip: addr(t.addrA, k, ver) };
  const b: { ip: string; port?: number; mac?: string } = { ip: addr(t.addrB, k, ver) };
  if (hasPorts(proto)) { a.port = t.portA[slot]!; b.port = t.portB[slot]!; }
  if (t.macA[slot]! >= 0) a.mac = macToString(t.macA[slot]!);
  if (t.macB[slot]! >= 0) b.mac = macToString(t.macB[slot]!);
  const clientIsA = t.clientIsA(slot);
  const vlan = t.vlan[slot]!;
  return {
    uid: t.uid[slot]!.toString(36),
    protocol: proto,
    protocolName: protocolName(proto).toLowerCase(),
    ipVersion: ver,
    ...(vlan !== 0 ? { vlan } : {}),
    client: clientIsA ? a : b,
    server: clientIsA ? b : a,
    clientKnown: t.clientKnown(slot),
    packetsOut: clientIsA ? t.packetsAB[slot]! : t.packetsBA[slot]!,
    packetsIn: clientIsA ? t.packetsBA[slot]! : t.packetsAB[slot]!,
    bytesOut: clientIsA ? t.bytesAB[slot]! : t.bytesBA[slot]!,
    bytesIn: clientIsA ? t.bytesBA[slot]! : t.bytesAB[slot]!,
    firstSeen: new Date(Math.floor(t.firstSeenUs[slot]! / 1000)).toISOString(),
    lastSeen: new Date(Math.floor(t.lastSeenUs[slot]! / 1000)).toISOString(),
    closed: t.isClosed(slot),
  };
}

interface FlowQuery { ip?: string; port?: number; protocol?: string; after?: string; limit: number }

/** GET /v1/flows: active flows, filtered, in uid order, paged by cursor. */
export function flowRoutes(flows: FlowTable): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: FlowQuery }>('/', {
      schema: {
        summary: 'Active flows, filterable by address, port and protocol, paged',
        description: 'Flows in ascending uid order (oldest first). For the next page pass `after` = the previous page\'s `nextAfter`; this stays correct while flows come and go.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ip: { type: 'string', minLength: 2, maxLength: 45, description: 'Client or server address (IPv4 or IPv6).' },
            port: { type: 'integer', minimum: 0, maximum: 65535, description: 'Client or server port.' },
            protocol: { type: 'string', pattern: '^(tcp|udp|icmp|icmpv6|sctp|gre|esp|[0-9]{1,3})$', description: 'Name or IP protocol number.' },
            after: { type: 'string', pattern: '^[0-9a-z]{1,11}$', description: 'Cursor: only flows with a uid after this one.' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['total', 'matched', 'items', 'nextAfter'],
            properties: {
              total: { type: 'integer', description: 'Flows in the table.' },
              matched: { type: 'integer', description: 'Flows matching the filters (all pages).' },
              items: { type: 'array', items: flowSchema },
              nextAfter: { type: ['string', 'null'], description: 'Cursor for the next page; null on the last page.' },
            },
          },
        },
      },
    }, async (req) => {
      const q = req.query;
      const t = flows;
      let proto: number | undefined;
      if (q.protocol !== undefined) {
        proto = PROTOCOLS[q.protocol] ?? Number(q.protocol);
        if (!(proto >= 0 && proto <= 255)) throw new OutpostError('API_VALIDATION_FAILED', { reason: '/querystring/protocol: must be 0 to 255' }, { details: { problems: [{ path: '/querystring/protocol', rule: 'maximum', message: 'must be <= 255' }] } });
      }
      const ip = q.ip === undefined ? undefined : canonicalIp(q.ip);
      const after = q.after === undefined ? -1 : parseInt(q.after, 36);
      const matches: number[] = [];
      t.forEach((slot) => {
        if (t.uid[slot]! <= after) return;
        if (proto !== undefined && t.protocol[slot] !== proto) return;
        if (q.port !== undefined && (!hasPorts(t.protocol[slot]!) || (t.portA[slot] !== q.port && t.portB[slot] !== q.port))) return;
        if (ip !== undefined) {
          const k = slot << 2;
          const v = t.ipVersion[slot]!;
          if (addr(t.addrA, k, v) !== ip && addr(t.addrB, k, v) !== ip) return;
        }
        matches.push(slot);
      });
      matches.sort((x, y) => t.uid[x]! - t.uid[y]!);
      const page = matches.slice(0, q.limit);
      const items = page.map((slot) => describe(t, slot));
      const more = matches.length > page.length;
      // `matched` counts from the cursor on; without a cursor it is every match.
      return { total: t.size, matched: matches.length, items, nextAfter: more ? (items.at(-1)?.uid ?? null) : null };
    });
  };
}

export function flowsApiPlugin(flows: FlowTable): AreaRoutes {
  return { name: 'flows', prefix: '/v1/flows', plugin: flowRoutes(flows) };
}
