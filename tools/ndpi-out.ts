/**
 * Parser of ndpiReader's expected-output files (`result/<capture>.out`): one flow a line,
 *   `\tN\tPROTO a:p <-> b:p [..][3 pkts/1506 bytes <-> 2 pkts/200 bytes]..[Hostname/SNI: x]..`
 * IPv6 addresses are bracketed; `->` marks a flow with no packets back.
 */
export interface NdpiFlow {
  line: number;
  protocol: number;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  c2sPackets: number;
  c2sBytes: number;
  s2cPackets: number;
  s2cBytes: number;
  hostname: string | null;
  /** nDPI's application label, e.g. "TLS.Google" or "HTTP" (without numeric ids). */
  application: string;
}

const PROTOCOL_NUMBERS: Record<string, number> = {
  TCP: 6, UDP: 17, ICMP: 1, ICMPV6: 58, IGMP: 2, ESP: 50, AH: 51, OSPF: 89, PGM: 113, PIM: 103,
  SCTP: 132, VRRP: 112, GRE: 47, IPIP: 4, IPV6: 41,
};

const FLOW_LINE = /^\s*(\d+)\s+(\S+) (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+) <?-> (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+) \[/;
const COUNTS = /\[(\d+) pkts\/(\d+) bytes <?-> (\d+) pkts\/(\d+) bytes\]/;
const HOSTNAME = /\[Hostname\/SNI: ([^\]]*)\]/;
const APPLICATION = /\[proto: (?:[A-Za-z]+:)?[0-9.]+\/([^\]]*)\]/;

function unbracket(s: string): string {
  return s.startsWith('[') ? s.slice(1, -1) : s;
}

export function protocolNumber(name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  return PROTOCOL_NUMBERS[name.toUpperCase()];
}

export function parseNdpiOut(text: string): NdpiFlow[] {
  const flows: NdpiFlow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = FLOW_LINE.exec(line);
    if (!m) continue;
    const c = COUNTS.exec(line);
    const proto = protocolNumber(m[2]!);
    if (!c || proto === undefined) continue;
    const h = HOSTNAME.exec(line);
    flows.push({
      line: i + 1,
      protocol: proto,
      clientIp: unbracket(m[3]!),
      clientPort: Number(m[4]),
      serverIp: unbracket(m[5]!),
      serverPort: Number(m[6]),
      c2sPackets: Number(c[1]),
      c2sBytes: Number(c[2]),
      s2cPackets: Number(c[3]),
      s2cBytes: Number(c[4]),
      hostname: h ? h[1]! : null,
      application: APPLICATION.exec(line)?.[1] ?? '',
    });
  }
  return flows;
}
