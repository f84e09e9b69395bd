/** Messages between the primary and its workers, told apart from user messages by `sticky`. */
export type StickyMessage =
  | { sticky: 'ready' }
  | { sticky: 'connection'; head?: string }
  | { sticky: 'close' };

export function isStickyMessage(message: unknown): message is StickyMessage {
  return typeof message === 'object' && message !== null && typeof (message as { sticky?: unknown }).sticky === 'string';
}
