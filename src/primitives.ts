// The shape both the native addon and src/fallback/ provide
// (docs/internals.md "Primitives").

export type HeadStatus = 'need-more' | 'found' | 'missing' | 'invalid' | 'not-http' | 'too-large';

export interface HeadScan {
  status: HeadStatus;
  /** The canonical 16-byte address when `status` is 'found', otherwise null. */
  address: Buffer | null;
}

export type PeekOutcome = Exclude<HeadStatus, 'need-more'> | 'closed' | 'error';

export interface HeadPeeker {
  /** Start watching an accepted socket that nobody is reading. */
  watch(fd: number): void;
  /** Idempotent; call before the fd leaves the process. */
  unwatch(fd: number): void;
  close(): void;
}

export interface HeadPeekerClass {
  new (
    headerLower: string,
    limit: number,
    onResult: (fd: number, outcome: PeekOutcome, address: Buffer | null) => void,
  ): HeadPeeker;
}

export interface Primitives {
  kind: 'native' | 'fallback';
  /** SipHash-2-4 of `address` under the 16-byte `key`. */
  hash64(key: Buffer, address: Buffer): bigint;
  /** The canonical 16-byte address, or null if `text` is not an address. */
  parseAddress(text: string): Buffer | null;
  scanHead(head: Buffer, headerLower: string, limit: number): HeadScan;
  /** Null in the fallback, which reads the first chunk instead of peeking. */
  HeadPeeker: HeadPeekerClass | null;
}
