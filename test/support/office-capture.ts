/**
 * A small office on the wire, built packet by packet, for the console's browser tests: two PCs
 * get addresses by DHCP (RFC 2131 §3.1 DORA, host name option 12, RFC 2132 §3.14), one of them
 * with a locally administered (randomized) MAC; a Windows logon (Kerberos AS exchange, RFC 4120
 * §3.1) names the first PC's user; both PCs use cloud apps over TLS (SNI, RFC 6066 §3) and plain
 * HTTP (Host, RFC 9112 §3.2). Names can be chosen, so a test can make them hold markup.
 */
import * as K from '../fixtures/logons.js';
import {
  ethernet, ipv4, tcp, udp, pcapFile, ETH_IPV4, PROTO_TCP, PROTO_UDP, TCP_SYN, TCP_ACK, TCP_FIN, TCP_PSH,
  chromeLikeClientHelloBody, handshake, records, serverHelloBody, ext, u16, dhcp4, ip4, str, u32be,
} from '../pcap/packets.js';

export const ROUTER_MAC = '00:16:3e:77:00:01', ROUTER = '10.77.0.1';
export const DC_MAC = '00:16:3e:77:00:02', DC = '10.77.0.2';
export const PC1_MAC = '00:16:3e:77:00:0a', PC1 = '10.77.0.10';
export const PC2_MAC = '06:9a:51:77:00:0b', PC2 = '10.77.0.11';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const REALM = 'CORP.EXAMPLE';

export interface OfficeNames {
  /** DHCP host names (option 12) of the two PCs. */
  pc1Host: string;
  pc2Host: string;
  /** The Kerberos client name logging on from PC1. */
  pc1User: string;
  /** HTTP Host and User-Agent PC2 sends to a site in no catalog entry. */
  httpHost: string;
  userAgent: string;
  /**
   * A TLS server name and an HTTP Host that PC2 also sends (one connection each), which the
   * analyzers are expected to refuse (RFC 6066 §3 and RFC 9110 §7.2 allow only host names):
   * they are not uploads and name no app.
   */
  hostileSni?: string;
  hostileHttpHost?: string;
}

export interface Upload { client: 'pc1' | 'pc2'; server: string; sni?: string; host?: string; bytes: number }

/** The TLS and HTTP connections of the office: who sends how much to which app. */
export function officeUploads(names: OfficeNames): Upload[] {
  return [
    { client: 'pc1', server: '203.0.113.10', sni: 'content.dropboxapi.com', bytes: 60_000 },
    { client: 'pc1', server: '203.0.113.11', sni: 'files.slack.com', bytes: 12_000 },
    { client: 'pc2', server: '203.0.113.11', sni: 'app.slack.com', bytes: 4_000 },
    { client: 'pc2', server: '203.0.113.12', host: 'wetransfer.com', bytes: 30_000 },
    { client: 'pc2', server: '203.0.113.13', host: names.httpHost, bytes: 2_000 },
  ];
}

/** Connections whose server names the analyzers refuse: in the capture, in no upload. */
export function officeProbes(names: OfficeNames): Upload[] {
  return [
    ...(names.hostileSni !== undefined ? [{ client: 'pc2' as const, server: '203.0.113.20', sni: names.hostileSni, bytes: 1_000 }] : []),
    ...(names.hostileHttpHost !== undefined ? [{ client: 'pc2' as const, server: '203.0.113.21', host: names.hostileHttpHost, bytes: 1_000 }] : []),
  ];
}

/** The office's frames as a classic pcap (Ethernet), 1 ms apart. */
export function officeCapture(names: OfficeNames): Buffer {
  const frames: Buffer[] = [];
  const send = (f: Buffer): void => { frames.push(f); };

  const dora = (xid: number, cmac: string, addr: string, host: string): void => {
    const server: Array<[number, Buffer]> = [[54, ip4(ROUTER)], [51, u32be(3600)], [1, ip4('255.255.255.0')], [3, ip4(ROUTER)]];
    const fromClient = (p: Buffer) => ethernet(BCAST, cmac, ETH_IPV4, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, p)));
    const fromServer = (p: Buffer) => ethernet(cmac, ROUTER_MAC, ETH_IPV4, ipv4({ src: ROUTER, dst: addr, proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, p)));
    send(fromClient(dhcp4({ xid, mac: cmac, msgType: 1, options: [[12, str(host)]] })));
    send(fromServer(dhcp4({ xid, mac: cmac, msgType: 2, yiaddr: addr, options: server })));
    send(fromClient(dhcp4({ xid, mac: cmac, msgType: 3, options: [[50, ip4(addr)], [54, ip4(ROUTER)], [12, str(host)]] })));
    send(fromServer(dhcp4({ xid, mac: cmac, msgType: 5, yiaddr: addr, options: server })));
  };
  dora(0x7701, PC1_MAC, PC1, names.pc1Host);
  dora(0x7702, PC2_MAC, PC2, names.pc2Host);

  // Kerberos AS exchange over UDP 88 as Windows makes it: the first AS-REQ is answered
  // KDC_ERR_PREAUTH_REQUIRED (25), the second (with pre-authentication) gets the AS-REP.
  const krb = (fromClient: boolean, sport: number, msg: Buffer): void => send(fromClient
    ? ethernet(DC_MAC, PC1_MAC, ETH_IPV4, ipv4({ src: PC1, dst: DC, proto: PROTO_UDP }, udp({ sport, dport: 88 }, msg)))
    : ethernet(PC1_MAC, DC_MAC, ETH_IPV4, ipv4({ src: DC, dst: PC1, proto: PROTO_UDP }, udp({ sport: 88, dport: sport }, msg))));
  const cname = names.pc1User;
  const req = K.kdcReq({ cname, realm: REALM, sname: `krbtgt/${REALM}` });
  krb(true, 49001, req);
  krb(false, 49001, K.krbError({ code: 25, realm: REALM, sname: `krbtgt/${REALM}`, cname, crealm: REALM }));
  krb(true, 49002, req);
  krb(false, 49002, K.kdcRep({ cname, crealm: REALM, sname: `krbtgt/${REALM}` }));

  let sport = 41000;
  for (const u of [...officeUploads(names), ...officeProbes(names)]) {
    const cmac = u.client === 'pc1' ? PC1_MAC : PC2_MAC, cip = u.client === 'pc1' ? PC1 : PC2;
    const dport = u.sni !== undefined ? 443 : 80;
    const p = sport++;
    let cseq = 1000, sseq = 90000;
    const c = (flags: number, data: Buffer = Buffer.alloc(0)): void => {
      send(ethernet(ROUTER_MAC, cmac, ETH_IPV4, ipv4({ src: cip, dst: u.server, proto: PROTO_TCP }, tcp({ sport: p, dport, seq: cseq, ack: flags & TCP_ACK ? sseq : 0, flags }, data))));
      cseq += data.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    };
    const s = (flags: number, data: Buffer = Buffer.alloc(0)): void => {
      send(ethernet(cmac, ROUTER_MAC, ETH_IPV4, ipv4({ src: u.server, dst: cip, proto: PROTO_TCP }, tcp({ sport: dport, dport: p, seq: sseq, ack: flags & TCP_ACK ? cseq : 0, flags }, data))));
      sseq += data.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    };
    c(TCP_SYN); s(TCP_SYN | TCP_ACK); c(TCP_ACK);
    if (u.sni !== undefined) {
      c(TCP_PSH | TCP_ACK, records(handshake(1, chromeLikeClientHelloBody(undefined, u.sni))));
      s(TCP_PSH | TCP_ACK, records(handshake(2, serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304))] })), [], 22, 0x0303));
    } else {
      c(TCP_PSH | TCP_ACK, Buffer.from(`POST /upload HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: ${names.userAgent}\r\nContent-Length: ${u.bytes}\r\n\r\n`, 'latin1'));
    }
    // The upload: application data (TLS records or the HTTP body) in 1000-byte segments.
    for (let left = u.bytes; left > 0; left -= 1000) {
      const n = Math.min(1000, left);
      c(TCP_PSH | TCP_ACK, u.sni !== undefined ? Buffer.concat([Buffer.from([23, 3, 3, (n - 5) >> 8, (n - 5) & 0xff]), Buffer.alloc(n - 5, 0x5a)]) : Buffer.alloc(n, 0x61));
      s(TCP_ACK);
    }
    if (u.sni === undefined) s(TCP_PSH | TCP_ACK, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    c(TCP_FIN | TCP_ACK); s(TCP_FIN | TCP_ACK); c(TCP_ACK);
  }
  const t0 = Date.now() * 1000;
  return pcapFile(frames.map((data, i) => ({ data, tsUs: t0 + i * 1000 })), 1);
}
