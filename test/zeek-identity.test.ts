/**
 * kerberos.log and ntlm.log of Zeek's test traces (../shared/corpus/zeek-identity) against our
 * Authentication events (tools/zeek-identity.ts). The figures are pinned: every row is matched
 * and agrees (docs/ACCURACY.md); the one row read with Zeek's orientation reversed is pinned
 * too, and so is the rule's refusal where it does not apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareZeekIdentity, defaultZeekIdentityDir, zeekIdentityPresent } from '../tools/zeek-identity.js';

const dir = defaultZeekIdentityDir();
const missing = zeekIdentityPresent(dir) ? false : `Zeek identity corpus absent at ${dir}`;

test('kerberos.log: every row matched by an event from the same client address and port, client names agree', { skip: missing }, () => {
  const k = compareZeekIdentity(dir).logs['kerberos.log'];
  assert.deepEqual([k.rows, k.matched, k.matchedReversed, k.matchedByConnection, k.fieldsAgree], [88, 88, 0, 88, 88], JSON.stringify(k.differences));
});

test('ntlm.log: every row matched; the DCE-RPC capture without its handshake is matched with Zeek\'s orientation reversed', { skip: missing }, () => {
  const n = compareZeekIdentity(dir).logs['ntlm.log'];
  // The NEGOTIATE / CHALLENGE-only conversation (ntlm-empty-av-sequence.pcap) is matched by its
  // client address and port: the exchange that ended without an AUTHENTICATE has its event.
  // dce_rpc_ntlm.pcapng has no SYN: Zeek took the RPC server for the originator; its row is
  // matched by our event of the reversed endpoints whose server names equal Zeek's.
  assert.deepEqual([n.rows, n.matched, n.matchedReversed, n.matchedByConnection, n.fieldsAgree], [6, 6, 1, 6, 6], JSON.stringify(n.differences));
  assert.deepEqual(n.differences, []);
});

/**
 * A corpus of one test of the real one whose first ntlm.log row is rewritten by `edit`: the
 * reversed rule is checked against rows it must refuse.
 */
function editedCorpus(test: string, edit: (fields: string[], row: string[]) => void): string {
  const out = mkdtempSync(join(tmpdir(), 'zeek-identity-'));
  const entry = (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Array<{ test: string }>).find((e) => e.test === test)!;
  writeFileSync(join(out, 'manifest.json'), JSON.stringify([entry]));
  symlinkSync(join(dir, 'traces'), join(out, 'traces'));
  const lines = readFileSync(join(dir, 'baseline', test, 'ntlm.log'), 'utf8').split('\n');
  const fields = lines.find((l) => l.startsWith('#fields\t'))!.split('\t').slice(1);
  const i = lines.findIndex((l) => l !== '' && !l.startsWith('#'));
  const row = lines[i]!.split('\t');
  edit(fields, row);
  lines[i] = row.join('\t');
  mkdirSync(join(out, 'baseline', test), { recursive: true });
  writeFileSync(join(out, 'baseline', test, 'ntlm.log'), lines.join('\n'));
  return out;
}

function scoreEdited(test: string, edit: (fields: string[], row: string[]) => void): number[] {
  const out = editedCorpus(test, edit);
  try {
    const n = compareZeekIdentity(out).logs['ntlm.log'];
    return [n.rows, n.matched, n.matchedReversed, n.matchedByConnection, n.fieldsAgree];
  } finally { rmSync(out, { recursive: true, force: true }); }
}

const set = (name: string, value: string) => (fields: string[], row: string[]): void => { row[fields.indexOf(name)] = value; };

test('the reversed rule refuses a row whose filled-in fields differ, and one where Zeek filled in none', { skip: missing }, () => {
  const noHandshake = 'scripts.base.protocols.dce-rpc.dce_rpc_ntlm';
  assert.deepEqual(scoreEdited(noHandshake, () => {}), [1, 1, 1, 1, 1], 'the row as Zeek wrote it');
  assert.deepEqual(scoreEdited(noHandshake, set('server_nb_computer_name', 'CBTH-WS-9')), [1, 0, 0, 1, 0], 'another server NetBIOS name');
  assert.deepEqual(scoreEdited(noHandshake, set('username', 'Guest')), [1, 0, 0, 1, 0], 'a user name ours lacks');
  const none = (f: string[], r: string[]): void => { for (const n of ['server_nb_computer_name', 'server_dns_computer_name', 'server_tree_name']) set(n, '-')(f, r); };
  assert.deepEqual(scoreEdited(noHandshake, none), [1, 0, 0, 1, 0], 'no field filled in');
});

test('a row of a connection whose handshake was seen is never read reversed', { skip: missing }, () => {
  // mapi.pcap has the SYNs of its RPC connections: its first row written the other way round
  // (names that would agree) is not matched; the second row still is.
  const swap = (fields: string[], row: string[]): void => {
    const at = (n: string): number => fields.indexOf(n);
    [row[at('id.orig_h')], row[at('id.resp_h')]] = [row[at('id.resp_h')]!, row[at('id.orig_h')]!];
    [row[at('id.orig_p')], row[at('id.resp_p')]] = [row[at('id.resp_p')]!, row[at('id.orig_p')]!];
  };
  const mapi = 'scripts.base.protocols.dce-rpc.mapi';
  assert.deepEqual(scoreEdited(mapi, () => {}), [2, 2, 0, 2, 2], 'the rows as Zeek wrote them');
  assert.deepEqual(scoreEdited(mapi, swap), [2, 1, 0, 2, 1]);
});
