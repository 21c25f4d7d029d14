import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { configSchema, type OutpostConfig } from './schema.js';
import { defaultConfig } from './defaults.js';
import { configDocPath, exampleYamlPath, listSettings, renderConfigMarkdown, renderExampleYaml } from '../../tools/config-docs.js';
import { loadConfig, resolveConfig } from './load.js';
import { DEFAULT_FORWARD_CONFIG } from '../forward/config.js';
import { DEFAULT_DEVICES_CONFIG } from '../devices/config.js';
import { DEFAULT_DISCOVERY_CONFIG } from '../discovery/config.js';

const REGEN = 'run `node --import tsx tools/config-docs.ts` to regenerate';

test('schema is a valid draft-07 schema that ajv compiles in strict mode', () => {
  const ajv = new Ajv({ strict: true });
  assert.equal(ajv.validateSchema(configSchema), true, JSON.stringify(ajv.errors));
  assert.doesNotThrow(() => ajv.compile(configSchema));
  assert.equal(configSchema.$schema, 'http://json-schema.org/draft-07/schema#');
});

test('every property has a description and a default, and every object forbids unknown keys', () => {
  for (const { name, node } of listSettings()) {
    assert.ok(typeof node.description === 'string' && node.description.length > 10, `${name}: description`);
    assert.ok('default' in node, `${name}: default`);
    if (node.type === 'object') {
      assert.equal((node as { additionalProperties?: unknown }).additionalProperties, false, `${name}: additionalProperties`);
    }
  }
  assert.equal(configSchema.additionalProperties, false);
});

test('derived defaults are valid and equal what ajv useDefaults produces from {}', () => {
  const ajv = new Ajv({ useDefaults: true });
  const validate = ajv.compile(configSchema);
  const filled: unknown = {};
  assert.equal(validate(filled), true, JSON.stringify(validate.errors));
  assert.deepEqual(filled, defaultConfig());
});

test('defaults match the documented values', () => {
  const expected: OutpostConfig = {
    dataDir: './data',
    logLevel: 'info',
    runAsUser: '',
    capture: {
      interfaces: [],
      bpfFilter: '',
      snaplenBytes: 65535,
      promiscuous: true,
      bufferSizeBytes: 33554432,
      bufferTimeoutMs: 100,
      statsIntervalMs: 10000,
    },
    flows: {
      maxFlows: 1048576,
      flowIdleTimeoutMs: { tcp: 300000, udp: 120000, icmp: 60000, other: 120000 },
      tcpClosedTimeoutMs: 10000,
      flowActiveTimeoutMs: 300000,
      emitOpenEvents: false,
    },
    api: { host: '127.0.0.1', port: 8470, tokens: [], tls: { certFile: '', keyFile: '' }, rateLimitPerMinute: 3000, firstRunAccess: false },
    events: { emit: ['network', 'dns', 'http', 'dhcp', 'inventory', 'auth'], stdout: true },
    // The component sections carry their own documented defaults (and tests) in their modules.
    forward: structuredClone(DEFAULT_FORWARD_CONFIG) as OutpostConfig['forward'],
    devices: structuredClone(DEFAULT_DEVICES_CONFIG) as OutpostConfig['devices'],
    discovery: structuredClone(DEFAULT_DISCOVERY_CONFIG) as OutpostConfig['discovery'],
    control: {
      inline: {
        enabled: false, backend: 'auto', queueNumber: 3127, tcpPorts: [80, 443], udpPorts: [443], dnsPorts: [53], dnsNxdomain: false,
        failClosed: false, maxPacketsPerFlow: 8, batchPackets: 64, maxQueueLength: 4096, resetServer: true, readerRealtimePriority: 1, verdictBoostPriority: 1, verdictBoostBudgetMsPerSecond: 500, verdictBoostHoldMs: 2, verdictRealtimePriority: 0,
      },
      span: { resetInjection: false, tcpPorts: [80, 443] },
    },
  };
  assert.deepEqual(defaultConfig(), expected);
  assert.deepEqual(loadConfig(), expected);
});

test('defaultConfig returns a fresh object each call', () => {
  const a = defaultConfig();
  a.capture.interfaces.push('eth0');
  assert.deepEqual(defaultConfig().capture.interfaces, []);
  assert.deepEqual((configSchema.properties.capture.properties.interfaces as { default: unknown }).default, []);
});

// The TypeScript type is tied to the schema by the JSONSchemaType<OutpostConfig> annotation
// (tsc fails on drift). This checks the runtime side: the loaded config has exactly the schema's
// keys, at every level, so no schema property is missing from (or extra to) the typed object.
test('OutpostConfig and schema have the same keys at every level', () => {
  const cfg = resolveConfig({});
  const keysOf = (obj: unknown, prefix = ''): string[] =>
    Object.entries(obj as Record<string, unknown>).flatMap(([k, v]) => {
      const name = prefix ? `${prefix}.${k}` : k;
      return v && typeof v === 'object' && !Array.isArray(v) ? [name, ...keysOf(v, name)] : [name];
    });
  assert.deepEqual(keysOf(cfg).sort(), listSettings().map((s) => s.name).sort());
});

test('docs/CONFIG.md mentions every schema property', () => {
  const md = readFileSync(configDocPath, 'utf8');
  for (const { name } of listSettings()) assert.ok(md.includes(`\`${name}\``), `${name} missing from docs/CONFIG.md`);
});

test('docs/CONFIG.md is up to date with the schema', () => {
  assert.equal(readFileSync(configDocPath, 'utf8'), renderConfigMarkdown(), `docs/CONFIG.md is stale: ${REGEN}`);
});

test('config/outpost.example.yaml is up to date, has every setting commented, and loads to the defaults', () => {
  const yaml = readFileSync(exampleYamlPath, 'utf8');
  assert.equal(yaml, renderExampleYaml(), `config/outpost.example.yaml is stale: ${REGEN}`);
  const lines = yaml.split('\n');
  for (const { name } of listSettings()) {
    const key = name.split('.').at(-1) ?? '';
    const depth = name.split('.').length - 1;
    const i = lines.findIndex((l) => l.startsWith(`${'  '.repeat(depth)}${key}:`));
    assert.ok(i > 0, `${name} missing from example`);
    assert.match(lines[i - 1] ?? '', /^\s*# /, `${name} has no comment above it`);
  }
  assert.deepEqual(loadConfig(exampleYamlPath), defaultConfig());
});
