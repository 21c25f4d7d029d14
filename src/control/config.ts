/**
 * The `control` section of the configuration: enforcement of sanctions. `control.inline` is the
 * inline verdict path (nftables table or iptables chains + NFQUEUE + the native addon,
 * src/control/inline/). Its type and JSON-schema fragment are composed into the full schema by
 * src/config/schema.ts.
 */
import type { ConfigSection } from '../area.js';

/** How inline mode hands packets to the queue (src/control/inline/backend.ts). */
export type InlineBackend = 'auto' | 'nftables' | 'iptables';

export interface InlineConfig {
  enabled: boolean;
  backend: InlineBackend;
  queueNumber: number;
  tcpPorts: number[];
  udpPorts: number[];
  dnsPorts: number[];
  dnsNxdomain: boolean;
  failClosed: boolean;
  maxPacketsPerFlow: number;
  batchPackets: number;
  maxQueueLength: number;
  resetServer: boolean;
  readerRealtimePriority: number;
  verdictBoostPriority: number;
  verdictBoostBudgetMsPerSecond: number;
  verdictBoostHoldMs: number;
  verdictRealtimePriority: number;
}

export interface SpanConfig {
  resetInjection: boolean;
  tcpPorts: number[];
}

export interface ControlConfig {
  inline: InlineConfig;
  span: SpanConfig;
}

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;

export const inlineConfigSchema: ConfigSection<InlineConfig>['schema'] = {
  type: 'object',
  additionalProperties: false,
  default: {} as InlineConfig,
  description: 'Inline mode: Outpost installs its own nftables table (`inet outpost`; or its own iptables chains, see backend) on the gateway it runs on, sends the first packets of new flows on the ports below to an NFQUEUE, and gives each flow a verdict from the name its first packets carry (TLS SNI, QUIC SNI, HTTP Host, DNS query name). Once a flow has a verdict, a connmark lets its later packets skip the queue. Requires root without runAsUser (verdicts need CAP_NET_ADMIN), nftables (or iptables for the fallback) and the native addon (libnetfilter-queue). Restart required.',
  required: ['enabled', 'backend', 'queueNumber', 'tcpPorts', 'udpPorts', 'dnsPorts', 'dnsNxdomain', 'failClosed', 'maxPacketsPerFlow', 'batchPackets', 'maxQueueLength', 'resetServer', 'readerRealtimePriority', 'verdictBoostPriority', 'verdictBoostBudgetMsPerSecond', 'verdictBoostHoldMs', 'verdictRealtimePriority'],
  properties: {
    enabled: {
      type: 'boolean',
      default: false,
      description: 'Turn inline mode on. Off: no table is installed and nothing is queued.',
    },
    backend: {
      type: 'string',
      enum: ['auto', 'nftables', 'iptables'],
      default: 'auto',
      description: 'How packets reach the queue. `nftables`: Outpost\'s own table `inet outpost` (needs the kernel\'s nf_tables `queue` expression, CONFIG_NFT_QUEUE / module nft_queue). `iptables`: the same logic as chains of Outpost\'s own (OUTPOST-FWD and OUTPOST-DNS in the mangle table, OUTPOST-BLOCKED in the filter table, one jump each from FORWARD / INPUT), written with the machine\'s `iptables-restore` / `ip6tables-restore` (iptables-nft on Debian 12, whose NFQUEUE target runs through nf_tables\' xtables compat). `auto`: the table, or the chains when the kernel refuses the table\'s queue rules. The backend in use is logged at start and shown in the inline health entry. Restart required.',
    },
    queueNumber: {
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      default: 3127,
      description: 'NFQUEUE number the table sends packets to (must not be used by another program on the gateway).',
    },
    tcpPorts: {
      type: 'array',
      items: port,
      uniqueItems: true,
      maxItems: 64,
      default: [80, 443],
      description: 'TCP destination ports whose new flows are judged (TLS SNI, HTTP Host). A blocked flow is reset: the kernel answers the client with a TCP RST (nft `reject with tcp reset`).',
    },
    udpPorts: {
      type: 'array',
      items: port,
      uniqueItems: true,
      maxItems: 64,
      default: [443],
      description: 'UDP destination ports whose new flows are judged (QUIC SNI from the decrypted Initial). A blocked QUIC flow is dropped, so the browser falls back to TCP, where the SNI is judged again.',
    },
    dnsPorts: {
      type: 'array',
      items: port,
      uniqueItems: true,
      maxItems: 8,
      default: [53],
      description: 'UDP destination ports of DNS queries judged when dnsNxdomain is on (through the gateway and to a resolver on the gateway itself).',
    },
    dnsNxdomain: {
      type: 'boolean',
      default: false,
      description: 'Answer DNS queries (UDP) for blocked names with NXDOMAIN (RFC 1035 §4.1.1 RCODE 3) instead of letting them through. Off: DNS is not queued at all.',
    },
    failClosed: {
      type: 'boolean',
      default: false,
      description: 'Off (default, fail-open): the queue rule has `bypass` and the queue is fail-open, so when Outpost is not running, hangs or falls behind, packets pass unjudged. On (fail-closed): the new flows on the ports above are dropped while Outpost is not reading the queue (crash, hang, restart) or its queue is full. Risk: a crashed daemon cuts the office off from the web on those ports until it is restarted or the table is deleted (`nft delete table inet outpost`; with the iptables backend, the OUTPOST- chains and their jumps, docs/ERRORS.md CONTROL_IPTABLES_FAILED); a clean stop removes the table either way.',
    },
    maxPacketsPerFlow: {
      type: 'integer',
      minimum: 1,
      maximum: 64,
      default: 8,
      description: 'Packets of one flow looked at for a name. A flow with no name by then gets the default verdict (allow), counted as inline.verdicts.default.',
    },
    batchPackets: {
      type: 'integer',
      minimum: 1,
      maximum: 1024,
      default: 64,
      description: 'Most packets handed from the queue reader thread to JavaScript in one batch (a batch is also handed over as soon as the queue is empty).',
    },
    maxQueueLength: {
      type: 'integer',
      minimum: 64,
      maximum: 1048576,
      default: 4096,
      description: 'Packets the kernel holds in the queue waiting for a verdict; beyond it packets are accepted (fail-open) or dropped (fail-closed).',
    },
    resetServer: {
      type: 'boolean',
      default: true,
      description: 'When a TCP flow is blocked, also send the server a TCP RST in the client\'s name (raw socket, sequence number of the blocked segment), so it frees the connection at once.',
    },
    readerRealtimePriority: {
      type: 'integer',
      minimum: 0,
      maximum: 99,
      default: 1,
      description: 'SCHED_FIFO priority of the addon\'s queue reader thread (1 is the lowest real-time priority; 0 keeps the default policy). Woken by a queued packet, the thread then runs at once instead of waiting behind the gateway\'s other work, which was most of the tail of the added latency of a new TCP connection (see BENCHMARKS.md). It does little per packet (a copy, and the verdict of segments that cannot carry a name) and the kernel\'s real-time throttling bounds it. Needs CAP_SYS_NICE (root); refused, the thread runs as before and the start is logged with a warning (the gauge inline.queue.reader_realtime_priority is then 0). Restart required.',
    },
    verdictBoostPriority: {
      type: 'integer',
      minimum: 0,
      maximum: 99,
      default: 1,
      description: 'SCHED_FIFO priority the daemon\'s JavaScript thread is raised to while, and only while, packets wait for its verdict (ClientHello, QUIC Initial, HTTP request, DNS query): the queue reader thread raises it as it hands such a batch over, and it goes back to the default policy verdictBoostHoldMs after the last such batch\'s verdicts were given. A judged packet then no longer waits for that thread to be scheduled behind the box\'s other work (most of the tail of a QUIC Initial\'s added latency on a loaded 2-vCPU gateway: see BENCHMARKS.md), while the daemon\'s other work (capture, flows, the API, forwarding) keeps the default policy between new flows. Bounded by verdictBoostBudgetMsPerSecond; the raises, the batches over budget and the time raised are counted (inline.verdict_boost.*). 0 turns it off. Needs CAP_SYS_NICE (root); refused, it stays off, the gauge inline.verdict_boost_priority is 0 and the start is logged with a warning. Ignored when verdictRealtimePriority is set. Restart required.',
    },
    verdictBoostBudgetMsPerSecond: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      default: 500,
      description: 'Most milliseconds of CPU time per second the JavaScript thread may use while raised by verdictBoostPriority (what it takes ahead of the box\'s ordinary processes), enforced over each tenth of a second (by default at most 50 ms at a stretch). A flood of new flows (each new flow\'s first packets are judged) then cannot hold that thread at real-time priority ahead of the box\'s other processes for longer; beyond it batches are judged at the default policy, counted as inline.verdict_boost.over_budget. Judging a batch of one new flow\'s first named packet uses some tens of microseconds of CPU (BENCHMARKS.md), so the default covers several thousand new flows per second. Restart required.',
    },
    verdictBoostHoldMs: {
      type: 'integer',
      minimum: 0,
      maximum: 1000,
      default: 2,
      description: 'Milliseconds the JavaScript thread stays raised by verdictBoostPriority after the last packet it judged. New flows come in bursts (a page load opens dozens), and between two of them that thread does the capture side of the same flows; held through the burst, that work no longer makes the next verdict wait behind the box\'s other processes (BENCHMARKS.md: the whole daemon\'s QUIC Initial p99). Its CPU time while held counts against verdictBoostBudgetMsPerSecond. 0: lowered as soon as no packet awaits a verdict. Restart required.',
    },
    verdictRealtimePriority: {
      type: 'integer',
      minimum: 0,
      maximum: 99,
      default: 0,
      description: 'SCHED_FIFO priority of the daemon\'s JavaScript thread all the time inline mode runs (not only while it judges, as verdictBoostPriority does); 0 (the default) leaves it to verdictBoostPriority. The risk: that thread also runs capture, flows, the API and forwarding, so a busy daemon then takes CPU ahead of every ordinary process on the box (ssh included), bounded only by the kernel\'s real-time throttling (sched_rt_runtime_us, 95 % of each second by default). Use it on a box dedicated to the gateway. Needs CAP_SYS_NICE (root); refused, a warning and the gauge inline.verdict_realtime_priority 0. Restart required.',
    },
  },
};

export const controlConfigSection: ConfigSection<ControlConfig> = {
  key: 'control',
  schema: {
    type: 'object',
    additionalProperties: false,
    default: {} as ControlConfig,
    description: 'Control: enforcement of app sanctions.',
    required: ['inline', 'span'],
    properties: {
      inline: inlineConfigSchema,
      span: {
        type: 'object',
        additionalProperties: false,
        default: {} as SpanConfig,
        description: 'SPAN mode (Outpost sees a mirror of the traffic, not the traffic itself): optional TCP reset injection for blocked flows.',
        required: ['resetInjection', 'tcpPorts'],
        properties: {
          resetInjection: {
            type: 'boolean',
            default: false,
            description: 'When a TCP flow seen on a capture interface is blocked by the verdict policy (TLS SNI, HTTP Host), send a TCP RST to both ends out of that interface (libpcap pcap_inject; the mirror port must accept transmitted frames). Best effort: the reset only works if it reaches each end before the other end\'s next segment, a race it often loses on a fast LAN (BENCHMARKS.md gives the measured win rate). Restart required.',
          },
          tcpPorts: {
            type: 'array',
            items: port,
            uniqueItems: true,
            maxItems: 64,
            default: [80, 443],
            description: 'TCP server ports whose flows are judged for reset injection.',
          },
        },
      },
    },
  },
};
