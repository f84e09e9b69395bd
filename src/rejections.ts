// Why the primary turns a connection away: one list, in the order of the
// counters. native/ keeps its twin (the addon exports it as `rejectReasons`).
// `status` 0: closed without an answer. `{header}` and `{limit}` in a message
// stand for the configured header name and head limit.

export const REJECTIONS = [
  { reason: 'missing-header', status: 400, message: 'Missing {header} header' },
  { reason: 'invalid-header', status: 400, message: '{header} header does not start with an IP address' },
  { reason: 'head-too-large', status: 431, message: 'Request head is over {limit} bytes' },
  { reason: 'head-timeout', status: 0, message: '' },
  { reason: 'closed-early', status: 0, message: '' },
  { reason: 'queue-full', status: 503, message: 'No worker is available' },
  /** A PROXY protocol header that does not parse, from a trusted peer. */
  { reason: 'malformed-proxy', status: 0, message: '' },
  /** A PROXY protocol header (or its start) from a peer not in trustedProxies. */
  { reason: 'untrusted-proxy', status: 0, message: '' },
] as const;

/** Why the primary turned a connection away, as counted in `stats().rejected`. */
export type RejectReason = (typeof REJECTIONS)[number]['reason'];

/** The values a message's placeholders stand for. */
export interface RejectionValues {
  header?: string;
  limit?: number;
}

/** The HTTP answer for `reason` (status 0: none), its placeholders filled in. */
export function rejection(reason: RejectReason, values: RejectionValues = {}): { reason: RejectReason; status: number; message: string } {
  const { status, message } = REJECTIONS.find((entry) => entry.reason === reason)!;
  const text = message.replace(/\{(header|limit)\}/g, (_, name: keyof RejectionValues) => String(values[name]));
  return { reason, status, message: text };
}

export function emptyRejections(): Record<RejectReason, number> {
  return Object.fromEntries(REJECTIONS.map(({ reason }) => [reason, 0])) as Record<RejectReason, number>;
}
