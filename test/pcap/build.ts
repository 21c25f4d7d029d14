/**
 * Writes test/pcap/<case>/input.pcap for every pinned case from packets built here, so the
 * captures are the project's own and can be rebuilt byte for byte:
 *
 *   npm run cases:build            (all cases)
 *   npm run cases:build -- tls-sni (one case)
 *
 * Each case's `args` (and `outpost.yaml` where it has one) is written by hand; `expected.json` by
 * `UPDATE_EXPECTED=1` in test/pcap-cases.test.ts. See test/pcap/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import {
  ethernet, ipv4, tcp, udp, pcapFile, ETH_IPV4, ETH_ARP, PROTO_TCP, PROTO_UDP, TCP_SYN, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST,
  mac, ipv4Bytes,
  certificateBody, chromeLikeClientHelloBody, clientHelloBody, ext, fakeCertificateDer, handshake, records, serverHelloBody,
  supportedVersionsExt, u16, dhcp4, ip4, str, u32be, RFC9001_CLIENT_INITIAL_HEX, kdcReq, kdcRep, krbError,
} from './packets.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** 2023-11-14T22:13:20Z: every capture starts here, one packet per millisecond unless a case says otherwise. */
const T0_US = 1_700_000_000_000_000;

const CLIENT_MAC = '02:00:00:00:00:0a';
const GATEWAY_MAC = '02:00:00:00:00:01';
const CLIENT = '192.168.50.10';

interface Frame { data: Buffer; tsUs: number }

/** Frames in capture order with a clock that advances 1 ms per frame unless told otherwise. */
class Capture {
  readonly frames: Frame[] = [];
  t = T0_US;
  add(data: Buffer, gapUs = 1000): void {
    this.t += gapUs;
    this.frames.push({ data, tsUs: this.t });
  }
}

/**
 * One TCP connection between CLIENT (behind CLIENT_MAC) and a server (behind GATEWAY_MAC) that
 * keeps both sequence numbers, so segments acknowledge what the other side sent.
 */
class TcpConn {
  cseq = 1000;
  sseq = 50000;
  constructor(private readonly cap: Capture, readonly server: string, readonly sport: number, readonly dport: number, readonly client = CLIENT) {}
  c(flags: number, data: Buffer = Buffer.alloc(0), gapUs?: number): void {
    this.cap.add(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, ipv4({ src: this.client, dst: this.server, proto: PROTO_TCP },
      tcp({ sport: this.sport, dport: this.dport, seq: this.cseq, ack: flags & TCP_ACK ? this.sseq : 0, flags }, data))), gapUs);
    this.cseq += data.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
  }
  s(flags: number, data: Buffer = Buffer.alloc(0), gapUs?: number): void {
    this.cap.add(ethernet(CLIENT_MAC, GATEWAY_MAC, ETH_IPV4, ipv4({ src: this.server, dst: this.client, proto: PROTO_TCP },
      tcp({ sport: this.dport, dport: this.sport, seq: this.sseq, ack: flags & TCP_ACK ? this.cseq : 0, flags }, data))), gapUs);
    this.sseq += data.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
  }
  handshake(): void { this.c(TCP_SYN); this.s(TCP_SYN | TCP_ACK); this.c(TCP_ACK); }
  close(): void { this.c(TCP_FIN | TCP_ACK); this.s(TCP_FIN | TCP_ACK); this.c(TCP_ACK); }
}

function udpFrame(src: string, dst: string, sport: number, dport: number, payload: Buffer, fromClient: boolean, srcMac?: string): Buffer {
  return ethernet(fromClient ? GATEWAY_MAC : CLIENT_MAC, srcMac ?? (fromClient ? CLIENT_MAC : GATEWAY_MAC), ETH_IPV4,
    ipv4({ src, dst, proto: PROTO_UDP }, udp({ sport, dport }, payload)));
}

/** TLS 1.3 ServerHello (supported_versions 0x0304) in one handshake record. */
function serverHello13(): Buffer {
  return records(handshake(2, serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304))] })), [], 22, 0x0303);
}

const CASES: Record<string, () => Capture> = {
  /** TLS ClientHello with SNI in one segment (RFC 6066 §3), TLS 1.3 ServerHello, orderly close. */
  'tls-sni': () => {
    const cap = new Capture();
    const k = new TcpConn(cap, '198.51.100.20', 41001, 443);
    k.handshake();
    k.c(TCP_PSH | TCP_ACK, records(handshake(1, chromeLikeClientHelloBody(undefined, 'app.example.com'))));
    k.s(TCP_PSH | TCP_ACK, serverHello13());
    k.close();
    return cap;
  },
  /** The same ClientHello cut into two TCP segments in the middle of the SNI extension. */
  'tls-sni-split': () => {
    const cap = new Capture();
    const k = new TcpConn(cap, '198.51.100.21', 41002, 443);
    k.handshake();
    const ch = records(handshake(1, chromeLikeClientHelloBody(undefined, 'split.example.com')));
    const cut = ch.indexOf(Buffer.from('split.example')) + 5;
    k.c(TCP_ACK, ch.subarray(0, cut));
    k.c(TCP_PSH | TCP_ACK, ch.subarray(cut));
    k.s(TCP_PSH | TCP_ACK, serverHello13());
    k.close();
    return cap;
  },
  /**
   * A TLS 1.2 ClientHello without server_name; the server's Certificate (sent in clear before
   * TLS 1.3, RFC 5246 §7.4.2) names the flow.
   */
  'tls-cert-name': () => {
    const cap = new Capture();
    const k = new TcpConn(cap, '198.51.100.22', 41003, 443);
    k.handshake();
    k.c(TCP_PSH | TCP_ACK, records(handshake(1, clientHelloBody({
      ciphers: [0xc02f, 0xc030, 0x009c], extensions: [supportedVersionsExt([0x0303]), ext(0x000b, [1, 0])],
    }))));
    const cert = fakeCertificateDer('files.example.net', ['files.example.net', 'www.files.example.net']);
    k.s(TCP_PSH | TCP_ACK, records(Buffer.concat([
      handshake(2, serverHelloBody({ cipher: 0xc02f, extensions: [] })), handshake(11, certificateBody([cert])), handshake(14, Buffer.alloc(0)),
    ]), [], 22, 0x0303));
    k.close();
    return cap;
  },
  /** HTTP/1.1 request with Host (RFC 9112 §3.2) and its response on port 80. */
  'http-host': () => {
    const cap = new Capture();
    const k = new TcpConn(cap, '203.0.113.30', 41004, 80);
    k.handshake();
    k.c(TCP_PSH | TCP_ACK, Buffer.from('GET /index.html HTTP/1.1\r\nHost: www.example.org\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n'));
    k.s(TCP_PSH | TCP_ACK, Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello'));
    k.close();
    return cap;
  },
  /**
   * A connection already open when the capture started: the first packet is the server's (a bare
   * ACK), then the client sends a request. The side that sent the request is the client.
   */
  'http-midstream': () => {
    const cap = new Capture();
    const k = new TcpConn(cap, '203.0.113.31', 41005, 8080);
    k.s(TCP_ACK);
    k.c(TCP_PSH | TCP_ACK, Buffer.from('GET /api/v1/items HTTP/1.1\r\nHost: api.example.org:8080\r\nAccept: application/json\r\n\r\n'));
    k.s(TCP_PSH | TCP_ACK, Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'));
    k.c(TCP_ACK);
    return cap;
  },
  /** RFC 9001 Appendix A.2: the published client Initial (SNI example.com) to UDP 443. */
  'quic-initial': () => {
    const cap = new Capture();
    const d = Buffer.from(RFC9001_CLIENT_INITIAL_HEX, 'hex');
    cap.add(udpFrame(CLIENT, '198.51.100.40', 52001, 443, d, true));
    return cap;
  },
  /**
   * A DNS A query and its answer (RFC 1035 §4.1), then a TCP connection to the answered address
   * that carries nothing naming it: the name comes from the DNS cache.
   */
  'dns-cache': () => {
    const cap = new Capture();
    const q = dnsPacket.encode({ type: 'query', id: 0x4d2, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'cdn.example.com' }] });
    const r = dnsPacket.encode({
      type: 'response', id: 0x4d2, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: 'A', name: 'cdn.example.com' }],
      answers: [
        { type: 'CNAME', name: 'cdn.example.com', ttl: 300, data: 'edge.cdn.example.net' },
        { type: 'A', name: 'edge.cdn.example.net', ttl: 60, data: '203.0.113.80' },
      ],
    });
    cap.add(udpFrame(CLIENT, '192.168.50.1', 53001, 53, q, true));
    cap.add(udpFrame('192.168.50.1', CLIENT, 53, 53001, r, false));
    const k = new TcpConn(cap, '203.0.113.80', 41006, 5222);
    k.handshake();
    k.c(TCP_PSH | TCP_ACK, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]));
    k.s(TCP_PSH | TCP_ACK, Buffer.from([7, 6, 5, 4]));
    k.close();
    return cap;
  },
  /**
   * DHCPv4 DISCOVER / OFFER / REQUEST / ACK (RFC 2131 §3.1) with host name (option 12), vendor
   * class (60), parameter request list (55) and client identifier (61): device identity.
   */
  'dhcp-dora': () => {
    const cap = new Capture();
    const xid = 0x3903f326;
    const dmac = '3c:22:fb:12:34:56';
    const clientOpts: Array<[number, Buffer]> = [
      [61, Buffer.concat([Buffer.from([1]), mac(dmac)])],
      [12, str('laptop-kim')],
      [60, str('MSFT 5.0')],
      [55, Buffer.from([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252])],
    ];
    const serverOpts: Array<[number, Buffer]> = [
      [54, ip4('192.168.50.1')], [51, u32be(86400)], [1, ip4('255.255.255.0')], [3, ip4('192.168.50.1')], [6, ip4('192.168.50.1')],
    ];
    const fromClient = (m: Buffer): Buffer => ethernet('ff:ff:ff:ff:ff:ff', dmac, ETH_IPV4,
      ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, m)));
    const fromServer = (m: Buffer): Buffer => ethernet(dmac, GATEWAY_MAC, ETH_IPV4,
      ipv4({ src: '192.168.50.1', dst: '192.168.50.77', proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, m)));
    cap.add(fromClient(dhcp4({ xid, mac: dmac, msgType: 1, options: clientOpts })));
    cap.add(fromServer(dhcp4({ xid, mac: dmac, msgType: 2, yiaddr: '192.168.50.77', options: serverOpts })));
    cap.add(fromClient(dhcp4({ xid, mac: dmac, msgType: 3, options: [[50, ip4('192.168.50.77')], [54, ip4('192.168.50.1')], ...clientOpts] })));
    cap.add(fromServer(dhcp4({ xid, mac: dmac, msgType: 5, yiaddr: '192.168.50.77', options: serverOpts })));
    return cap;
  },
  /**
   * A domain logon seen on the wire, then a TLS flow: the client (known by its ARP) asks the KDC
   * 192.168.50.2 for a TGT without pre-authentication, gets KDC_ERR_PREAUTH_REQUIRED (which pins
   * the KDC's MAC), asks again and gets the AS-REP (RFC 4120 §3.1.1): alice is bound to the
   * client's device, and its TLS flow after the logon carries her (a flow before it does not).
   */
  'logon-kerberos': () => {
    const cap = new Capture();
    const KDC = '192.168.50.2', KDC_MAC = '02:00:00:00:00:02', REALM = 'CORP.EXAMPLE';
    const arp = (op: number, sha: string, spa: string, tha: string, tpa: string): Buffer => Buffer.concat([
      Buffer.from([0, 1, 8, 0, 6, 4, 0, op]), mac(sha), ipv4Bytes(spa), mac(tha), ipv4Bytes(tpa)]);
    cap.add(ethernet('ff:ff:ff:ff:ff:ff', CLIENT_MAC, ETH_ARP, arp(1, CLIENT_MAC, CLIENT, '00:00:00:00:00:00', KDC), 60));
    cap.add(ethernet(CLIENT_MAC, KDC_MAC, ETH_ARP, arp(2, KDC_MAC, KDC, CLIENT_MAC, CLIENT), 60));
    const tls = (sport: number): void => {
      const t = new TcpConn(cap, '203.0.113.80', sport, 443);
      t.handshake();
      t.c(TCP_PSH | TCP_ACK, records(handshake(1, chromeLikeClientHelloBody(undefined, 'app.cloud.test'))));
      t.close();
    };
    tls(50100);
    const krb = (sport: number, req: Buffer, rep: Buffer): void => {
      cap.add(ethernet(KDC_MAC, CLIENT_MAC, ETH_IPV4, ipv4({ src: CLIENT, dst: KDC, proto: PROTO_UDP }, udp({ sport, dport: 88 }, req))));
      cap.add(ethernet(CLIENT_MAC, KDC_MAC, ETH_IPV4, ipv4({ src: KDC, dst: CLIENT, proto: PROTO_UDP }, udp({ sport: 88, dport: sport }, rep))));
    };
    const asReq = kdcReq({ cname: 'alice', realm: REALM, sname: `krbtgt/${REALM}`, till: '20231115081320Z' });
    krb(50200, asReq, krbError({ code: 25, realm: REALM, sname: `krbtgt/${REALM}`, cname: 'alice', crealm: REALM }));
    krb(50201, asReq, kdcRep({ cname: 'alice', crealm: REALM, sname: `krbtgt/${REALM}` }));
    tls(50101);
    return cap;
  },
  /** ARP request and reply (RFC 826): two devices learnt from their MAC and IPv4 address. */
  'arp': () => {
    const cap = new Capture();
    const arp = (op: number, sha: string, spa: string, tha: string, tpa: string): Buffer => Buffer.concat([
      Buffer.from([0, 1, 8, 0, 6, 4, 0, op]), mac(sha), ipv4Bytes(spa), mac(tha), ipv4Bytes(tpa)]);
    cap.add(ethernet('ff:ff:ff:ff:ff:ff', CLIENT_MAC, ETH_ARP, arp(1, CLIENT_MAC, CLIENT, '00:00:00:00:00:00', '192.168.50.1'), 60));
    cap.add(ethernet(CLIENT_MAC, GATEWAY_MAC, ETH_ARP, arp(2, GATEWAY_MAC, '192.168.50.1', CLIENT_MAC, CLIENT), 60));
    return cap;
  },
  /**
   * Flow timeouts by packet time (the case's outpost.yaml: active timeout 10 s, UDP idle 30 s,
   * Open events on): a UDP flow that sends every 4 s for 24 s (interim Traffic events), a short
   * second UDP flow, then 40 s later a packet of a third flow that moves the clock past the idle
   * timeout of the first two (Close events at their last packet).
   */
  'flow-timeouts': () => {
    const cap = new Capture();
    for (let i = 0; i < 7; i++) {
      cap.add(udpFrame(CLIENT, '198.51.100.60', 50010, 5004, Buffer.alloc(160, i), true), i === 0 ? 1000 : 4_000_000);
      cap.add(udpFrame('198.51.100.60', CLIENT, 5004, 50010, Buffer.alloc(160, i), false), 1000);
    }
    cap.add(udpFrame(CLIENT, '198.51.100.61', 50011, 123, Buffer.alloc(48, 0x23), true), 1000);
    cap.add(udpFrame('198.51.100.61', CLIENT, 123, 50011, Buffer.alloc(48, 0x24), false), 1000);
    // 40 s later, past the 30 s UDP idle timeout of the NTP-like flow.
    cap.add(udpFrame(CLIENT, '198.51.100.62', 50012, 9999, Buffer.alloc(10), true), 40_000_000);
    return cap;
  },
  /**
   * Malformed packets, each counted by name: an IPv4 header cut short, an IHL below 5, a TCP
   * data offset below 5, a TCP data offset past the segment, a UDP length past the datagram, a
   * UDP length below 8, a TCP header cut short and a frame shorter than an Ethernet header; then
   * one well-formed packet.
   */
  'malformed': () => {
    const cap = new Capture();
    const good = ipv4({ src: CLIENT, dst: '198.51.100.70', proto: PROTO_TCP }, tcp({ sport: 41070, dport: 443, flags: TCP_SYN }));
    cap.add(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, good.subarray(0, 12)));
    cap.add(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, ipv4({ src: CLIENT, dst: '198.51.100.70', proto: PROTO_TCP, ihl: 4 }, tcp({ sport: 41071, dport: 443, flags: TCP_SYN }))));
    cap.add(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, ipv4({ src: CLIENT, dst: '198.51.100.70', proto: PROTO_TCP }, tcp({ sport: 41072, dport: 443, flags: TCP_SYN, dataOffset: 3 }))));
    cap.add(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, ipv4({ src: CLIENT, dst: '198.51.100.70', proto: PROTO_TCP }, tcp({ sport: 41073, dport: 443, flags: TCP_SYN, dataOffset: 15 }))));
    cap.add(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, ipv4({ src: CLIENT, dst: '198.51.100.70', proto: PROTO_UDP }, udp({ sport: 41074, dport: 9, length: 400 }, Buffer.alloc(20)))));
    cap.add(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, ipv4({ src: CLIENT, dst: '198.51.100.70', proto: PROTO_UDP }, udp({ sport: 41075, dport: 9, length: 4 }, Buffer.alloc(20)))));
    cap.add(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, ipv4({ src: CLIENT, dst: '198.51.100.70', proto: PROTO_TCP, transportChecksum: false }, Buffer.alloc(10, 0x41))));
    cap.add(Buffer.from(mac(GATEWAY_MAC)));
    cap.add(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, good));
    return cap;
  },
  /**
   * A phone (DHCP: CLIENT_MAC, CLIENT) whose connections were open before the capture started:
   * no SYN or SYN-ACK is seen for them and each one's first packet is the server's. What tells
   * the server: an earlier connection with a handshake to the same address and port (both
   * ports dynamic), a DNS answer the phone got for the address (both ports dynamic), a system
   * port (443), an HTTP request sent by the phone (user port facing a user port).
   */
  'midstream-cloud': () => {
    const cap = new Capture();
    const xid = 0x5eed0001;
    const opts: Array<[number, Buffer]> = [[61, Buffer.concat([Buffer.from([1]), mac(CLIENT_MAC)])], [12, str('phone-ana')], [55, Buffer.from([1, 3, 6, 15, 119, 252])]];
    const srv: Array<[number, Buffer]> = [[54, ip4('192.168.50.1')], [51, u32be(86400)], [1, ip4('255.255.255.0')], [3, ip4('192.168.50.1')], [6, ip4('192.168.50.1')]];
    const fromClient = (m: Buffer): Buffer => ethernet('ff:ff:ff:ff:ff:ff', CLIENT_MAC, ETH_IPV4,
      ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, m)));
    const fromServer = (m: Buffer): Buffer => ethernet(CLIENT_MAC, GATEWAY_MAC, ETH_IPV4,
      ipv4({ src: '192.168.50.1', dst: CLIENT, proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, m)));
    cap.add(fromClient(dhcp4({ xid, mac: CLIENT_MAC, msgType: 3, options: [[50, ip4(CLIENT)], [54, ip4('192.168.50.1')], ...opts] })));
    cap.add(fromServer(dhcp4({ xid, mac: CLIENT_MAC, msgType: 5, yiaddr: CLIENT, options: srv })));
    const q = dnsPacket.encode({ type: 'query', id: 0x77, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'sync.example.com' }] });
    const r = dnsPacket.encode({
      type: 'response', id: 0x77, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: 'A', name: 'sync.example.com' }], answers: [{ type: 'A', name: 'sync.example.com', ttl: 300, data: '203.0.113.90' }],
    });
    cap.add(udpFrame(CLIENT, '192.168.50.1', 53010, 53, q, true));
    cap.add(udpFrame('192.168.50.1', CLIENT, 53, 53010, r, false));
    // A connection with its handshake: 198.51.100.95 serves on 50443.
    const first = new TcpConn(cap, '198.51.100.95', 51000, 50443);
    first.handshake();
    first.c(TCP_PSH | TCP_ACK, Buffer.alloc(40, 1));
    first.s(TCP_PSH | TCP_ACK, Buffer.alloc(60, 2));
    first.close();
    const data = (k: TcpConn): void => {
      k.s(TCP_PSH | TCP_ACK, Buffer.alloc(120, 3));
      k.c(TCP_PSH | TCP_ACK, Buffer.alloc(30, 4));
      k.s(TCP_PSH | TCP_ACK, Buffer.alloc(80, 5));
    };
    data(new TcpConn(cap, '198.51.100.95', 51001, 50443)); // known server
    data(new TcpConn(cap, '203.0.113.90', 52002, 55000)); // DNS answer
    data(new TcpConn(cap, '203.0.113.91', 53003, 443)); // system port
    const web = new TcpConn(cap, '203.0.113.92', 40004, 8088); // the request
    web.s(TCP_ACK);
    web.c(TCP_PSH | TCP_ACK, Buffer.from('GET /v1/state HTTP/1.1\r\nHost: state.example.org:8088\r\n\r\n'));
    web.s(TCP_PSH | TCP_ACK, Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'));
    return cap;
  },
  /** A TCP connection refused: SYN answered by RST|ACK (RFC 9293 §3.10.7.1). */
  'tcp-rst': () => {
    const cap = new Capture();
    const k = new TcpConn(cap, '198.51.100.90', 41090, 8443);
    k.c(TCP_SYN);
    k.s(TCP_RST | TCP_ACK);
    return cap;
  },
};

export function buildCase(name: string): Buffer {
  const make = CASES[name];
  if (!make) throw new Error(`unknown case ${name} (known: ${Object.keys(CASES).join(', ')})`);
  return pcapFile(make().frames, 1);
}

export const CASE_NAMES = Object.keys(CASES);

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const wanted = process.argv.slice(2);
  for (const name of wanted.length > 0 ? wanted : CASE_NAMES) {
    const dir = join(HERE, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'input.pcap'), buildCase(name));
    process.stdout.write(`${name}/input.pcap\n`);
  }
}
