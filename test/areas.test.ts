/**
 * The areas plug in through src/area.ts: each one's configuration section is the one the full
 * schema composes, with the same defaults, and each `create` yields working services, routes,
 * metrics, health checks and job hooks.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { sectionDefaults, type AreaRoutes, type ConfigSection } from '../src/area.js';
import { configSchema, defaultConfig, type OutpostConfig } from '../src/config/index.js';
import { createLogger } from '../src/telemetry/logger.js';
import { captureArea } from '../src/capture/area.js';
import { flowsArea } from '../src/flows/area.js';
import { eventsConfigSection } from '../src/events/config.js';
import { devicesArea } from '../src/devices/area.js';
import { forwardArea } from '../src/forward/area.js';
import { discoveryArea } from '../src/discovery/area.js';
import { apiConfigSection } from '../src/api/config.js';
import { SINK_TYPES } from '../src/forward/sinks/index.js';
import { resolveForwardConfig } from '../src/forward/config.js';
import { FlowCounters, FlowTable, DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';
import { resolveConfig } from '../src/config/index.js';

const logger = createLogger('silent');
const dir = mkdtempSync(join(tmpdir(), 'outpost-areas-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A bare fastify with the areas' routes registered as the API server does (prefix, ctx). */
async function serve(routes: readonly AreaRoutes[]): Promise<FastifyInstance> {
  const app = Fastify();
  for (const r of routes) await app.register(r.plugin, { prefix: r.prefix, ctx: { logger } });
  await app.ready();
  return app;
}

describe('configuration sections', () => {
  // api and events own a section but make no running parts: their sections are listed as such.
  const sections: Array<ConfigSection<unknown>> = [
    ...[captureArea, flowsArea, forwardArea, discoveryArea, devicesArea].map((a) => a.config as ConfigSection<unknown>),
    apiConfigSection as ConfigSection<unknown>, eventsConfigSection as ConfigSection<unknown>,
  ];

  test('the full schema composes each area section as is, with the same defaults', () => {
    const defaults = defaultConfig() as unknown as Record<string, unknown>;
    const props = configSchema.properties as unknown as Record<string, unknown>;
    for (const s of sections) {
      assert.equal(props[s.key], s.schema, `configSchema.properties.${s.key} is not the area's section`);
      assert.deepEqual(sectionDefaults(s), defaults[s.key], `defaults of ${s.key}`);
    }
  });

  test('a validation error names the field inside an area section', () => {
    assert.throws(() => resolveConfig({ forward: { syslog: [{ name: 'x', port: 0 }] } }), (err: Error & { details?: { problems?: Array<{ path: string }> } }) => {
      assert.deepEqual(err.details?.problems?.map((p) => p.path), ['/forward/syslog/0/port']);
      return true;
    });
  });

  test('the forward section has one array per entry of the sink table, in table order, with its defaults', () => {
    const keys = Object.keys(forwardArea.config.schema.properties as object);
    assert.deepEqual(keys.slice(-Object.keys(SINK_TYPES).length), Object.keys(SINK_TYPES));
    const filled = resolveForwardConfig({ https: [{}], syslog: [{}], nats: [{}], cloudDiscoveryUpload: [{}] });
    for (const [type, t] of Object.entries(SINK_TYPES)) {
      assert.deepEqual((filled as unknown as Record<string, unknown[]>)[type]![0], t.defaults, `${type} defaults`);
    }
    // Arrays in the defaults are copies, never shared between sinks or with the table.
    const [a, b] = resolveForwardConfig({ nats: [{}, {}] }).nats;
    assert.notEqual(a!.servers, b!.servers);
    assert.notEqual(a!.servers, SINK_TYPES.nats.defaults.servers);
  });
});

describe('running parts', () => {
  test('forward: services, GET /v1/sinks and the outbox counters', async () => {
    const cfg: OutpostConfig['forward'] = resolveForwardConfig({ outboxDir: join(dir, 'outbox'), outboxSync: 'none', https: [{ name: 'siem', url: 'http://127.0.0.1:9/ingest', enabled: false }] });
    const parts = await forwardArea.create!(cfg, { logger, dataDir: dir });
    assert.deepEqual(parts.services?.map((s) => s.name), ['forward-outbox']);
    parts.forwarding.sink({ metadata: { uid: 'e1' } });
    const app = await serve(parts.routes ?? []);
    const res = await app.inject({ method: 'GET', url: '/v1/sinks' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as { sinks: Array<{ name: string; enabled: boolean }> };
    assert.deepEqual(body.sinks.map((s) => [s.name, s.enabled]), [['siem', false]]);
    assert.equal(parts.metrics?.outbox?.()['outbox.forward.outbox.appended'], 1);
    await app.close();
    for (const s of [...(parts.services ?? [])].reverse()) await s.stop();
    assert.deepEqual(parts.metrics?.outbox?.(), {});
  });

  test('capture: without interfaces, no capture, idle health and GET /v1/capture', async () => {
    const cfg = defaultConfig().capture;
    const parts = await captureArea.create!(cfg, { onPacket: () => {}, logger, configured: () => ({ ...cfg, interfaces: ['eth9'] }), lifecycleState: () => 'running' });
    assert.equal(parts.capture, null);
    assert.equal(parts.metrics, undefined);
    assert.deepEqual(parts.health?.capture?.(), { state: 'idle', ready: true, detail: 'no capture.interfaces configured' });
    await parts.services?.[0]?.start(new AbortController().signal);
    const app = await serve(parts.routes ?? []);
    const cap = (await app.inject({ method: 'GET', url: '/v1/capture' })).json() as { running: boolean; settings: { snaplenBytes: number } };
    assert.equal(cap.running, false);
    assert.equal(cap.settings.snaplenBytes, cfg.snaplenBytes);
    const ifaces = (await app.inject({ method: 'GET', url: '/v1/interfaces' })).json() as { interfaces: Array<{ name: string; configured: boolean }> };
    assert.ok(ifaces.interfaces.some((i) => i.name === 'eth9' && i.configured), 'the configured interface is listed');
    await app.close();
  });

  test('capture: [auto] with nothing to choose ends the start with CAPTURE_NO_INTERFACE; its GET /v1/interfaces marks the choice, not "auto"', async () => {
    const cfg = { ...defaultConfig().capture, interfaces: ['auto'] };
    const none = { interfaces: [], why: 'none' as const, detail: 'no default route and no interface up except loopback' };
    const parts = await captureArea.create!(cfg, { onPacket: () => {}, logger, configured: () => cfg, lifecycleState: () => 'running', chooseInterfaces: () => none });
    assert.equal(parts.capture, null);
    await assert.rejects(parts.services![0]!.start(new AbortController().signal), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'CAPTURE_NO_INTERFACE');
      assert.match(err.message, /name the interfaces in capture\.interfaces instead of \[auto\]/);
      return true;
    });
    assert.deepEqual(parts.health?.capture?.(), { state: 'failed', ready: false, detail: none.detail });

    const chosen = { interfaces: ['eth7'], why: 'default-route' as const, detail: 'IPv4 default route via eth7; IPv6 default route via (none)' };
    const later = await captureArea.create!({ ...cfg, interfaces: [] }, { onPacket: () => {}, logger, configured: () => cfg, lifecycleState: () => 'running', chooseInterfaces: () => chosen });
    assert.equal(later.capture, null, 'an empty list in a file still means no capture');
    const app = await serve(later.routes ?? []);
    const ifaces = (await app.inject({ method: 'GET', url: '/v1/interfaces' })).json() as { interfaces: Array<{ name: string; configured: boolean }> };
    assert.deepEqual(ifaces.interfaces.filter((i) => i.configured).map((i) => i.name), ['eth7'], 'the file\'s [auto] marks what it would choose');
    assert.ok(!ifaces.interfaces.some((i) => i.name === 'auto'), 'no interface named "auto" is listed');
    await app.close();
  });

  test('capture: an empty list means [auto] only when asked (outpost run without a file)', async () => {
    const cfg = defaultConfig().capture;
    const none = { interfaces: [], why: 'none' as const, detail: 'nothing up' };
    const parts = await captureArea.create!(cfg, { onPacket: () => {}, logger, configured: () => cfg, lifecycleState: () => 'running', emptyMeansAuto: true, chooseInterfaces: () => none });
    await assert.rejects(parts.services![0]!.start(new AbortController().signal), /set capture\.interfaces in a configuration file/);
  });

  test('flows: GET /v1/flows, health and the flows.expire hook', async () => {
    const table = new FlowTable(DEFAULT_FLOW_SETTINGS, new FlowCounters(), null);
    let flushed = 0;
    const parts = await flowsArea.create!(defaultConfig().flows, { flows: table, afterExpire: () => { flushed++; } });
    assert.deepEqual(parts.health?.flows?.(), { state: 'running', ready: true, detail: '0 active' });
    assert.deepEqual(parts.jobs?.map((j) => [j.job, j.name]), [['flows.expire', 'flows']]);
    await parts.jobs?.[0]?.run(new AbortController().signal);
    assert.equal(flushed, 1);
    const app = await serve(parts.routes ?? []);
    const res = await app.inject({ method: 'GET', url: '/v1/flows' });
    assert.equal(res.statusCode, 200);
    assert.equal((res.json() as { total: number }).total, 0);
    await app.close();
  });

  test('discovery: off gives nothing; on gives routes, counters, jobs and a closing service', async () => {
    const off = await discoveryArea.create!({ ...defaultConfig().discovery, enabled: false }, { dataDir: dir, logger });
    assert.equal(off.discovery, null);
    assert.equal(off.routes, undefined);
    const parts = await discoveryArea.create!(defaultConfig().discovery, { dataDir: dir, logger, emit: () => {} });
    assert.ok(parts.discovery);
    assert.deepEqual(parts.jobs?.map((j) => `${j.job}/${j.name}`), ['retention/discovery', 'catalog.reload/discovery', 'reports/discovery']);
    assert.equal(typeof parts.metrics?.discovery?.()['discovery.store_flushes'], 'number');
    const app = await serve(parts.routes ?? []);
    const res = await app.inject({ method: 'GET', url: '/v1/discovery/catalog' });
    assert.equal(res.statusCode, 200);
    await app.close();
    for (const s of parts.services ?? []) await s.stop();
  });
});
