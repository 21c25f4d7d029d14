/**
 * Devices and users, read from the parts of the device store they need:
 *
 *   GET    /v1/devices            devices, filtered by mac / ip / hostname, paged by uid cursor
 *   GET    /v1/devices/:id        one device with its MAC links, address-binding history, users, evidence
 *   POST   /v1/devices/:id/macs   link a MAC to the device by hand (merge)                 (admin)
 *   DELETE /v1/devices/:id/macs/:mac  split a linked MAC off into a device of its own     (admin)
 *   GET    /v1/users              users agents reported, with their devices and time spans, paged by key cursor
 *
 * The agent routes (/v1/agents/…) are agent-routes.ts's; deviceApiPlugins() gives the daemon all
 * of the area's plugins.
 */
import { isIP } from 'node:net';
import type { FastifyPluginAsync } from 'fastify';
import { OutpostError } from '../errors.js';
import type { AreaRouteOptions as ApiPluginOptions, AreaRoutes as ApiPlugin } from '../area.js';
import type { UserSource } from './store/model.js';
import { OPEN_MS, TRUST_NAMES, type AddressTimeline, type Binding, type Device, type DeviceLinks, type DevicePersistence, type DeviceTable, type DeviceUsers } from './store.js';
import { agentApiPlugin, type AgentRegistry } from './agent-routes.js';
import type { DeviceIdentity } from './identity.js';

const iso = (ms: number): string => new Date(ms).toISOString();
/** Open ends (OPEN_MS) are null. */
const isoOrNull = (ms: number): string | null => (ms >= OPEN_MS ? null : iso(ms));

const summarySchema = {
  type: 'object',
  required: ['uid', 'macs', 'addresses', 'randomizedMac', 'firstSeen', 'lastSeen'],
  properties: {
    uid: { type: 'string', description: 'Stable identity: `mac:<first MAC>` or `agent:<agent id>`.' },
    macs: { type: 'array', items: { type: 'string' } },
    addresses: { type: 'array', items: { type: 'string' }, description: 'Addresses held now.' },
    hostname: { type: 'string' },
    hostnameSource: { type: 'string' },
    agentId: { type: 'string' },
    vendor: { type: 'string' },
    randomizedMac: { type: 'boolean' },
    os: { type: 'object', additionalProperties: true },
    typeId: { type: 'integer' },
    firstSeen: { type: 'string', format: 'date-time' },
    lastSeen: { type: 'string', format: 'date-time' },
  },
} as const;

const spanSchema = {
  type: 'object',
  required: ['name', 'from', 'to'],
  properties: {
    name: { type: 'string' }, domain: { type: 'string' }, uid: { type: 'string' }, upn: { type: 'string' }, from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' },
    // Sent all along but dropped by the response schema until it was listed here.
    source: { type: 'string', enum: ['agent', 'radius', 'kerberos', 'ntlm'], description: 'Where the user was seen: an agent heartbeat, or a logon on the wire.' },
  },
} as const;

const detailSchema = {
  type: 'object',
  required: [...summarySchema.required, 'links', 'clientIds', 'bindings', 'users', 'evidence'],
  properties: {
    ...summarySchema.properties,
    clientIds: { type: 'array', items: { type: 'string' } },
    links: {
      type: 'array',
      description: 'How each MAC was linked to the device (first, agent, dhcp_client_id, hostname, manual), with confidence; unlinked ones name where they went.',
      items: {
        type: 'object',
        required: ['mac', 'reason', 'confidence', 'at'],
        properties: { mac: { type: 'string' }, reason: { type: 'string' }, confidence: { type: 'number' }, at: { type: 'string', format: 'date-time' }, value: { type: 'string' }, unlinkedAt: { type: 'string', format: 'date-time' }, splitTo: { type: 'string' } },
      },
    },
    bindings: {
      type: 'array',
      description: 'Address-binding history, oldest first: [from, to) per address; `to` null while held.',
      items: {
        type: 'object',
        required: ['address', 'from', 'to', 'lastSeen', 'expires', 'trust'],
        properties: {
          address: { type: 'string' }, mac: { type: 'string' },
          from: { type: 'string', format: 'date-time' }, to: { type: ['string', 'null'] },
          lastSeen: { type: 'string', format: 'date-time' }, expires: { type: ['string', 'null'], description: 'Validity of a held binding (lease end or last seen + TTL).' },
          trust: { type: 'string', description: 'agent > dhcp > arp_ndp > dns' },
        },
      },
    },
    users: { type: 'array', items: spanSchema },
    evidence: {
      type: 'array',
      items: { type: 'object', required: ['kind', 'value', 'source', 'at'], properties: { kind: { type: 'string' }, value: { type: 'string' }, source: { type: 'string' }, at: { type: 'string', format: 'date-time' }, confidence: { type: 'number' } } },
    },
  },
} as const;

function summary(d: Device): Record<string, unknown> {
  return {
    uid: d.uid, macs: d.macs, addresses: d.addresses, randomizedMac: d.randomizedMac,
    ...(d.hostname !== undefined ? { hostname: d.hostname } : {}),
    ...(d.hostnameSource !== undefined ? { hostnameSource: d.hostnameSource } : {}),
    ...(d.agentId !== undefined ? { agentId: d.agentId } : {}),
    ...(d.vendor !== undefined ? { vendor: d.vendor } : {}),
    ...(d.os !== undefined ? { os: d.os } : {}),
    ...(d.typeId !== undefined ? { typeId: d.typeId } : {}),
    firstSeen: iso(d.firstSeenMs), lastSeen: iso(d.lastSeenMs),
  };
}

function binding(b: Binding & { address: string }): Record<string, unknown> {
  return {
    address: b.address, ...(b.mac !== undefined ? { mac: b.mac } : {}),
    from: iso(b.fromMs), to: isoOrNull(b.toMs), lastSeen: iso(b.lastMs),
    expires: b.toMs >= OPEN_MS ? isoOrNull(b.expiresMs) : null,
    trust: TRUST_NAMES[b.trust] ?? String(b.trust),
  };
}

function notFound(resource: string): OutpostError {
  return new OutpostError('API_NOT_FOUND', { resource }, { details: { resource } });
}

function badQuery(field: string, message: string): OutpostError {
  return new OutpostError('API_VALIDATION_FAILED', { reason: `/querystring/${field}: ${message}` }, { details: { problems: [{ path: `/querystring/${field}`, rule: 'format', message }] } });
}

interface DeviceQuery { mac?: string; ip?: string; hostname?: string; after?: string; limit: number }

const MAC_PATTERN = '^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$';
const canonicalMac = (mac: string): string => mac.toLowerCase().replace(/-/g, ':');

const linkResultSchema = {
  type: 'object',
  required: ['mac', 'device', 'from'],
  properties: {
    mac: { type: 'string' },
    device: { ...summarySchema, description: 'The device that holds the MAC now.' },
    from: { type: ['string', 'null'], description: 'The device the MAC was taken from (null: it had none).' },
  },
} as const;

/**
 * How user identifiers (name, uid, UPN) are shown: as stored, or as pseudonyms while the
 * discovery section pseudonymises users (then only the audited reveal call turns one back).
 */
export type UserIdentifierMask = (value: string) => string;
const asStored: UserIdentifierMask = (v) => v;

/** The parts of the device store the device routes use. */
export interface DeviceRouteParts {
  devices: DeviceTable;
  /** Merges and splits by hand. */
  links: DeviceLinks;
  /** The `ip` filter and a device's address-binding history. */
  addresses: AddressTimeline;
  /** Written at once after a merge or split by hand. */
  persistence: DevicePersistence;
}

export function deviceRoutes({ devices, links, addresses, persistence }: DeviceRouteParts, mask: UserIdentifierMask = asStored): FastifyPluginAsync<ApiPluginOptions> {
  return async (app, { ctx }) => {
    app.get<{ Querystring: DeviceQuery }>('/', {
      schema: {
        summary: 'Devices, filterable by MAC, address and host name, paged',
        description: 'Devices in ascending uid order. `ip` matches devices that hold or held the address (retained history). For the next page pass `after` = the previous page\'s `nextAfter`.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            mac: { type: 'string', pattern: MAC_PATTERN, description: 'One of the device\'s MACs.' },
            ip: { type: 'string', minLength: 2, maxLength: 45, description: 'IPv4 or IPv6 address the device holds or held.' },
            hostname: { type: 'string', minLength: 1, maxLength: 255, description: 'Case-insensitive substring of the host name.' },
            after: { type: 'string', minLength: 1, maxLength: 200, description: 'Cursor: only devices with a uid after this one.' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['total', 'matched', 'items', 'nextAfter'],
            properties: {
              total: { type: 'integer', description: 'Devices in the store.' },
              matched: { type: 'integer', description: 'Devices matching the filters from the cursor on.' },
              items: { type: 'array', items: summarySchema },
              nextAfter: { type: ['string', 'null'] },
            },
          },
        },
      },
    }, async (req) => {
      const q = req.query;
      const mac = q.mac === undefined ? undefined : canonicalMac(q.mac);
      let holders: Set<string> | undefined;
      let ip: string | undefined;
      if (q.ip !== undefined) {
        const v = isIP(q.ip);
        if (v === 0) throw badQuery('ip', `not an IPv4 or IPv6 address (got ${JSON.stringify(q.ip)})`);
        ip = v === 4 ? q.ip : new URL(`http://[${q.ip}]/`).hostname.replace(/^\[|\]$/g, '');
        holders = addresses.devicesHolding(ip);
      }
      const host = q.hostname?.toLowerCase();
      const matches: Device[] = [];
      for (const d of devices.all()) {
        if (q.after !== undefined && d.uid <= q.after) continue;
        if (mac !== undefined && !d.macs.includes(mac)) continue;
        if (ip !== undefined && !holders!.has(d.uid) && !d.addresses.includes(ip)) continue;
        if (host !== undefined && !(d.hostname ?? '').toLowerCase().includes(host)) continue;
        matches.push(d);
      }
      matches.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
      const page = matches.slice(0, q.limit);
      return { total: devices.size, matched: matches.length, items: page.map(summary), nextAfter: matches.length > page.length ? (page.at(-1)?.uid ?? null) : null };
    });

    app.get<{ Params: { id: string } }>('/:id', {
      schema: {
        summary: 'One device: MAC links, address-binding history, users and evidence',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200, description: 'Device uid (URL-encoded), e.g. mac%3A02%3A00%3A00%3A00%3A00%3A01.' } } },
        response: { 200: detailSchema },
      },
    }, async (req) => {
      const d = devices.get(req.params.id);
      if (d === undefined) throw notFound(`device ${req.params.id}`);
      return {
        ...summary(d),
        clientIds: d.clientIds,
        links: d.links.map((l) => ({
          mac: l.mac, reason: l.reason, confidence: l.confidence, at: iso(l.atMs),
          ...(l.value !== undefined ? { value: l.value } : {}),
          ...(l.unlinkedMs !== undefined ? { unlinkedAt: iso(l.unlinkedMs) } : {}),
          ...(l.splitTo !== undefined ? { splitTo: l.splitTo } : {}),
        })),
        bindings: addresses.bindingsOf(d.uid).map(binding),
        users: d.users.map((u) => ({ name: mask(u.name), ...(u.domain !== undefined ? { domain: u.domain } : {}), ...(u.uid !== undefined ? { uid: mask(u.uid) } : {}), ...(u.upn !== undefined ? { upn: mask(u.upn) } : {}), from: iso(u.fromMs), to: iso(u.toMs), source: u.source ?? 'agent' })),
        evidence: d.evidence.map((e) => ({ kind: e.kind, value: e.value, source: e.source, at: iso(e.atMs), ...(e.confidence !== undefined ? { confidence: e.confidence } : {}) })),
      };
    });

    // Merges and splits by hand: the store links MACs by evidence (client id, agent, DHCP host
    // name) with a confidence; an administrator who knows better undoes or makes a link here.
    // Both are recorded in the device's `links` (reason `manual`, or `unlinkedAt`/`splitTo`) and
    // logged with who did it; address intervals move with the MAC, so flows map accordingly.
    app.post<{ Params: { id: string }; Body: { mac: string } }>('/:id/macs', {
      schema: {
        summary: 'Link a MAC to this device (merge two identities by hand)',
        description: 'The MAC leaves the device that holds it (if any) with its address intervals; the link is recorded with reason `manual` and can be split off again with DELETE.',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } },
        body: { type: 'object', required: ['mac'], additionalProperties: false, properties: { mac: { type: 'string', pattern: MAC_PATTERN } } },
        response: { 200: linkResultSchema },
      },
    }, async (req) => {
      const mac = canonicalMac(req.body.mac);
      const target = devices.get(req.params.id);
      if (target === undefined) throw notFound(`device ${req.params.id}`);
      const from = devices.byMacAddress(mac);
      const d = links.linkMac(mac, target.uid, Date.now());
      if (d === undefined) throw notFound(`device ${req.params.id}`);
      persistence.flush();
      ctx.logger.info({ mac, uid: d.uid, from: from?.uid ?? null, by: req.principal.name }, 'device MAC linked by hand');
      return { mac, device: summary(d), from: from === undefined || from === d ? null : from.uid };
    });

    app.delete<{ Params: { id: string; mac: string } }>('/:id/macs/:mac', {
      schema: {
        summary: 'Split a MAC off this device into a device of its own (undo a link)',
        description: 'The address intervals the MAC held under this device go with it; the link stays in `links` with `unlinkedAt` and `splitTo`.',
        params: { type: 'object', required: ['id', 'mac'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 }, mac: { type: 'string', pattern: MAC_PATTERN } } },
        response: { 200: linkResultSchema },
      },
    }, async (req) => {
      const mac = canonicalMac(req.params.mac);
      const d = devices.get(req.params.id);
      if (d === undefined) throw notFound(`device ${req.params.id}`);
      if (!d.macs.includes(mac)) throw notFound(`MAC ${mac} on device ${d.uid}`);
      if (d.macs.length < 2) throw new OutpostError('DEVICE_MAC_ONLY_ONE', { mac, uid: d.uid });
      const nd = links.unlinkMac(mac, Date.now());
      if (nd === undefined) throw new OutpostError('DEVICE_MAC_ONLY_ONE', { mac, uid: d.uid });
      persistence.flush();
      ctx.logger.info({ mac, uid: d.uid, splitTo: nd.uid, by: req.principal.name }, 'device MAC split off by hand');
      return { mac, device: summary(nd), from: d.uid };
    });
  };
}

interface UserQuery { name?: string; sort?: 'lastSeen' | 'name'; after?: string; limit: number }

/** Code-point order, not locale order: a cursor must compare the same way on every machine. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Opaque cursor: base64url of [key] (name order) or [lastMs, key] (lastSeen order). */
function encodeUserCursor(key: string, lastMs: number, byName: boolean): string {
  return Buffer.from(JSON.stringify(byName ? [key] : [lastMs, key])).toString('base64url');
}

function decodeUserCursor(after: string, byName: boolean): { key: string; lastMs: number } {
  let v: unknown;
  try { v = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')); } catch { v = undefined; }
  if (byName && Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return { key: v[0], lastMs: 0 };
  if (!byName && Array.isArray(v) && v.length === 2 && Number.isFinite(v[0]) && typeof v[1] === 'string') return { lastMs: v[0] as number, key: v[1] };
  throw badQuery('after', `not a cursor of this listing (pass the previous page's nextAfter with the same sort)`);
}

interface UserEntry {
  name: string; domain?: string; uid?: string; upn?: string;
  firstMs: number; lastMs: number;
  devices: Map<string, { uid: string; hostname?: string; spans: Array<{ from: string; to: string; source: UserSource }> }>;
}

export function userRoutes(userSpans: DeviceUsers, mask: UserIdentifierMask = asStored): FastifyPluginAsync<ApiPluginOptions> {
  return async (app) => {
    app.get<{ Querystring: UserQuery }>('/', {
      schema: {
        summary: 'Users reported by endpoint agents, with their devices and time spans, paged',
        description: 'One entry per user (name and domain), sorted by most recently seen (`sort=lastSeen`, the default) or by domain and name (`sort=name`). Each span is [from, to] of consecutive heartbeats naming the user on that device; `active` when a span holds now. For the next page pass `after` = the previous page\'s `nextAfter` with the same `sort`: paging is by key, not by offset, so users added meanwhile do not shift a page (a user seen again moves up in `lastSeen` order, as that order says).',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 256, description: 'Case-insensitive substring of the user name.' },
            sort: { type: 'string', enum: ['lastSeen', 'name'], default: 'lastSeen' },
            after: { type: 'string', minLength: 1, maxLength: 1200, description: 'Cursor: the previous page\'s `nextAfter`.' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['total', 'items', 'nextAfter'],
            properties: {
              total: { type: 'integer', description: 'Users matching the name filter (all of them, not only this page).' },
              nextAfter: { type: ['string', 'null'], description: 'Cursor for the next page; null on the last page.' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['name', 'firstSeen', 'lastSeen', 'active', 'devices'],
                  properties: {
                    name: { type: 'string' }, domain: { type: 'string' }, uid: { type: 'string' }, upn: { type: 'string' },
                    firstSeen: { type: 'string', format: 'date-time' }, lastSeen: { type: 'string', format: 'date-time' },
                    active: { type: 'boolean' },
                    devices: {
                      type: 'array',
                      items: {
                        type: 'object',
                        required: ['uid', 'spans'],
                        properties: {
                          uid: { type: 'string' }, hostname: { type: 'string' },
                          spans: { type: 'array', items: { type: 'object', required: ['from', 'to', 'source'], properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, source: { type: 'string', enum: ['agent', 'radius', 'kerberos', 'ntlm'], description: 'Where the user was seen: an agent heartbeat, or a logon on the wire (RADIUS accounting, Kerberos AS, NTLM).' } } } },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    }, async (req) => {
      const filter = req.query.name?.toLowerCase();
      const users = new Map<string, UserEntry>();
      for (const { device: d, span: s } of userSpans.spans()) {
        // Filtered and keyed on what the caller sees (the pseudonym while users are masked).
        const name = mask(s.name);
        if (filter !== undefined && !name.toLowerCase().includes(filter)) continue;
        const key = `${s.domain ?? ''}\\${name}`;
        let u = users.get(key);
        if (u === undefined) {
          u = { name, firstMs: s.fromMs, lastMs: s.toMs, devices: new Map(), ...(s.domain !== undefined ? { domain: s.domain } : {}) };
          users.set(key, u);
        }
        if (s.uid !== undefined) u.uid = mask(s.uid);
        if (s.upn !== undefined) u.upn = mask(s.upn);
        u.firstMs = Math.min(u.firstMs, s.fromMs);
        u.lastMs = Math.max(u.lastMs, s.toMs);
        let dev = u.devices.get(d.uid);
        if (dev === undefined) { dev = { uid: d.uid, spans: [], ...(d.hostname !== undefined ? { hostname: d.hostname } : {}) }; u.devices.set(d.uid, dev); }
        // Spans stored before spans had a source are an agent's (store/model.ts).
        dev.spans.push({ from: iso(s.fromMs), to: iso(s.toMs), source: s.source ?? 'agent' });
      }
      const now = Date.now();
      const byName = req.query.sort === 'name';
      const all = [...users.entries()].map(([key, u]) => ({ key, u }));
      all.sort(byName ? (a, b) => compareKeys(a.key, b.key) : (a, b) => b.u.lastMs - a.u.lastMs || compareKeys(a.key, b.key));
      let from = 0;
      if (req.query.after !== undefined) {
        const cursor = decodeUserCursor(req.query.after, byName);
        // Keyset: the first entry that sorts after the cursor's (lastMs, key).
        from = all.findIndex(({ key, u }) => (byName
          ? compareKeys(key, cursor.key) > 0
          : u.lastMs < cursor.lastMs || (u.lastMs === cursor.lastMs && compareKeys(key, cursor.key) > 0)));
        if (from < 0) from = all.length;
      }
      const page = all.slice(from, from + req.query.limit);
      const last = page.at(-1);
      return {
        total: all.length,
        nextAfter: last !== undefined && from + page.length < all.length ? encodeUserCursor(last.key, last.u.lastMs, byName) : null,
        items: page.map(({ u }) => ({
          name: u.name,
          ...(u.domain !== undefined ? { domain: u.domain } : {}), ...(u.uid !== undefined ? { uid: u.uid } : {}), ...(u.upn !== undefined ? { upn: u.upn } : {}),
          firstSeen: iso(u.firstMs), lastSeen: iso(u.lastMs), active: u.lastMs >= now,
          devices: [...u.devices.values()].map((d) => ({ ...d, spans: d.spans.sort((a, b) => a.from.localeCompare(b.from)) })),
        })),
      };
    });
  };
}

/**
 * The device area's plugins for the daemon's plugin list: devices and users need the device
 * store (devices.enabled); the agents plugin is there either way (enrollment and heartbeats only
 * with the store, see agentApiPlugin).
 */
export function deviceApiPlugins(identity: DeviceIdentity | null, registry: AgentRegistry, mask: UserIdentifierMask = asStored): ApiPlugin[] {
  const store = identity?.store;
  return [
    agentApiPlugin(registry, identity),
    ...(store ? [
      { name: 'devices', prefix: '/v1/devices', plugin: deviceRoutes({ devices: store.devices, links: store.links, addresses: store.addresses, persistence: store.persistence }, mask) },
      { name: 'users', prefix: '/v1/users', plugin: userRoutes(store.users, mask) },
    ] : []),
  ];
}
