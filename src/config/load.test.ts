import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutpostError } from '../errors.js';
import { defaultConfig } from './defaults.js';
import { loadConfig, mergeOntoDefaults, parseConfigText, resolveConfig, type ConfigProblem } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-config-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

/** Run fn, assert it throws OutpostError with `code`, and return the error. */
function throwsCode(fn: () => unknown, code: string): OutpostError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OutpostError, `expected OutpostError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

function problems(err: OutpostError): ConfigProblem[] {
  return (err.details as { problems: ConfigProblem[] }).problems;
}

test('no path: embedded defaults', () => {
  assert.deepEqual(loadConfig(), defaultConfig());
  assert.deepEqual(loadConfig(undefined), defaultConfig());
});

test('a partial file is merged onto the defaults', () => {
  const cfg = loadConfig(
    file(`
logLevel: debug
capture:
  interfaces: [eth0, eth1]
  snaplenBytes: 256
flows:
  flowIdleTimeoutMs:
    udp: 30000
api:
  port: 9000
`),
  );
  const expected = defaultConfig();
  expected.logLevel = 'debug';
  expected.capture.interfaces = ['eth0', 'eth1'];
  expected.capture.snaplenBytes = 256;
  expected.flows.flowIdleTimeoutMs.udp = 30000;
  expected.api.port = 9000;
  assert.deepEqual(cfg, expected);
});

test('empty file, comments only, and empty sections all mean defaults', () => {
  assert.deepEqual(loadConfig(file('')), defaultConfig());
  assert.deepEqual(loadConfig(file('# nothing here\n')), defaultConfig());
  assert.deepEqual(loadConfig(file('capture:\n  # interfaces: [eth0]\nflows:\napi: ~\n')), defaultConfig());
});

test('out-of-range value: CONFIG_INVALID naming the field by JSON pointer and the rule', () => {
  const p = file('flows:\n  maxFlows: 100\n');
  const err = throwsCode(() => loadConfig(p), 'CONFIG_INVALID');
  assert.match(err.message, /\/flows\/maxFlows: must be >= 1024/);
  assert.ok(err.message.startsWith(p), 'message names the file');
  assert.deepEqual(problems(err), [{ path: '/flows/maxFlows', rule: 'minimum', message: 'must be >= 1024 (got 100)' }]);
  assert.equal((err.details as { source: string }).source, p);
  assert.equal(err.httpStatus, 500);
});

test('all problems are reported at once', () => {
  const err = throwsCode(
    () =>
      resolveConfig({
        logLevel: 'verbose',
        capture: { snaplenBytes: 10, promiscuous: 'yes', interfaces: ['eth0', 'eth0'] },
        flows: { maxFlows: 1.5, flowIdleTimeoutMs: { tcp: 0 } },
        api: { port: '8470' },
      }),
    'CONFIG_INVALID',
  );
  // One entry per path; tests below pick the rule they expect (a path can fail several rules).
  const byPath = new Map(problems(err).filter((p) => p.rule !== 'minimum' || p.path !== '/flows/maxFlows').map((p) => [p.path, p]));
  assert.ok(problems(err).some((p) => p.path === '/flows/maxFlows' && p.rule === 'minimum'), 'both rules of maxFlows reported');
  assert.equal(byPath.get('/logLevel')?.rule, 'enum');
  assert.match(byPath.get('/logLevel')?.message ?? '', /fatal, error, warn, info, debug, trace, silent/);
  assert.equal(byPath.get('/capture/snaplenBytes')?.message, 'must be >= 64 (got 10)');
  assert.equal(byPath.get('/capture/promiscuous')?.message, 'must be boolean (got "yes")');
  assert.equal(byPath.get('/capture/interfaces')?.rule, 'uniqueItems');
  assert.equal(byPath.get('/flows/maxFlows')?.message, 'must be integer (got 1.5)');
  assert.equal(byPath.get('/flows/flowIdleTimeoutMs/tcp')?.message, 'must be >= 1000 (got 0)');
  assert.equal(byPath.get('/api/port')?.message, 'must be integer (got "8470")');
  for (const p of problems(err)) assert.ok(err.message.includes(`  ${p.path}: ${p.message}`), p.path);
});

test('upper bounds', () => {
  const err = throwsCode(() => resolveConfig({ flows: { maxFlows: 16777217 }, capture: { snaplenBytes: 262145 } }), 'CONFIG_INVALID');
  assert.deepEqual(problems(err).map((p) => `${p.path}: ${p.message}`).sort(), [
    '/capture/snaplenBytes: must be <= 262144 (got 262145)',
    '/flows/maxFlows: must be <= 16777216 (got 16777217)',
  ]);
});

test('unknown keys are errors, at every level, with a suggestion when close', () => {
  const err = throwsCode(
    () => loadConfig(file('loglevel: info\ncapture:\n  snaplen: 100\nflows:\n  flowIdleTimeoutMs:\n    quic: 1000\nbogus: 1\n')),
    'CONFIG_INVALID',
  );
  const msgs = problems(err).map((p) => `${p.path}: ${p.message}`).sort();
  assert.deepEqual(msgs, [
    '/bogus: unknown setting',
    '/capture/snaplen: unknown setting (did you mean "snaplenBytes"?)',
    '/flows/flowIdleTimeoutMs/quic: unknown setting',
    '/loglevel: unknown setting (did you mean "logLevel"?)',
  ]);
  assert.ok(problems(err).every((p) => p.rule === 'additionalProperties'));
});

test('JSON pointer escaping of odd keys', () => {
  const err = throwsCode(() => resolveConfig({ 'a/b~c': 1 }), 'CONFIG_INVALID');
  assert.equal(problems(err)[0]?.path, '/a~1b~0c');
});

test('a "__proto__" key is rejected as unknown and does not pollute prototypes', () => {
  const err = throwsCode(() => loadConfig(file('__proto__:\n  polluted: true\n')), 'CONFIG_INVALID');
  assert.equal(problems(err)[0]?.path, '/__proto__');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('wrong shape: a section or the document that is not an object', () => {
  let err = throwsCode(() => loadConfig(file('capture: eth0\n')), 'CONFIG_INVALID');
  assert.equal(problems(err)[0]?.path, '/capture');
  assert.match(problems(err)[0]?.message ?? '', /must be object/);
  err = throwsCode(() => loadConfig(file('- a\n- b\n')), 'CONFIG_INVALID');
  assert.equal(problems(err)[0]?.path, '');
  assert.match(err.message, /^\S+: invalid configuration:\n {2}\/: must be object/);
});

test('missing file: CONFIG_FILE_NOT_FOUND', () => {
  const p = join(dir, 'nope.yaml');
  const err = throwsCode(() => loadConfig(p), 'CONFIG_FILE_NOT_FOUND');
  assert.deepEqual(err.details, { path: p });
  assert.match(err.message, /nope\.yaml/);
});

test('unreadable file (a directory): CONFIG_FILE_UNREADABLE', () => {
  const d = join(dir, 'isdir.yaml');
  mkdirSync(d);
  const err = throwsCode(() => loadConfig(d), 'CONFIG_FILE_UNREADABLE');
  assert.equal((err.details as { reason: string }).reason, 'EISDIR');
});

test('invalid YAML: CONFIG_PARSE_FAILED with line and column', () => {
  const p = file('capture:\n  interfaces: [eth0\napi:\n  port: 1\n');
  const err = throwsCode(() => loadConfig(p), 'CONFIG_PARSE_FAILED');
  assert.ok(err.message.startsWith(`${p}: YAML parse error:`));
  const first = (err.details as { errors: Array<{ line?: number; column?: number }> }).errors[0];
  assert.equal(typeof first?.line, 'number');
  assert.equal(typeof first?.column, 'number');
});

test('duplicate keys are a parse error', () => {
  throwsCode(() => parseConfigText('logLevel: info\nlogLevel: debug\n'), 'CONFIG_PARSE_FAILED');
});

test('mergeOntoDefaults: objects merge, arrays and scalars replace, null keeps the default', () => {
  assert.deepEqual(mergeOntoDefaults({ a: 1, b: { c: 2, d: 3 }, e: [1, 2] }, { b: { d: 4 }, e: [9], f: null, a: null }), {
    a: 1,
    b: { c: 2, d: 4 },
    e: [9],
    f: undefined,
  });
  assert.equal(mergeOntoDefaults({ a: 1 }, 'x'), 'x');
});

test('loaded config is independent of the defaults (no shared references)', () => {
  const a = loadConfig();
  a.flows.flowIdleTimeoutMs.tcp = 1;
  assert.equal(loadConfig().flows.flowIdleTimeoutMs.tcp, 300000);
});

test('capture.interfaces: [auto] alone asks for the automatic choice; mixed with names it is refused, naming the field', () => {
  assert.deepEqual(loadConfig(file('capture:\n  interfaces: [auto]\n')).capture.interfaces, ['auto']);
  assert.deepEqual(loadConfig(file('capture:\n  interfaces: []\n')).capture.interfaces, [], 'empty stays empty: no capture');
  for (const list of [['auto', 'eth0'], ['eth0', 'auto']]) {
    const err = throwsCode(() => resolveConfig({ capture: { interfaces: list } }, 'f.yaml'), 'CONFIG_INVALID');
    assert.deepEqual(problems(err).map((p) => [p.path, p.rule]), [['/capture/interfaces', 'not']]);
    assert.match(problems(err)[0]!.message, /"auto" must be the only entry/);
    assert.match(err.message, /\/capture\/interfaces: "auto" must be the only entry/);
  }
});

test('api.firstRunAccess: false by default in a file, true or false when set, a boolean only', () => {
  assert.equal(loadConfig(file('api:\n  port: 1\n')).api.firstRunAccess, false);
  assert.equal(loadConfig(file('api:\n  firstRunAccess: true\n')).api.firstRunAccess, true);
  const err = throwsCode(() => loadConfig(file('api:\n  firstRunAccess: yes please\n')), 'CONFIG_INVALID');
  assert.deepEqual(problems(err).map((p) => `${p.path}: ${p.message}`), ['/api/firstRunAccess: must be boolean (got "yes please")']);
  const typo = throwsCode(() => resolveConfig({ api: { firstRunAcess: true } }), 'CONFIG_INVALID');
  assert.match(problems(typo)[0]!.message, /did you mean "firstRunAccess"/);
});
