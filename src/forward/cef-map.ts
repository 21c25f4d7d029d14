/**
 * The one mapping of OCSF 1.8.0 event attributes to CEF extension keys (Implementing ArcSight
 * Common Event Format (CEF), Version 25, September 28 2017: "CEF Key Names for Event Producers"
 * and, for cs1..cs6 / cn1..cn3 / cfp1..cfp4 / flexString1..2 / deviceCustomDate1..2, the custom
 * fields that "have a corresponding label field", the `<key>Label` key).
 *
 * The OCSF event is the model; every line format is read off it. toCef() (cef.ts) walks these
 * rows in order for the event's class_uid and writes ` key=value` for each one whose attribute is
 * present, and ` keyLabel=label` right after a custom field's value. docs/CEF.md holds the same
 * table; test/forward-cef-ocsf.test.ts reads it back from the doc and compares it with this one,
 * row by row.
 *
 * Meanings the spec fixes, and why a row is what it is:
 * - `in` is bytesIn: "number of bytes transferred inbound, relative to the source to destination
 *   relationship, meaning that data was flowing from source to destination"; `out` (bytesOut) is
 *   the bytes "flowing from the destination to the source". OCSF traffic.bytes_out is source →
 *   destination, so CEF in = OCSF bytes_out and CEF out = OCSF bytes_in (Elastic's CEF decoder
 *   reads bytesIn as source.bytes the same way).
 * - `app` is applicationProtocol ("HTTP, HTTPS, SSHv2, Telnet, POP, IMAP ..."): OCSF
 *   app_protocol_name (the ALPN of a TLS/QUIC flow, `http` for HTTP Activity). The cloud app the
 *   discovery enricher named (app_name, unmapped.cloud_app) is not a protocol, so it goes in
 *   labelled custom strings; putting "Dropbox" in `app` would make every SIEM rule on `app=HTTPS`
 *   miss it.
 * - `cat` is deviceEventCategory, "the category assigned by the originating device": OCSF
 *   category_name. The cloud app's category is a custom string.
 * - `act` is deviceAction: OCSF `action` (Allowed, Denied) where the control policy decided the
 *   flow (its verdict events, docs/POLICY.md), else activity_name (what was seen happening).
 * - `shost` / `smac` / `src`: the host the event is about. In Network Activity that is the source
 *   endpoint, identified by the device enricher (`device` is the device that held the source
 *   address); in Device Inventory Info (5001) it is `device` itself. `dvchost`, `dvc` and
 *   `deviceExternalId` name the device that produced the event (the sensor), which an OCSF event
 *   does not carry: the RFC 5424 HOSTNAME of the syslog message names it.
 * - `sntdom` is sourceNtDomain ("the Windows domain name for the source address"):
 *   actor.user.domain. `spriv` is sourceUserPrivileges: the actor's groups (the API role in 6003).
 * - `src` / `dst` carry IPv6 addresses too (the spec's dictionary describes IPv4; ArcSight and the
 *   common CEF parsers accept both there), rather than splitting one attribute over two keys.
 *
 * Custom fields: one label per key per class, so a receiver that keys its parsing on the label
 * finds the same meaning in every line of a class. Device and user context (cs6, flexString1,
 * flexString2) keep one slot in every class.
 */

/** Value conversions a row may apply. */
export type CefConversion = 'upper' | 'direction';

export interface CefMapping {
  /** class_uid values the row applies to; 'all': every event, of any class (also one unknown here). */
  classes: 'all' | readonly number[];
  /**
   * OCSF attribute path. `a | b`: the first of the alternatives that is present; `x[].y`: the `y`
   * of every element of array `x`, duplicates dropped, joined with `,`; `x[0].y`: the first
   * element's `y`.
   */
  ocsf: string;
  /** CEF extension key (rev 25 dictionary). */
  key: string;
  /** For a custom field: the value of its `<key>Label`. */
  label?: string;
  /** upper: upper-cased (proto); direction: OCSF direction_id 1 Inbound → 0, 2 Outbound → 1 (deviceDirection), others left out. */
  as?: CefConversion;
}

const NETWORK = 4001, HTTP = 4002, DNS = 4003, DHCP = 4004, INVENTORY = 5001, API = 6003, AUTH = 3002, BASE = 0;

export const CEF_MAP: readonly CefMapping[] = [
  // Time, what happened, which event.
  { classes: 'all', ocsf: 'time', key: 'rt' },
  { classes: 'all', ocsf: 'start_time', key: 'start' },
  { classes: 'all', ocsf: 'end_time', key: 'end' },
  { classes: 'all', ocsf: 'action | activity_name', key: 'act' },
  { classes: 'all', ocsf: 'category_name', key: 'cat' },
  { classes: 'all', ocsf: 'metadata.uid', key: 'externalId' },
  { classes: 'all', ocsf: 'status', key: 'outcome' },
  // Source: the endpoint, its device and its user.
  { classes: 'all', ocsf: 'src_endpoint.ip | device.ip | device.network_interfaces[0].ip', key: 'src' },
  { classes: 'all', ocsf: 'src_endpoint.port', key: 'spt' },
  { classes: 'all', ocsf: 'src_endpoint.mac | device.mac', key: 'smac' },
  { classes: 'all', ocsf: 'device.hostname | src_endpoint.hostname', key: 'shost' },
  { classes: 'all', ocsf: 'actor.user.name', key: 'suser' },
  { classes: 'all', ocsf: 'actor.user.uid', key: 'suid' },
  { classes: 'all', ocsf: 'actor.user.domain', key: 'sntdom' },
  { classes: 'all', ocsf: 'actor.user.groups[].name', key: 'spriv' },
  // Destination.
  { classes: 'all', ocsf: 'dst_endpoint.ip', key: 'dst' },
  { classes: 'all', ocsf: 'dst_endpoint.port', key: 'dpt' },
  { classes: 'all', ocsf: 'dst_endpoint.mac', key: 'dmac' },
  { classes: 'all', ocsf: 'dst_endpoint.hostname | http_request.url.hostname', key: 'dhost' },
  // Connection and traffic.
  { classes: 'all', ocsf: 'connection_info.protocol_name', key: 'proto', as: 'upper' },
  { classes: 'all', ocsf: 'connection_info.direction_id', key: 'deviceDirection', as: 'direction' },
  { classes: [NETWORK], ocsf: 'traffic.bytes_out', key: 'in' },
  { classes: [NETWORK], ocsf: 'traffic.bytes_in', key: 'out' },
  { classes: [BASE], ocsf: 'unmapped.discovery_summary.totals.bytes_up', key: 'in' },
  { classes: [BASE], ocsf: 'unmapped.discovery_summary.totals.bytes_down', key: 'out' },
  { classes: 'all', ocsf: 'app_protocol_name', key: 'app' },
  // HTTP request.
  { classes: [HTTP], ocsf: 'http_request.http_method', key: 'requestMethod' },
  { classes: [HTTP], ocsf: 'http_request.url.url_string', key: 'request' },
  { classes: [HTTP], ocsf: 'http_request.user_agent', key: 'requestClientApplication' },
  // Network Activity: the flow and the cloud app the discovery enricher named.
  { classes: [NETWORK], ocsf: 'traffic.packets_out', key: 'cn1', label: 'packetsSrcToDst' },
  { classes: [NETWORK], ocsf: 'traffic.packets_in', key: 'cn2', label: 'packetsDstToSrc' },
  { classes: [NETWORK], ocsf: 'connection_info.uid', key: 'cs1', label: 'connectionUid' },
  { classes: [NETWORK], ocsf: 'unmapped.cloud_app.id', key: 'cs2', label: 'cloudAppId' },
  { classes: [NETWORK], ocsf: 'app_name | unmapped.cloud_app.name', key: 'cs3', label: 'cloudAppName' },
  { classes: [NETWORK], ocsf: 'unmapped.cloud_app.category', key: 'cs4', label: 'cloudAppCategory' },
  { classes: [NETWORK], ocsf: 'unmapped.cloud_app.sanction', key: 'cs5', label: 'cloudAppSanction' },
  { classes: [NETWORK], ocsf: 'unmapped.cloud_app.risk_score', key: 'cfp1', label: 'cloudAppRiskScore' },
  // The control policy's verdicts: the rule that decided (CEF `reason`, "the reason an audit event was generated").
  { classes: [NETWORK], ocsf: 'firewall_rule.name', key: 'reason' },
  // HTTP Activity.
  { classes: [HTTP], ocsf: 'http_response.code', key: 'cn1', label: 'httpStatus' },
  { classes: [HTTP], ocsf: 'http_request.version', key: 'cs1', label: 'httpVersion' },
  { classes: [HTTP], ocsf: 'connection_info.uid', key: 'cs2', label: 'connectionUid' },
  // DNS Activity.
  { classes: [DNS], ocsf: 'query.packet_uid | answers[0].packet_uid', key: 'cn1', label: 'dnsTransactionId' },
  { classes: [DNS], ocsf: 'query.hostname', key: 'cs1', label: 'dnsQuery' },
  { classes: [DNS], ocsf: 'query.type', key: 'cs2', label: 'dnsQueryType' },
  { classes: [DNS], ocsf: 'answers[].rdata', key: 'cs3', label: 'dnsAnswers' },
  { classes: [DNS], ocsf: 'rcode', key: 'cs4', label: 'dnsResponseCode' },
  { classes: [DNS], ocsf: 'query.opcode', key: 'cs5', label: 'dnsOpcode' },
  // DHCP Activity.
  { classes: [DHCP], ocsf: 'lease_dur', key: 'cn1', label: 'dhcpLeaseSeconds' },
  { classes: [DHCP], ocsf: 'transaction_uid', key: 'cs1', label: 'dhcpTransactionId' },
  { classes: [DHCP], ocsf: 'relay.ip', key: 'cs2', label: 'dhcpRelay' },
  { classes: [DHCP], ocsf: 'unmapped.dhcp_client_id | unmapped.dhcp6_duid', key: 'cs3', label: 'dhcpClientId' },
  { classes: [DHCP], ocsf: 'unmapped.dhcp_vendor_class', key: 'cs4', label: 'dhcpVendorClass' },
  { classes: [DHCP], ocsf: 'unmapped.dhcp_msg_type', key: 'cs5', label: 'dhcpMessageType' },
  // Device Inventory Info.
  { classes: [INVENTORY], ocsf: 'device.type', key: 'cs1', label: 'deviceType' },
  { classes: [INVENTORY], ocsf: 'device.vendor_name', key: 'cs2', label: 'deviceVendor' },
  { classes: [INVENTORY], ocsf: 'device.network_interfaces[].ip', key: 'cs3', label: 'deviceAddresses' },
  { classes: [INVENTORY], ocsf: 'device.network_interfaces[].mac', key: 'cs4', label: 'deviceMacs' },
  { classes: [INVENTORY], ocsf: 'unmapped.change', key: 'cs5', label: 'inventoryChange' },
  { classes: [INVENTORY], ocsf: 'device.first_seen_time', key: 'deviceCustomDate1', label: 'deviceFirstSeen' },
  { classes: [INVENTORY], ocsf: 'device.last_seen_time', key: 'deviceCustomDate2', label: 'deviceLastSeen' },
  // API Activity (configuration changes).
  { classes: [API], ocsf: 'api.operation', key: 'cs1', label: 'apiOperation' },
  { classes: [API], ocsf: 'resources[0].uid', key: 'cs2', label: 'configRevision' },
  { classes: [API], ocsf: 'unmapped.previous_revision', key: 'cs3', label: 'previousConfigRevision' },
  { classes: [API], ocsf: 'actor.user.type', key: 'cs4', label: 'userType' },
  { classes: [API], ocsf: 'unmapped.changes[].path', key: 'cs5', label: 'changedSettings' },
  // Authentication (logons seen on the wire): the account logged on to the destination.
  { classes: [AUTH], ocsf: 'user.name', key: 'duser' },
  { classes: [AUTH], ocsf: 'user.uid', key: 'duid' },
  { classes: [AUTH], ocsf: 'user.domain', key: 'dntdom' },
  { classes: [AUTH], ocsf: 'auth_protocol', key: 'cs1', label: 'authProtocol' },
  { classes: [AUTH], ocsf: 'service.name', key: 'cs2', label: 'authService' },
  { classes: [AUTH], ocsf: 'status_code', key: 'cs3', label: 'authStatusCode' },
  { classes: [AUTH], ocsf: 'unmapped.logon_kind', key: 'cs4', label: 'logonKind' },
  // Discovery summary (Base Event).
  { classes: [BASE], ocsf: 'unmapped.discovery_summary.apps', key: 'cn1', label: 'apps' },
  { classes: [BASE], ocsf: 'unmapped.discovery_summary.unsanctioned_apps', key: 'cn2', label: 'unsanctionedApps' },
  { classes: [BASE], ocsf: 'unmapped.discovery_summary.totals.flows', key: 'cn3', label: 'flows' },
  { classes: [BASE], ocsf: 'unmapped.discovery_summary.top_upload[].id', key: 'cs1', label: 'topUploadAppIds' },
  { classes: [BASE], ocsf: 'unmapped.discovery_summary.unsanctioned[].id', key: 'cs2', label: 'unsanctionedAppIds' },
  { classes: [BASE], ocsf: 'unmapped.discovery_summary.catalog_version', key: 'cs3', label: 'catalogVersion' },
  { classes: [BASE], ocsf: 'unmapped.discovery_summary.granularity', key: 'cs4', label: 'granularity' },
  // Device and user context, the same slots in every class.
  { classes: 'all', ocsf: 'device.uid', key: 'cs6', label: 'deviceUid' },
  { classes: 'all', ocsf: 'device.os.name', key: 'flexString1', label: 'deviceOs' },
  { classes: 'all', ocsf: 'actor.user.uid_alt', key: 'flexString2', label: 'userPrincipalName' },
  // Last: free text.
  { classes: 'all', ocsf: 'message', key: 'msg' },
];
