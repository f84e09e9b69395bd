// The client a PROXY protocol header named, as the worker's socket reports it;
// the primary (routing/proxy-protocol.ts) and the worker both use it.

/** The client a PROXY protocol header names, which the worker's socket then reports as its remote end. */
export interface ProxiedPeer {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** The header's source as the worker's socket reports it: over IPC and over the native channel alike. */
export function proxiedPeerOf(source: Buffer, port: number, family: 4 | 6): ProxiedPeer {
  return family === 4
    ? { address: source.subarray(12).join('.'), port, family: 'IPv4' }
    : { address: ipv6Text(source), port, family: 'IPv6' };
}

/** RFC 5952 text, as Node reports an IPv6 remoteAddress (IPv4-mapped with a dotted tail). */
function ipv6Text(bytes: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `::ffff:${bytes.subarray(12).join('.')}`;
  // The longest run of two or more zero groups (the first of equals) becomes '::'.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
