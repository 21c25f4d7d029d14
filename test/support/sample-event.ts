/** A realistic OCSF 1.8 Network Activity event (about 900 bytes of JSON) for tests and benchmarks. */
export function sampleEvent(i: number) {
  const t = 1_700_000_000_000 + i;
  return {
    activity_id: 2,
    activity_name: 'Close',
    category_uid: 4,
    category_name: 'Network Activity',
    class_uid: 4001,
    class_name: 'Network Activity',
    type_uid: 400102,
    type_name: 'Network Activity: Close',
    severity_id: 1,
    severity: 'Informational',
    time: t,
    start_time: t - 5000,
    end_time: t,
    metadata: { uid: `ev-${String(i).padStart(9, '0')}`, version: '1.8.0', product: { name: 'Outpost', vendor_name: 'Outpost' } },
    src_endpoint: { ip: '10.0.0.' + (i % 250), port: 40000 + (i % 20000), hostname: 'host|a=b\\c' },
    dst_endpoint: { ip: '93.184.216.34', port: 443, hostname: 'example.com' },
    connection_info: { uid: `c-${i}`, protocol_name: 'tcp', protocol_num: 6, direction_id: 2, direction: 'Outbound' },
    traffic: { bytes_out: 1234 + i, bytes_in: 56789, packets_out: 12, packets_in: 40, bytes: 58023 + i, packets: 52 },
    message: 'flow closed\nline2',
  };
}
