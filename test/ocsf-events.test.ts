/**
 * Every event `outpost replay` emits for the nDPI corpus validates against the OCSF 1.8.0 schema
 * in ../shared/reference (class, its `extends` chain, objects and profiles resolved).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadOcsfSchema } from './support/ocsf-schema.js';
import { replay } from '../src/replay.js';
import { DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';

const schemaDir = process.env.OUTPOST_OCSF_DIR ?? resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');
const corpus = process.env.OUTPOST_NDPI_CORPUS ?? resolve(process.cwd(), '../shared/corpus/ndpi');
const missing = !existsSync(schemaDir) ? `OCSF schema absent at ${schemaDir}` : !existsSync(join(corpus, 'pcap')) ? `nDPI corpus absent at ${corpus}` : null;

test('every Network, DNS and HTTP Activity event of the corpus validates against OCSF 1.8.0', { skip: missing ?? false }, () => {
  const schema = loadOcsfSchema(schemaDir);
  const events: object[] = [];
  const files = readdirSync(join(corpus, 'pcap')).sort().map((f) => join(corpus, 'pcap', f));
  // Short timeouts so that Open/Close/Reset/Traffic (interim) events all occur.
  const flows = { ...DEFAULT_FLOW_SETTINGS, emitOpenEvents: true, flowActiveTimeoutMs: 5000, tcpClosedTimeoutMs: 1000 };
  for (const f of files) replay({ files: [f], emit: new Set(['network', 'dns', 'http']), flows, sink: (e) => events.push(e) });
  assert.ok(events.length > 6000, `expected events for the whole corpus, got ${events.length}`);
  const activities = new Set<number>();
  let invalid = 0;
  const examples: string[] = [];
  for (const e of events) {
    activities.add((e as { activity_id: number }).activity_id);
    const errors = schema.validate(e);
    if (errors.length > 0) {
      invalid++;
      if (examples.length < 5) examples.push(`${errors.join('; ')} in ${JSON.stringify(e)}`);
    }
  }
  assert.equal(invalid, 0, `invalid events:\n${examples.join('\n')}`);
  for (const a of [1, 2, 3, 6]) assert.ok(activities.has(a), `activity ${a} occurred`);
  // Names, TLS details and JA4 fingerprints are among what was validated.
  const named = events.filter((e) => (e as { dst_endpoint: { hostname?: string } }).dst_endpoint.hostname !== undefined);
  assert.ok(named.length > 500, `events with dst_endpoint.hostname: ${named.length}`);
  assert.ok(events.some((e) => (e as { tls?: unknown }).tls !== undefined), 'some events carry a tls object');
  assert.ok(events.some((e) => (e as { ja4_fingerprint_list?: unknown }).ja4_fingerprint_list !== undefined), 'some events carry JA4');
  const classes = new Set(events.map((e) => (e as { class_uid: number }).class_uid));
  for (const c of [4001, 4002, 4003]) assert.ok(classes.has(c), `class ${c} emitted`);
  const sources = new Set(events.map((e) => (e as { unmapped?: { hostname_source?: string } }).unmapped?.hostname_source));
  for (const s of ['sni', 'quic', 'http_host', 'dns']) assert.ok(sources.has(s), `a name from ${s}`);
});
