import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, OutpostError, formatMessage, httpStatusOf, isErrorCode, isOutpostError, type ErrorCode } from './errors.js';

const docs = readFileSync(new URL('../docs/ERRORS.md', import.meta.url), 'utf8');

/** Codes documented in ERRORS.md: each is a `### CODE` heading followed by its HTTP status. */
function documented(): Map<string, number | undefined> {
  const out = new Map<string, number | undefined>();
  const re = /^### ([A-Z][A-Z0-9_]*)\s*$([\s\S]*?)(?=^#{1,3} |(?![\s\S]))/gm;
  for (const m of docs.matchAll(re)) {
    const status = /\*\*HTTP status:\*\*\s*(\d{3})/.exec(m[2] ?? '');
    out.set(m[1] ?? '', status ? Number(status[1]) : undefined);
  }
  return out;
}

test('catalogue codes follow <AREA>_<WHAT>', () => {
  for (const code of Object.keys(ERRORS)) {
    assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, code);
  }
});

test('catalogue contains the codes other modules rely on', () => {
  for (const code of [
    'CAPTURE_FILE_NOT_FOUND',
    'CAPTURE_FILE_UNREADABLE',
    'CAPTURE_FILE_NOT_A_CAPTURE',
    'CAPTURE_INTERFACE_OPEN_FAILED',
    'CONFIG_FILE_NOT_FOUND',
    'CONFIG_PARSE_FAILED',
    'CONFIG_INVALID',
    'CLI_USAGE',
    'STORE_OPEN_FAILED',
  ]) {
    assert.ok(isErrorCode(code), code);
  }
});

test('every catalogue code is documented in docs/ERRORS.md with its HTTP status', () => {
  const doc = documented();
  for (const [code, def] of Object.entries(ERRORS)) {
    assert.ok(doc.has(code), `${code} missing from docs/ERRORS.md`);
    assert.equal(doc.get(code), def.httpStatus, `${code}: HTTP status in docs/ERRORS.md differs from catalogue`);
  }
});

test('every code documented in docs/ERRORS.md exists in the catalogue', () => {
  for (const code of documented().keys()) assert.ok(isErrorCode(code), `${code} documented but not in catalogue`);
});

test('catalogue entries have a message and a valid HTTP status', () => {
  for (const [code, def] of Object.entries(ERRORS)) {
    assert.ok(def.message.length > 0, code);
    assert.ok(def.httpStatus >= 400 && def.httpStatus <= 599, code);
  }
});

test('OutpostError fills the template and carries code, status, details and cause', () => {
  const cause = new Error('ENOENT');
  const err = new OutpostError('CAPTURE_FILE_NOT_FOUND', { path: '/x.pcap' }, { details: { path: '/x.pcap' }, cause });
  assert.ok(err instanceof Error);
  assert.ok(err instanceof OutpostError);
  assert.equal(err.name, 'OutpostError');
  assert.equal(err.code, 'CAPTURE_FILE_NOT_FOUND');
  assert.equal(err.httpStatus, 404);
  assert.equal(err.message, 'capture file not found: /x.pcap');
  assert.deepEqual(err.details, { path: '/x.pcap' });
  assert.equal(err.cause, cause);
  assert.deepEqual(JSON.parse(JSON.stringify(err)), {
    statusCode: 404,
    code: 'CAPTURE_FILE_NOT_FOUND',
    error: 'OutpostError',
    message: 'capture file not found: /x.pcap',
    details: { path: '/x.pcap' },
  });
});

test('OutpostError without details/cause omits them', () => {
  const err = new OutpostError('CLI_USAGE', { reason: 'unknown option --foo' });
  assert.equal(err.message, 'unknown option --foo');
  assert.equal('details' in err, false);
  assert.equal(err.cause, undefined);
  assert.equal('details' in err.toJSON(), false);
});

test('message override and subclass names', () => {
  class CaptureFileError extends OutpostError {}
  const err = new CaptureFileError('CAPTURE_FILE_NOT_A_CAPTURE', {}, { message: 'bad magic 0xdeadbeef' });
  assert.equal(err.name, 'CaptureFileError');
  assert.equal(err.message, 'bad magic 0xdeadbeef');
  assert.ok(isOutpostError(err, 'CAPTURE_FILE_NOT_A_CAPTURE'));
  assert.equal(httpStatusOf(err), 422);
});

test('formatMessage keeps unknown placeholders visible', () => {
  assert.equal(formatMessage('a {x} b {y}', { x: 1 }), 'a 1 b {y}');
});

test('isOutpostError / httpStatusOf on foreign errors', () => {
  const foreign = Object.assign(new Error('x'), { code: 'CAPTURE_FILE_UNREADABLE' as ErrorCode });
  assert.ok(isOutpostError(foreign));
  assert.ok(isOutpostError(foreign, 'CAPTURE_FILE_UNREADABLE'));
  assert.equal(isOutpostError(foreign, 'CLI_USAGE'), false);
  assert.equal(isOutpostError(Object.assign(new Error('x'), { code: 'ENOENT' })), false);
  assert.equal(isOutpostError({ code: 'CLI_USAGE' }), false);
  assert.equal(httpStatusOf(new Error('boom')), 500);
  assert.equal(httpStatusOf(foreign), 500);
  assert.equal(httpStatusOf(new OutpostError('API_NOT_FOUND', { resource: '/x' })), 404);
});
