/**
 * A strict CEF parser for tests, written from the specification: Implementing ArcSight Common
 * Event Format (CEF), Version 25 (September 28 2017), sections "CEF Header and Extension",
 * "Character Encoding", "CEF Key Names for Event Producers" and "Custom Dictionary Extensions".
 * Anything the spec does not allow, and anything ambiguous, fails an assertion. It shares no code
 * with the formatter (src/forward/cef.ts).
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';

/** The custom fields (each has a `<key>Label`). */
export const CUSTOM = ['cs1', 'cs2', 'cs3', 'cs4', 'cs5', 'cs6', 'cn1', 'cn2', 'cn3', 'cfp1', 'cfp2', 'cfp3', 'cfp4', 'c6a1', 'c6a2', 'c6a3', 'c6a4', 'flexString1', 'flexString2', 'flexDate1', 'deviceCustomDate1', 'deviceCustomDate2'];
/** The rev 25 key names for event producers (short names), labels included. */
export const DICTIONARY = new Set([
  'act', 'app', 'cat', 'cnt', 'destinationDnsDomain', 'destinationServiceName', 'destinationTranslatedAddress', 'destinationTranslatedPort',
  'deviceDirection', 'deviceDnsDomain', 'deviceExternalId', 'deviceFacility', 'deviceInboundInterface', 'deviceNtDomain', 'deviceOutboundInterface',
  'devicePayloadId', 'deviceProcessName', 'deviceTranslatedAddress', 'dhost', 'dmac', 'dntdom', 'dpid', 'dpriv', 'dproc', 'dpt', 'dst', 'dtz', 'duid',
  'duser', 'dvc', 'dvchost', 'dvcmac', 'dvcpid', 'end', 'externalId', 'fileCreateTime', 'fileHash', 'fileId', 'fileModificationTime', 'filePath',
  'filePermission', 'fileType', 'fname', 'fsize', 'in', 'msg', 'oldFileCreateTime', 'oldFileHash', 'oldFileId', 'oldFileModificationTime', 'oldFileName',
  'oldFilePath', 'oldFilePermission', 'oldFileSize', 'oldFileType', 'out', 'outcome', 'proto', 'reason', 'request', 'requestClientApplication',
  'requestContext', 'requestCookies', 'requestMethod', 'rt', 'shost', 'smac', 'sntdom', 'sourceDnsDomain', 'sourceServiceName', 'sourceTranslatedAddress',
  'sourceTranslatedPort', 'spid', 'spriv', 'sproc', 'spt', 'src', 'start', 'suid', 'suser', 'type',
  ...CUSTOM, ...CUSTOM.map((k) => `${k}Label`),
]);
const SEVERITIES = new Set(['Unknown', 'Low', 'Medium', 'High', 'Very-High', ...Array.from({ length: 11 }, (_, i) => String(i))]);
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;
/** Value syntax by key (the dictionary's data types); unlisted keys are strings. */
function checkType(key: string, v: string): void {
  const ok = ['src', 'dst', 'dvc'].includes(key) ? isIP(v) !== 0
    : ['smac', 'dmac', 'dvcmac'].includes(key) ? MAC.test(v)
    : ['spt', 'dpt'].includes(key) ? /^\d+$/.test(v) && Number(v) <= 65535
    : ['in', 'out', 'cn1', 'cn2', 'cn3', 'cnt', 'fsize', 'dpid', 'spid', 'dvcpid', 'type'].includes(key) ? /^-?\d+$/.test(v)
    : ['rt', 'start', 'end', 'deviceCustomDate1', 'deviceCustomDate2', 'flexDate1'].includes(key) ? /^\d+$/.test(v) // milliseconds since the epoch
    : /^cfp\d$/.test(key) ? /^-?\d+(\.\d+)?$/.test(v)
    : key === 'deviceDirection' ? v === '0' || v === '1'
    : true;
  assert.ok(ok, `${key}=${v}: not a valid value for its type`);
}

export interface ParsedCef {
  version: string; vendor: string; product: string; deviceVersion: string; signatureId: string; name: string; severity: string;
  ext: Map<string, string>;
  /** Extension keys in line order. */
  keys: string[];
}

export function parseCef(line: string): ParsedCef {
  assert.ok(line.startsWith('CEF:'), 'starts with CEF:');
  assert.ok(!/[\r\n]/.test(line), 'one line: no raw CR or LF anywhere');
  // Header: seven fields split on unescaped pipes; in the header only \\ and \| are escapes.
  const header: string[] = [];
  let cur = '';
  let i = 4;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!;
    if (c === '\\') {
      const n = line[i + 1];
      assert.ok(n === '\\' || n === '|', `header: '\\${n}' is not an escape at ${i}`);
      cur += n;
      i++;
    } else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  assert.equal(header.length, 7, 'seven header fields, each ended by |');
  const [version, vendor, product, deviceVersion, signatureId, name, severity] = header as [string, string, string, string, string, string, string];
  assert.equal(version, '0');
  assert.ok(SEVERITIES.has(severity), `severity ${severity}`);
  assert.notEqual(signatureId, '');
  // Extension: key=value pairs separated by one space. A key ends at an unescaped '='; its value
  // runs to the space before the next key. In a value only \\, \=, \n and \r are escapes.
  const ext = line.slice(i);
  const ends: number[] = [];
  for (let j = 0; j < ext.length; j++) {
    if (ext[j] === '\\') j++;
    else if (ext[j] === '=') ends.push(j);
  }
  const map = new Map<string, string>();
  const keys: string[] = [];
  let keyStart = 0;
  for (let k = 0; k < ends.length; k++) {
    const eq = ends[k]!;
    const key = ext.slice(keyStart, eq);
    assert.match(key, /^[A-Za-z0-9]+$/, `extension key '${key}'`);
    assert.ok(DICTIONARY.has(key), `'${key}' is not a CEF rev 25 key`);
    assert.ok(!map.has(key), `${key} appears twice`);
    let valueEnd = ext.length;
    if (k + 1 < ends.length) {
      valueEnd = ext.lastIndexOf(' ', ends[k + 1]!);
      assert.ok(valueEnd > eq, `no space before the key that follows ${key}`);
    }
    const raw = ext.slice(eq + 1, valueEnd);
    assert.notEqual(raw, '', `${key} has an empty value`);
    let v = '';
    for (let j = 0; j < raw.length; j++) {
      if (raw[j] !== '\\') { v += raw[j]; continue; }
      const n = raw[++j];
      assert.ok(n === '\\' || n === '=' || n === 'n' || n === 'r', `${key}: '\\${n}' is not an escape`);
      v += n === 'n' ? '\n' : n === 'r' ? '\r' : n;
    }
    checkType(key, v);
    map.set(key, v);
    keys.push(key);
    keyStart = valueEnd + 1;
  }
  if (ends.length === 0) assert.equal(ext, '', 'extension text without a key');
  // Custom fields come with their label, and a label only with its field.
  for (const key of keys) {
    if (CUSTOM.includes(key)) assert.ok(map.has(`${key}Label`), `${key} without ${key}Label`);
    if (key.endsWith('Label')) assert.ok(map.has(key.slice(0, -5)), `${key} without its field`);
  }
  return { version, vendor, product, deviceVersion, signatureId, name, severity, ext: map, keys };
}
