import type { RejectReason } from './routing/types';

export function emptyRejections(): Record<RejectReason, number> {
  return {
    'missing-header': 0,
    'invalid-header': 0,
    'head-too-large': 0,
    'head-timeout': 0,
    'closed-early': 0,
    'queue-full': 0,
    'malformed-proxy': 0,
    'untrusted-proxy': 0,
  };
}
