// Tests for the OCSF validator against the real OCSF 1.8.0 schema tree.
// The schema lives outside the repo (../shared/reference/ocsf-1.8.0, or $OUTPOST_OCSF_DIR);
// when it is absent every test skips instead of failing, so CI without the
// reference checkout stays green.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadOcsfSchema, type OcsfSchema } from './ocsf-schema.js';

const OCSF_DIR = process.env['OUTPOST_OCSF_DIR'] ?? path.resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');
const present = existsSync(path.join(OCSF_DIR, 'dictionary.json'));
const SKIP_MSG = `…/shared/reference/ocsf-1.8.0 absent: ${OCSF_DIR} not found (set OUTPOST_OCSF_DIR)`;

let cached: OcsfSchema | undefined;
/** Loads the schema once; returns undefined (and skips the test) when it is absent. */
function schema(t: TestContext): OcsfSchema | undefined {
  if (!present) {
    t.skip(SKIP_MSG);
    return undefined;
  }
  cached ??= loadOcsfSchema(OCSF_DIR);
  return cached;
}

type Ev = Record<string, unknown>;
const clone = <T>(v: T): T => structuredClone(v);

const METADATA = { version: '1.8.0', product: { name: 'Outpost', vendor_name: 'Outpost' } };

/** Minimal valid 4001 Network Activity (activity 6 = Traffic). Base for the event builder. */
const NETWORK_ACTIVITY: Ev = {
  activity_id: 6,
  category_uid: 4,
  class_uid: 4001,
  type_uid: 400106,
  severity_id: 1,
  time: 1700000000000,
  metadata: METADATA,
  src_endpoint: { ip: '192.168.1.10', port: 51514 },
  dst_endpoint: { ip: '93.184.216.34', port: 443 },
};

const DNS_ACTIVITY: Ev = {
  activity_id: 1, // Query
  category_uid: 4,
  class_uid: 4003,
  type_uid: 400301,
  severity_id: 1,
  time: 1700000000000,
  metadata: METADATA,
  src_endpoint: { ip: '192.168.1.10', port: 53211 },
  dst_endpoint: { ip: '192.168.1.1', port: 53 },
  query: { hostname: 'example.com', type: 'A', class: 'IN' },
};

const DHCP_ACTIVITY: Ev = {
  activity_id: 1, // Discover
  category_uid: 4,
  class_uid: 4004,
  type_uid: 400401,
  severity_id: 1,
  time: 1700000000000,
  metadata: METADATA,
  // network_endpoint's at_least_one does not include mac, so a DISCOVER needs ip 0.0.0.0.
  src_endpoint: { ip: '0.0.0.0', port: 68, mac: 'aa:bb:cc:dd:ee:ff' },
  dst_endpoint: { ip: '255.255.255.255', port: 67 },
  transaction_uid: '3903f326',
};

const DEVICE_INVENTORY: Ev = {
  activity_id: 1, // Log
  category_uid: 5,
  class_uid: 5001,
  type_uid: 500101,
  severity_id: 1,
  time: 1700000000000,
  metadata: METADATA,
  device: { type_id: 3, hostname: 'laptop-01', ip: '192.168.1.10', mac: 'aa:bb:cc:dd:ee:ff' },
};

function assertValid(s: OcsfSchema, ev: unknown): void {
  assert.deepEqual(s.validate(ev), []);
}

/** Asserts that some error starts with `path:` (and optionally contains `text`). */
function assertError(s: OcsfSchema, ev: unknown, pathPrefix: string, text?: string): void {
  const errors = s.validate(ev);
  const hit = errors.find((e) => e.startsWith(`${pathPrefix}:`) && (text === undefined || e.includes(text)));
  assert.ok(hit, `expected an error at ${pathPrefix}${text ? ` containing "${text}"` : ''}, got ${JSON.stringify(errors)}`);
}

test('4001 minimal Network Activity is valid', (t) => {
  const s = schema(t);
  if (s) assertValid(s, NETWORK_ACTIVITY);
});

test('4001 with connection_info, traffic, observables, unmapped and a deprecated attribute is valid', (t) => {
  const s = schema(t);
  if (!s) return;
  const ev = clone(NETWORK_ACTIVITY);
  ev['src_endpoint'] = {
    ip: '192.168.1.10', port: 51514, mac: 'aa:bb:cc:dd:ee:ff', hostname: 'laptop-01',
    location: { city: 'Oslo', isp: 'x' }, // location.isp is @deprecated since 1.5.0: still allowed
  };
  ev['dst_endpoint'] = { ip: '2001:db8::1', port: 443, hostname: 'example.com' };
  ev['connection_info'] = { uid: 'flow-1', direction_id: 2, protocol_num: 6, protocol_name: 'tcp', protocol_ver_id: 6 };
  ev['traffic'] = { packets_in: 10, packets_out: 12, bytes_in: 5000, bytes_out: 900, packets: 22, bytes: 5900 };
  ev['observables'] = [{ name: 'dst_endpoint.ip', type_id: 2, value: '2001:db8::1' }];
  ev['unmapped'] = { anything: { goes: [1, 'two'] } };
  ev['start_time'] = 1699999990000;
  ev['end_time'] = 1700000000000;
  ev['is_src_dst_assignment_known'] = true;
  assertValid(s, ev);
});

test('4001 missing required field fails', (t) => {
  const s = schema(t);
  if (!s) return;
  const ev = clone(NETWORK_ACTIVITY);
  delete ev['severity_id'];
  assertError(s, ev, '/severity_id', 'required');
  const ev2 = clone(NETWORK_ACTIVITY);
  delete (ev2['metadata'] as Ev)['product'];
  assertError(s, ev2, '/metadata/product', 'required');
});

test('4001 wrong type (port as string) fails', (t) => {
  const s = schema(t);
  if (!s) return;
  const ev = clone(NETWORK_ACTIVITY);
  (ev['src_endpoint'] as Ev)['port'] = '51514';
  assert.ok(s.validate(ev).includes('/src_endpoint/port: must be integer'));
  (ev['src_endpoint'] as Ev)['port'] = 70000;
  assertError(s, ev, '/src_endpoint/port', '65535');
});

test('4001 unknown attribute fails (top level and nested)', (t) => {
  const s = schema(t);
  if (!s) return;
  const ev = clone(NETWORK_ACTIVITY);
  ev['flow_id'] = 'x';
  (ev['dst_endpoint'] as Ev)['sni'] = 'example.com';
  assertError(s, ev, '/flow_id', 'unknown attribute');
  assertError(s, ev, '/dst_endpoint/sni', 'unknown attribute');
});

test('4001 wrong activity_id fails', (t) => {
  const s = schema(t);
  if (!s) return;
  const ev = clone(NETWORK_ACTIVITY);
  ev['activity_id'] = 8;
  ev['type_uid'] = 400108;
  assertError(s, ev, '/activity_id', 'must be one of');
});

test('4001 type_uid mismatch fails', (t) => {
  const s = schema(t);
  if (!s) return;
  const ev = clone(NETWORK_ACTIVITY);
  ev['type_uid'] = 400101;
  assertError(s, ev, '/type_uid', '400106');
});

test('4001 bad IP and bad MAC fail', (t) => {
  const s = schema(t);
  if (!s) return;
  const ev = clone(NETWORK_ACTIVITY);
  (ev['dst_endpoint'] as Ev)['ip'] = '300.1.1.1';
  (ev['src_endpoint'] as Ev)['mac'] = 'aa:bb:cc:dd:ee';
  assertError(s, ev, '/dst_endpoint/ip', 'IPv4 or IPv6');
  assertError(s, ev, '/src_endpoint/mac');
});

test('4001 fixed class_uid/category_uid, enums in objects and constraints', (t) => {
  const s = schema(t);
  if (!s) return;
  const ev = clone(NETWORK_ACTIVITY);
  ev['category_uid'] = 5;
  assertError(s, ev, '/category_uid', '4');
  assertError(s, { ...clone(NETWORK_ACTIVITY), class_uid: 4999 }, '/class_uid', 'known');

  const noEndpoints = clone(NETWORK_ACTIVITY);
  delete noEndpoints['src_endpoint'];
  delete noEndpoints['dst_endpoint'];
  assertError(s, noEndpoints, '/', 'at least one of: dst_endpoint, src_endpoint');

  const ci = clone(NETWORK_ACTIVITY);
  ci['connection_info'] = { direction_id: 7, protocol_num: 6 };
  assertError(s, ci, '/connection_info/direction_id', 'must be one of');

  assert.ok(s.validate('nope').length > 0);
});

test('profiles come from metadata.profiles', (t) => {
  const s = schema(t);
  if (!s) return;
  const withDevice = { ...clone(NETWORK_ACTIVITY), device: { type_id: 1, ip: '192.168.1.2' } };
  // `device` belongs to the host profile: unknown unless declared.
  assertError(s, withDevice, '/device', 'unknown attribute');
  const md = { ...METADATA, profiles: ['host'] };
  assertValid(s, { ...withDevice, metadata: md });
  // cloud profile makes `cloud` required once declared.
  assertError(s, { ...clone(NETWORK_ACTIVITY), metadata: { ...METADATA, profiles: ['cloud'] } }, '/cloud', 'required');
  // datetime profile adds <timestamp>_dt siblings.
  const dt = { ...clone(NETWORK_ACTIVITY), time_dt: '2023-11-14T22:13:20Z' };
  assertError(s, dt, '/time_dt', 'unknown attribute');
  assertValid(s, { ...dt, metadata: { ...METADATA, profiles: ['datetime'] } });
  assertError(s, { ...dt, time_dt: 'yesterday', metadata: { ...METADATA, profiles: ['datetime'] } }, '/time_dt');
  assertError(s, { ...clone(NETWORK_ACTIVITY), metadata: { ...METADATA, profiles: ['nope'] } }, '/metadata/profiles/0', 'unknown profile');
});

test('4003 minimal DNS Activity is valid', (t) => {
  const s = schema(t);
  if (!s) return;
  assertValid(s, DNS_ACTIVITY);
  const ev = clone(DNS_ACTIVITY);
  ev['answers'] = [{ rdata: '93.184.216.34', type: 'A', class: 'IN', ttl: 300 }];
  ev['rcode_id'] = 0;
  assertValid(s, ev);
  delete (ev['query'] as Ev)['hostname'];
  assertError(s, ev, '/query/hostname', 'required');
});

test('4004 minimal DHCP Activity is valid', (t) => {
  const s = schema(t);
  if (!s) return;
  assertValid(s, DHCP_ACTIVITY);
  // A bare MAC does not satisfy network_endpoint's at_least_one constraint.
  const ev = clone(DHCP_ACTIVITY);
  ev['src_endpoint'] = { mac: 'aa:bb:cc:dd:ee:ff' };
  assertError(s, ev, '/src_endpoint', 'at least one of');
});

test('5001 minimal Device Inventory Info is valid', (t) => {
  const s = schema(t);
  if (!s) return;
  assertValid(s, DEVICE_INVENTORY);
  // inventory_info detaches `device` from the host profile ("profile": null) and requires it.
  const ev = clone(DEVICE_INVENTORY);
  delete ev['device'];
  assertError(s, ev, '/device', 'required');
  const ev2 = clone(DEVICE_INVENTORY);
  delete (ev2['device'] as Ev)['type_id'];
  assertError(s, ev2, '/device/type_id', 'required');
});

test('4002 HTTP Activity compiles and enforces its at_least_one', (t) => {
  const s = schema(t);
  if (!s) return;
  const base: Ev = {
    activity_id: 3, category_uid: 4, class_uid: 4002, type_uid: 400203, severity_id: 1, time: 1700000000000,
    metadata: METADATA, dst_endpoint: { ip: '93.184.216.34', port: 80 },
  };
  assertError(s, base, '/', 'http_request, http_response');
  assertValid(s, { ...base, http_request: { http_method: 'GET', url: { url_string: 'http://example.com/', path: '/' } } });
});
