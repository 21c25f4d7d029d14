/**
 * Users from logons seen on the wire, with real servers from Debian packages in network
 * namespaces, watched by the real daemon (`outpost run`, src/cli.ts through tsx) capturing the
 * office switch (a bridge) live:
 *
 * - "dc" runs an MIT Kerberos KDC (krb5kdc; realm made with kdb5_util / kadmin.local in a temp
 *   dir, KRB5_CONFIG / KRB5_KDC_PROFILE), a Samba file server (smbd with its own smb.conf) and a
 *   RADIUS accounting server (a small UDP responder here: it checks each Accounting-Request's
 *   authenticator and answers with the Response Authenticator of RFC 2866 §3);
 * - "gw" is the Wi-Fi controller: radclient sends accounting for the phone (Calling-Station-Id
 *   its MAC, Framed-IP-Address its address); the daemon lists it as NAS with its shared secret;
 * - "pc1" logs on as alice (kinit), then bob at the same PC; "pc2" fails to log on (wrong
 *   password); "pc3" logs on to the file server with NTLMSSP (smbclient, Kerberos off) after a
 *   failed attempt; "phone" is named only by RADIUS;
 * - "cloud" serves HTTPS (openssl s_server); each client's TLS flows to it, from a fixed source
 *   port, must carry the user logged on at that client then (or none).
 *
 * Then the daemon restarts on the same dataDir: the bindings (LMDB) still name the flows, and a
 * RADIUS Stop ends the phone's. The capture tcpdump recorded during the first run, replayed with a
 * fresh data directory, gives the same users. Every wait is bounded; processes, namespaces and
 * the bridge are removed in `finally`. Skips with a message when not root or a program is
 * missing. OUTPOST_LAB_DEBUG=1 prints each step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync, mkdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { createToken } from '../src/api/auth.js';
import { addLabHost, newLab, spawnLabDaemon, startCapture, stopLabDaemon, teardownLab, type LabDaemon } from './support/lab-net.js';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const debug = (s: string) => { if (process.env.OUTPOST_LAB_DEBUG) console.error(`[lab-logons] ${s}`); };

function which(bin: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: 'ignore' }); return true; } catch { return false; }
}
const BINS = ['ip', 'openssl', 'curl', 'tcpdump', 'sysctl', 'krb5kdc', 'kdb5_util', 'kadmin.local', 'kinit', 'smbd', 'smbclient', 'smbpasswd', 'radclient'];
const missing = BINS.filter((b) => !which(b));
const skip = process.getuid?.() !== 0 ? 'lab test needs root (network namespaces, live capture)'
  : missing.length > 0 ? `lab test needs ${missing.join(', ')} (apt-get install iproute2 openssl curl tcpdump procps krb5-kdc krb5-admin-server krb5-user samba smbclient freeradius-utils)`
    : !existsSync('/usr/share/freeradius/dictionary') ? 'lab test needs the RADIUS dictionaries of freeradius-common (/usr/share/freeradius)'
      : false;

const sh = (cmd: string, args: string[], env?: NodeJS.ProcessEnv): string => execFileSync(cmd, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The accounting server in the "dc" namespace: answers each Accounting-Request whose Request
 * Authenticator verifies (RFC 2866 §3; others are silently discarded, as the RFC says) with an
 * Accounting-Response: Code 5, the request's Identifier, Length 20, and Response Authenticator
 * MD5(Code + Identifier + Length + Request Authenticator + secret).
 */
const RESPONDER = `
const dgram = require('node:dgram'), { createHash } = require('node:crypto');
const secret = Buffer.from(process.argv[1]);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  if (m.length < 20 || m[0] !== 4) return;
  const len = m.readUInt16BE(2);
  const check = createHash('md5').update(m.subarray(0, 4)).update(Buffer.alloc(16)).update(m.subarray(20, len)).update(secret).digest();
  if (!check.equals(m.subarray(4, 20))) return;
  const out = Buffer.alloc(20); out[0] = 5; out[1] = m[1]; out.writeUInt16BE(20, 2);
  createHash('md5').update(out.subarray(0, 4)).update(m.subarray(4, 20)).update(secret).digest().copy(out, 4);
  s.send(out, r.port, r.address);
});
s.bind(1813);
`;

test('lab: Kerberos, NTLM and RADIUS logons put their users on each client\'s later TLS flows; a second user takes over, a failed logon binds nobody; restart keeps them; the replay agrees', { skip, timeout: 120_000 }, async () => {
  const { id, net, br, dir, procs, nss, ns } = newLab({ firstOctet: 180, octetSpan: 50, brPrefix: 'obl', nsPrefix: 'oll', tmpPrefix: 'outpost-lab-logons-' });
  const REALM = 'LAB.TEST', SECRET = 'lab-radius-secret-1';
  const env = { ...process.env, KRB5_CONFIG: join(dir, 'krb5.conf'), KRB5_KDC_PROFILE: join(dir, 'kdc.conf') };
  const aexec = async (n: string, args: string[], extraEnv: Record<string, string> = {}): Promise<string> => {
    debug(`${n}: ${args.join(' ')}`);
    return (await run('ip', ['netns', 'exec', ns(n), ...args], { timeout: 20_000, encoding: 'utf8', env: { ...env, ...extraEnv } })).stdout;
  };
  /** Exit status of a command expected to fail sometimes (a refused logon). */
  const status = async (n: string, args: string[], extraEnv: Record<string, string> = {}): Promise<number> => {
    try { await aexec(n, args, extraEnv); return 0; } catch (err) { return (err as { code?: number }).code ?? -1; }
  };
  // Each server in a process group of its own: smbd signals its whole group when it stops.
  const bg = (n: string, args: string[], out = 'ignore' as 'ignore' | 'pipe') => {
    const p = spawn('ip', ['netns', 'exec', ns(n), ...args], { stdio: ['ignore', out, out], env, detached: true });
    procs.push(p);
    return p;
  };
  const ips: Record<string, string> = { gw: `${net}.1`, dc: `${net}.2`, pc1: `${net}.10`, pc2: `${net}.11`, pc3: `${net}.12`, phone: `${net}.20`, cloud: `${net}.200` };
  const macs: Record<string, string> = { gw: '00:16:3e:88:00:01', dc: '00:16:3e:88:00:02', pc1: '00:16:3e:88:00:10', pc2: '00:16:3e:88:00:11', pc3: '00:16:3e:88:00:12', phone: '00:16:3e:88:00:20', cloud: '00:16:3e:88:00:c8' };
  let daemon: LabDaemon | null = null;
  let tcpdump: ChildProcess | null = null;
  try {
    // ---- network: the switch (bridge, no address) and one namespace per host, IPv4 only --------
    sh('ip', ['link', 'add', br, 'type', 'bridge']);
    sh('sysctl', ['-qw', `net.ipv6.conf.${br}.disable_ipv6=1`]);
    sh('ip', ['link', 'set', br, 'up']);
    for (const n of Object.keys(ips)) {
      addLabHost({ ns: ns(n), hostIf: `ow${id}${n}`.slice(0, 15), bridge: br, mac: macs[n]! }, nss);
      sh('ip', ['netns', 'exec', ns(n), 'ip', 'addr', 'add', `${ips[n]}/24`, 'dev', 'eth0']);
    }

    // ---- the KDC: a realm in the temp dir, principals needing pre-authentication (so each
    // logon is KRB-ERROR 25, then the AS-REP, RFC 4120 §3.1.1) ------------------------------
    writeFileSync(env.KRB5_CONFIG, `[libdefaults]\n default_realm = ${REALM}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n[realms]\n ${REALM} = {\n  kdc = ${ips.dc}\n }\n`);
    writeFileSync(env.KRB5_KDC_PROFILE, `[kdcdefaults]\n kdc_ports = 88\n kdc_tcp_ports = 88\n[realms]\n ${REALM} = {\n  database_name = ${join(dir, 'principal')}\n  key_stash_file = ${join(dir, 'stash')}\n  acl_file = ${join(dir, 'kadm5.acl')}\n }\n[logging]\n kdc = FILE:${join(dir, 'kdc.log')}\n`);
    sh('kdb5_util', ['create', '-s', '-r', REALM, '-P', randomBytes(12).toString('hex')], env);
    for (const [u, pw] of [['alice', 'alice-pw'], ['bob', 'bob-pw'], ['carol', 'carol-pw']]) sh('kadmin.local', ['-q', `addprinc +requires_preauth -pw ${pw} ${u}`], env);
    bg('dc', ['krb5kdc', '-n', '-P', join(dir, 'kdc.pid')]);

    // ---- Samba: a standalone file server in the temp dir; root is its one account ------------
    const smb = join(dir, 'smb');
    for (const d of ['priv', 'lock', 'state', 'cache', 'pid', 'share']) mkdirSync(join(smb, d), { recursive: true });
    const smbConf = join(smb, 'smb.conf');
    writeFileSync(smbConf, ['[global]', ' server role = standalone server', ' workgroup = LAB', ' netbios name = FILES',
      ...['private dir', 'lock directory', 'state directory', 'cache directory', 'pid directory'].map((k, i) => ` ${k} = ${join(smb, ['priv', 'lock', 'state', 'cache', 'pid'][i]!)}`),
      ` ncalrpc dir = ${join(smb, 'ncalrpc')}`, ` passdb backend = tdbsam:${join(smb, 'priv/passdb.tdb')}`, ' smb ports = 445', ' disable netbios = yes',
      ' load printers = no', ' printing = bsd', ' printcap name = /dev/null', ' disable spoolss = yes', ` log file = ${join(smb, 'log.%m')}`, ' server min protocol = SMB2',
      ' interfaces = eth0', ' bind interfaces only = yes', '[share]', ` path = ${join(smb, 'share')}`, ' read only = yes', ''].join('\n'));
    execFileSync('smbpasswd', ['-c', smbConf, '-s', '-a', 'root'], { input: 'root-smb-pw\nroot-smb-pw\n', stdio: ['pipe', 'ignore', 'pipe'] });
    bg('dc', ['smbd', '--foreground', '--no-process-group', `--configfile=${smbConf}`]);

    // ---- RADIUS accounting server, HTTPS "cloud" ----------------------------------------------
    const secretFile = join(dir, 'radius-secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    bg('dc', [process.execPath, '-e', RESPONDER, SECRET]);
    const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
    sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=app.cloud.test', '-keyout', key, '-out', cert]);
    bg('cloud', ['openssl', 's_server', '-quiet', '-accept', '443', '-www', '-cert', cert, '-key', key]);
    const raddb = join(dir, 'raddb');
    mkdirSync(raddb);
    writeFileSync(join(raddb, 'dictionary'), '$INCLUDE /usr/share/freeradius/dictionary\n');

    // ---- the daemon: live capture on the switch; the gateway is the one NAS -------------------
    const admin = createToken('admin');
    const config = (dataDir: string) => ({
      dataDir, logLevel: 'info',
      capture: { interfaces: [br], bufferTimeoutMs: 10 },
      api: { host: '127.0.0.1', port: 0, tokens: [{ name: 'lab', role: 'admin', sha256: admin.sha256 }] },
      events: { emit: ['network', 'auth'], stdout: true },
      devices: { enabled: true, radiusNases: [{ address: ips.gw, sharedSecretFile: secretFile }] },
      discovery: { enabled: false },
    });
    const configPath = join(dir, 'outpost.yaml'), replayConfig = join(dir, 'replay.yaml');
    writeFileSync(configPath, stringify(config(join(dir, 'data'))), { mode: 0o600 });
    writeFileSync(replayConfig, stringify(config(join(dir, 'replay-data'))), { mode: 0o600 });
    let apiUrl = '';
    const startDaemon = async (eventsFile: string) => {
      const d = await spawnLabDaemon(configPath, eventsFile, procs);
      assert.match(d.stderr(), /"msg":"outpost running"/, `daemon came up within 30 s (exit ${d.proc.exitCode}); stderr:\n${d.stderr()}`);
      apiUrl = /"address":"(http:\/\/127\.0\.0\.1:\d+)","msg":"admin API listening"/.exec(d.stderr())?.[1] ?? '';
      return d;
    };
    const stopDaemon = async (): Promise<Ev[]> => {
      const d = daemon!;
      daemon = null;
      return stopLabDaemon(d);
    };

    const pcapFile = join(dir, 'switch.pcap');
    tcpdump = await startCapture(br, pcapFile, procs);
    daemon = await startDaemon(join(dir, 'events-1.ndjson'));

    // ---- what the clients do -------------------------------------------------------------------
    /** One TLS flow to the cloud from a source port that names the step. */
    const browse = (n: string, port: number) => aexec(n, ['curl', '-sk', '--max-time', '5', '--local-port', String(port), '-o', '/dev/null', `https://${ips.cloud}/`]);
    const kinit = (n: string, user: string, pw: string) => status(n, ['sh', '-c', `echo '${pw}' | kinit ${user}`], { KRB5CCNAME: `FILE:${join(dir, `cc-${n}`)}` });
    const smbLogon = (n: string, pw: string) => status(n, ['smbclient', `//${ips.dc}/share`, '-s', smbConf, '-W', 'LAB', '-U', `root%${pw}`, '--use-kerberos=off', '-c', 'ls']);
    const accounting = (type: 'Start' | 'Stop') => aexec('gw', ['sh', '-c',
      `printf 'Acct-Status-Type = ${type}\\nUser-Name = "erin"\\nCalling-Station-Id = "${macs.phone!.replaceAll(':', '-').toUpperCase()}"\\nFramed-IP-Address = ${ips.phone}\\nNAS-IP-Address = ${ips.gw}\\nAcct-Session-Id = "s-erin"\\n'`
      + ` | radclient -d ${raddb} -D /usr/share/freeradius -r 2 -t 2 -q ${ips.dc}:1813 acct ${SECRET}`]);
    // Every Samba and KDC answer comes from dc's MAC; the first (a pre-authentication request)
    // pins it. A client is known by its ARP (no DHCP in this office: static addresses).
    await browse('pc1', 41001);
    assert.equal(await kinit('pc1', 'alice', 'alice-pw'), 0, 'alice logs on');
    await browse('pc1', 41002);
    assert.equal(await kinit('pc1', 'bob', 'bob-pw'), 0, 'bob logs on at the same PC');
    await browse('pc1', 41003);
    assert.notEqual(await kinit('pc2', 'carol', 'wrong-pw'), 0, 'carol\'s logon fails');
    await browse('pc2', 42001);
    assert.notEqual(await smbLogon('pc3', 'wrong-pw'), 0, 'a refused NTLM logon');
    await browse('pc3', 43001);
    assert.equal(await smbLogon('pc3', 'root-smb-pw'), 0, 'an NTLM logon to the file server');
    await browse('pc3', 43002);
    await browse('phone', 44001);
    await accounting('Start');
    await browse('phone', 44002);
    for (let i = 0, last = -1; i < 40; i++) { await sleep(100); const size = statSync(pcapFile).size; if (size === last) break; last = size; }
    tcpdump.kill('SIGINT');
    for (let i = 0; i < 100 && tcpdump.exitCode === null; i++) await sleep(50);
    const events1 = await stopDaemon();

    // ---- checks: the user of each step's flow --------------------------------------------------
    const usersByPort = (evs: Ev[]): Record<number, string> => {
      const out: Record<number, string> = {};
      for (const f of evs) {
        if (f.class_uid !== 4001 || f.dst_endpoint?.ip !== ips.cloud || f.dst_endpoint?.port !== 443) continue;
        const u = f.actor?.user;
        out[f.src_endpoint.port as number] = u === undefined ? '-' : `${u.name as string}${u.domain !== undefined ? `@${u.domain as string}` : ''}`;
      }
      return out;
    };
    const want1 = { 41001: '-', 41002: `alice@${REALM}`, 41003: `bob@${REALM}`, 42001: '-', 43001: '-', 43002: 'root@LAB', 44001: '-', 44002: 'erin' };
    const auth = events1.filter((e) => e.class_uid === 3002);
    debug(`auth events: ${auth.map((e) => `${e.auth_protocol}/${e.unmapped?.logon_kind} ${e.user?.name} ${e.status}`).join('; ')}`);
    assert.deepEqual(usersByPort(events1), want1, `live users per step; auth events: ${auth.map((e) => `${e.auth_protocol} ${e.user?.name} ${e.status}`).join(', ')}`);
    // The refused logons were seen (and are why nobody was bound).
    assert.ok(auth.some((e) => e.user?.name === 'carol' && e.status === 'Failure' && e.status_code === 'KDC_ERR_PREAUTH_FAILED'), 'carol\'s KRB-ERROR');
    assert.ok(auth.some((e) => e.user?.name === 'root' && e.auth_protocol === 'NTLM' && e.status === 'Failure'), 'the refused NTLM logon');
    assert.ok(auth.some((e) => e.user?.name === 'erin' && e.auth_protocol === 'RADIUS' && e.status === 'Success'), 'the answered accounting start');

    // ---- replay of the recording, fresh store: the same users ---------------------------------
    const replayed = (await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'replay', pcapFile, '--emit', 'network,auth', '--config', replayConfig],
      { cwd: ROOT, timeout: 30_000, encoding: 'utf8', maxBuffer: 64 << 20 })).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
    assert.deepEqual(usersByPort(replayed), want1, 'replay: the same users');

    // ---- restart: the bindings come from the store; a RADIUS Stop ends the phone's -------------
    daemon = await startDaemon(join(dir, 'events-2.ndjson'));
    await browse('pc1', 41004);
    await browse('pc3', 43003);
    await browse('phone', 44003);
    await accounting('Stop');
    await browse('phone', 44004);
    // The bindings with their evidence, as the admin API shows them.
    const users = await (await fetch(`${apiUrl}/v1/users?sort=name`, { headers: { authorization: `Bearer ${admin.token}` }, signal: AbortSignal.timeout(5000) })).json() as { items: Ev[] };
    const spans = users.items.flatMap((u) => (u.devices as Ev[]).flatMap((d) => (d.spans as Ev[]).map((x) => `${u.name as string} ${x.source as string} ${x.ip as string} ${x.endedBy ?? '-'} ${typeof x.logonUid === 'string' ? 'uid' : 'no-uid'}`))).sort();
    assert.deepEqual(spans, [`alice kerberos ${ips.pc1} replaced uid`, `bob kerberos ${ips.pc1} - uid`, `erin radius ${ips.phone} stop uid`, `root ntlm ${ips.pc3} - uid`], 'GET /v1/users');
    const events2 = await stopDaemon();
    assert.deepEqual(usersByPort(events2), { 41004: `bob@${REALM}`, 43003: 'root@LAB', 44003: 'erin', 44004: '-' }, 'after the restart');
  } catch (err) {
    if (daemon) console.error(daemon.stderr().slice(-3000));
    if (existsSync(join(dir, 'kdc.log'))) console.error(sh('tail', ['-n', '20', join(dir, 'kdc.log')]));
    throw err;
  } finally {
    await teardownLab({ procs, nss, bridge: br, dir });
  }
});
