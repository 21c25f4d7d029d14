/**
 * The OCSF metadata every event builder stamps (metadata.version, metadata.product), whichever
 * layer builds the event: protocols (DNS), events (Network Activity), devices (DHCP, inventory),
 * discovery and the daemon's audit events. A foundation module, so none of them imports another
 * area for two constants.
 */
export const OCSF_VERSION = '1.8.0';
export const PRODUCT = { name: 'Outpost', vendor_name: 'Outpost', version: '0.1.0' };
