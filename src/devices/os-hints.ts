/**
 * OS family and device type hints with their evidence: DHCP vendor class (RFC 2132 §9.13),
 * the option-55 parameter request list (its order is specific to a DHCP client implementation,
 * as in fingerbank-style fingerprints) and HTTP User-Agent (RFC 9110 §10.1.5) product tokens.
 * A hint is a guess with a confidence in [0, 1]; the store keeps the strongest per device.
 *
 * A hint names a device type only where its signal tells the types apart. The DHCP client of
 * macOS is the same on an iMac, a Mac mini, a Mac Pro and a MacBook (one option-55 order for all),
 * and a ChromeOS User-Agent is the same on a Chromebook and a Chromebox, so those hints carry no
 * device type: the device stays type_id 0 Unknown (OCSF device.type_id) unless another signal
 * (an agent, an administrator) says more. Neither Desktop (2) nor Laptop (3) would be honest, and
 * Other (99) would claim it is neither. The store keeps a type set earlier when the strongest
 * hint has none (DeviceStore: a hint without deviceTypeId leaves typeId alone).
 */

/** OCSF os.type_id values (objects/os.json). */
export const OsTypeId = { UNKNOWN: 0, WINDOWS: 100, LINUX: 200, ANDROID: 201, MACOS: 300, IOS: 301, IPADOS: 302, OTHER: 99 } as const;
/** OCSF device.type_id values (objects/endpoint.json). */
export const DeviceTypeId = { UNKNOWN: 0, SERVER: 1, DESKTOP: 2, LAPTOP: 3, TABLET: 4, MOBILE: 5, VIRTUAL: 6, IOT: 7, OTHER: 99 } as const;

export interface OsHint {
  osName: string;
  osTypeId: number;
  deviceTypeId?: number;
  confidence: number;
  /** What it came from: "dhcp_vendor_class:MSFT 5.0", "dhcp_prl:1,3,6,...", "user_agent:...". */
  evidence: string;
}

const VENDOR_CLASS_RULES: Array<[RegExp, string, number, number | undefined, number]> = [
  [/^MSFT\b/i, 'Windows', OsTypeId.WINDOWS, undefined, 0.9],
  [/^android-dhcp/i, 'Android', OsTypeId.ANDROID, DeviceTypeId.MOBILE, 0.9],
  [/^dhcpcd.*Linux/i, 'Linux', OsTypeId.LINUX, undefined, 0.7],
  [/^dhcpcd/i, 'Linux', OsTypeId.LINUX, undefined, 0.5],
  [/^udhcp/i, 'Linux', OsTypeId.LINUX, DeviceTypeId.IOT, 0.5],
];

/** Option-55 orders of common clients (leading codes compared). */
const PRL_RULES: Array<[string, string, number, number | undefined, number]> = [
  ['1,3,6,15,31,33,43,44,46,47,119,121,249,252', 'Windows', OsTypeId.WINDOWS, undefined, 0.8],
  ['1,3,6,15,31,33,43,44,46,47,121,249,252', 'Windows', OsTypeId.WINDOWS, undefined, 0.7],
  ['1,121,3,6,15,108,114,119,252,95,44,46', 'iOS', OsTypeId.IOS, DeviceTypeId.MOBILE, 0.6],
  // macOS: no device type, desktop and laptop Macs send the same list (see the header).
  ['1,121,3,6,15,119,252,95,44,46', 'macOS', OsTypeId.MACOS, undefined, 0.6],
  ['1,121,3,6,15,114,119,252', 'macOS', OsTypeId.MACOS, undefined, 0.5],
  ['1,3,6,15,26,28,51,58,59,43', 'Android', OsTypeId.ANDROID, DeviceTypeId.MOBILE, 0.7],
  ['1,3,6,15,26,28,51,58,59', 'Android', OsTypeId.ANDROID, DeviceTypeId.MOBILE, 0.6],
  ['1,28,2,3,15,6,119,12,44,47,26,121,42', 'Linux', OsTypeId.LINUX, undefined, 0.6],
  ['1,28,2,121,15,6,12,40,41,42,26,119,3', 'Linux', OsTypeId.LINUX, undefined, 0.5],
  ['1,3,6,12,15,28,42', 'Linux', OsTypeId.LINUX, undefined, 0.4],
];

export function hintFromVendorClass(vc: string): OsHint | undefined {
  for (const [re, osName, osTypeId, deviceTypeId, confidence] of VENDOR_CLASS_RULES) {
    if (re.test(vc)) return { osName, osTypeId, ...(deviceTypeId !== undefined ? { deviceTypeId } : {}), confidence, evidence: `dhcp_vendor_class:${vc}` };
  }
  return undefined;
}

export function hintFromParamRequestList(prl: readonly number[]): OsHint | undefined {
  const s = prl.join(',');
  for (const [fp, osName, osTypeId, deviceTypeId, confidence] of PRL_RULES) {
    if (s === fp || s.startsWith(fp + ',')) return { osName, osTypeId, ...(deviceTypeId !== undefined ? { deviceTypeId } : {}), confidence, evidence: `dhcp_prl:${s}` };
  }
  return undefined;
}

export function hintFromUserAgent(ua: string): OsHint | undefined {
  const ev = `user_agent:${ua.slice(0, 200)}`;
  if (/\biPhone\b/.test(ua)) return { osName: 'iOS', osTypeId: OsTypeId.IOS, deviceTypeId: DeviceTypeId.MOBILE, confidence: 0.6, evidence: ev };
  if (/\biPad\b/.test(ua)) return { osName: 'iPadOS', osTypeId: OsTypeId.IPADOS, deviceTypeId: DeviceTypeId.TABLET, confidence: 0.6, evidence: ev };
  if (/\bAndroid\b/.test(ua)) return { osName: 'Android', osTypeId: OsTypeId.ANDROID, deviceTypeId: DeviceTypeId.MOBILE, confidence: 0.6, evidence: ev };
  if (/\bWindows NT\b/.test(ua)) return { osName: 'Windows', osTypeId: OsTypeId.WINDOWS, confidence: 0.6, evidence: ev };
  if (/\bMac OS X\b|\bMacintosh\b/.test(ua)) return { osName: 'macOS', osTypeId: OsTypeId.MACOS, confidence: 0.6, evidence: ev };
  // ChromeOS: no device type, Chromebooks and Chromeboxes send the same token (see the header).
  if (/\bCrOS\b/.test(ua)) return { osName: 'ChromeOS', osTypeId: OsTypeId.LINUX, confidence: 0.6, evidence: ev };
  if (/\bLinux\b/.test(ua)) return { osName: 'Linux', osTypeId: OsTypeId.LINUX, confidence: 0.4, evidence: ev };
  return undefined;
}

/** OS name reported by an agent ("Debian GNU/Linux 12", "Windows 11 Pro", "macOS 14") → hint. */
export function hintFromAgentOs(os: string): OsHint {
  const ev = `agent:${os.slice(0, 200)}`;
  if (/windows/i.test(os)) return { osName: os, osTypeId: OsTypeId.WINDOWS, confidence: 1, evidence: ev };
  if (/mac ?os|darwin/i.test(os)) return { osName: os, osTypeId: OsTypeId.MACOS, confidence: 1, evidence: ev };
  if (/android/i.test(os)) return { osName: os, osTypeId: OsTypeId.ANDROID, confidence: 1, evidence: ev };
  if (/linux|debian|ubuntu|fedora|red hat|alpine/i.test(os)) return { osName: os, osTypeId: OsTypeId.LINUX, confidence: 1, evidence: ev };
  return { osName: os, osTypeId: OsTypeId.OTHER, confidence: 1, evidence: ev };
}
