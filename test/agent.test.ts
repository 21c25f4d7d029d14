/** The endpoint agent's own view of the host: account names as directory-joined hosts write them, users from utmp. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { utmpRecords } from './support/utmp.js';

const agent = await import(resolve('appliance/agent/outpost-agent.mjs')) as {
  parseAccountName(raw: string): { name: string; domain?: string; upn?: string };
  loggedOnUsers(utmp?: string): Array<{ name: string; domain?: string; upn?: string; uid?: string }>;
};

test('account names: local, SSSD fully qualified (UPN), winbind DOMAIN\\user and DOMAIN+user', () => {
  assert.deepEqual(agent.parseAccountName('alice'), { name: 'alice' });
  assert.deepEqual(agent.parseAccountName('alice@corp.example'), { name: 'alice', domain: 'corp.example', upn: 'alice@corp.example' });
  assert.deepEqual(agent.parseAccountName('CORP\\bob'), { name: 'bob', domain: 'CORP' });
  assert.deepEqual(agent.parseAccountName('CORP+bob'), { name: 'bob', domain: 'CORP' });
  // A separator at either end is no split.
  assert.deepEqual(agent.parseAccountName('@x'), { name: '@x' });
  assert.deepEqual(agent.parseAccountName('x\\'), { name: 'x\\' });
});

test('logged-on users from a utmp file through `who`: one entry per account, local ones with their uid', { skip: process.platform !== 'linux' && 'utmp layout is glibc x86-64' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-agent-'));
  const file = join(dir, 'utmp');
  writeFileSync(file, utmpRecords([
    { user: 'root', line: 'tty1' }, { user: 'root', line: 'pts/0' }, { user: 'CORP\\bob', line: 'pts/1' }, { user: 'carol@corp.example', line: 'pts/2' },
  ]));
  const users = agent.loggedOnUsers(file);
  assert.deepEqual(users.map((u) => [u.name, u.domain ?? null, u.upn ?? null]), [['root', null, null], ['bob', 'CORP', null], ['carol', 'corp.example', 'carol@corp.example']]);
  assert.equal(users[0]!.uid, '0', 'root resolves through id -u');
  assert.equal(users[1]!.uid, undefined, 'an account this host cannot resolve has no uid');
});
