#!/usr/bin/env node
// Outpost endpoint agent for Linux: reports this host's names, addresses, MACs, logged-on users
// (from utmp via `who`) and OS to the gateway in HMAC-signed heartbeats
// (see src/devices/agent-routes.ts for the protocol). No dependencies beyond Node 20.
//
//   outpost-agent enroll    --admin http://127.0.0.1:8470 --agent-id ID --secret-file FILE [--token-file FILE] [--ca FILE]
//   outpost-agent heartbeat --gateway https://gw:8471 --agent-id ID --secret-file FILE [--ca FILE] [--utmp FILE] [--once] [--interval-ms N]
//
// enroll talks to the admin API (run it on the gateway, or wherever the admin API is reachable,
// and ship the secret file to the endpoint); --token-file holds an admin API token (`outpost
// token create --role admin`). heartbeat posts to the gateway's agent listener
// (devices.agentListener); --ca is the PEM CA (or self-signed certificate) to verify it with.
import { createHmac, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import http from 'node:http';
import https from 'node:https';

function args(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const k = a.slice(2);
      if (k === 'once') o.once = true; else o[k] = argv[++i];
    } else o._.push(a);
  }
  return o;
}

/**
 * An account name as utmp holds it, split the way directory-joined Linux hosts write them:
 * SSSD's fully qualified names (`alice@corp.example`: the UPN, domain = the realm) and winbind's
 * `CORP\alice` (or `CORP+alice` with winbind separator `+`). Local accounts have no domain.
 */
export function parseAccountName(raw) {
  const at = raw.indexOf('@');
  if (at > 0 && at < raw.length - 1) return { name: raw.slice(0, at), domain: raw.slice(at + 1), upn: raw };
  const sep = raw.search(/[\\+]/);
  if (sep > 0 && sep < raw.length - 1) return { name: raw.slice(sep + 1), domain: raw.slice(0, sep) };
  return { name: raw };
}

/**
 * Logged-on users from utmp (`who` reads /var/run/utmp, or the file given): name and domain as
 * above; as `uid` the Windows SID from `wbinfo --name-to-sid` where winbind knows the account (the
 * same on every host of the domain), else the numeric uid from `id -u`.
 */
export function loggedOnUsers(utmp) {
  let out = '';
  try { out = execFileSync('who', utmp ? [utmp] : [], { encoding: 'utf8', timeout: 5000 }); } catch { return []; }
  const seen = new Set();
  const users = [];
  for (const line of out.split('\n')) {
    const raw = line.trim().split(/\s+/)[0];
    if (!raw || seen.has(raw)) continue;
    seen.add(raw);
    const u = parseAccountName(raw);
    try { u.uid = execFileSync('id', ['-u', raw], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* not resolvable here */ }
    if (u.domain !== undefined) {
      try {
        const sid = /^(S-1-[0-9-]+)/.exec(execFileSync('wbinfo', ['--name-to-sid', raw], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }));
        if (sid) u.uid = sid[1];
      } catch { /* no winbind, or the account is not a domain account */ }
    }
    users.push(u);
  }
  return users;
}

function osName() {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return m[1];
  } catch { /* no os-release */ }
  return `Linux`;
}

export function collect(opts = {}) {
  const macs = new Set(), addresses = [];
  for (const [, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.mac && a.mac !== '00:00:00:00:00:00') macs.add(a.mac);
      addresses.push(a.address);
    }
  }
  return { hostname: hostname(), macs: [...macs], addresses, users: loggedOnUsers(opts.utmp), os: osName() };
}

function post(url, body, headers, ca) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers }, ...(ca ? { ca } : {}), timeout: 10_000 }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

export async function sendHeartbeat(o) {
  const body = JSON.stringify({ agentId: o.agentId, ...collect(o), time: Date.now() });
  const ts = String(Date.now());
  const nonce = randomBytes(16).toString('base64url');
  const sig = createHmac('sha256', o.secret).update(`${ts}\n${nonce}\n${body}`).digest('hex');
  return post(new URL('/v1/agents/heartbeat', o.gateway).href, body, {
    'x-outpost-agent': o.agentId, 'x-outpost-timestamp': ts, 'x-outpost-nonce': nonce, 'x-outpost-signature': sig,
  }, o.ca);
}

async function main() {
  const a = args(process.argv.slice(2));
  const cmd = a._[0];
  if (cmd === 'enroll') {
    const token = a['token-file'] ? readFileSync(a['token-file'], 'utf8').trim() : undefined;
    const r = await post(new URL('/v1/agents/enroll', a.admin).href, JSON.stringify({ agentId: a['agent-id'] }), token ? { authorization: `Bearer ${token}` } : {}, a.ca ? readFileSync(a.ca) : undefined);
    if (r.status !== 201) { console.error(`enrollment refused: ${r.status} ${r.body}`); process.exit(1); }
    writeFileSync(a['secret-file'], JSON.parse(r.body).secret, { mode: 0o600 });
    return;
  }
  if (cmd !== 'heartbeat') { console.error('usage: outpost-agent enroll|heartbeat ...'); process.exit(2); }
  const o = {
    gateway: a.gateway, agentId: a['agent-id'], secret: readFileSync(a['secret-file'], 'utf8').trim(),
    ca: a.ca ? readFileSync(a.ca) : undefined, utmp: a.utmp,
  };
  for (;;) {
    try {
      const r = await sendHeartbeat(o);
      if (r.status !== 204) console.error(`heartbeat refused: ${r.status} ${r.body}`);
      if (a.once) process.exit(r.status === 204 ? 0 : 1);
    } catch (e) {
      console.error(`heartbeat failed: ${e.message}`);
      if (a.once) process.exit(1);
    }
    await new Promise((r) => setTimeout(r, Number(a['interval-ms'] ?? 60_000)));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
