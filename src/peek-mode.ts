// How the primary looks at connections' first bytes while they decide
// (docs/internals.md "Trickling clients"). STICKY_PEEK chooses, for tests and
// benchmarks only:
//   offset     (default) peeks take only the bytes new since the last one
//              where the kernel allows (SO_PEEK_OFF), and a connection still
//              undecided after a few readinesses or chunks is parked: looked
//              at again every 50 ms instead of on every segment;
//   no-offset  as on a kernel without SO_PEEK_OFF for TCP: whole-queue peeks, parked;
//   whole      the behaviour before both: the whole queue peeked (or a chunk
//              read) on every readiness, never parked. The control of the
//              trickle test and bench.

export type PeekMode = 'offset' | 'no-offset' | 'whole';

const MODES: readonly string[] = ['offset', 'no-offset', 'whole'];

function fromEnvironment(value: string | undefined): PeekMode {
  if (value === undefined || value === '') return 'offset';
  if (!MODES.includes(value)) throw new Error(`sticky-native: STICKY_PEEK must be one of ${MODES.join(', ')} or unset, not "${value}"`);
  return value as PeekMode;
}

export const PEEK_MODE: PeekMode = fromEnvironment(process.env.STICKY_PEEK);
