import type net from 'node:net';
import type { ProxiedPeer } from '../proxied-peer';
import { resumeReading, stopReading } from '../stop-reading';
import { reportPeer } from './report-peer';

/** Hands a connection the primary routed here to `server`, as if it had accepted it. */
export function deliver(
  server: net.Server,
  socket: net.Socket,
  head: string | undefined,
  syncEvent: string | undefined,
  peer?: ProxiedPeer,
): void {
  if (peer) reportPeer(socket, peer);
  // Bytes the fallback read in the primary go back in front of the stream.
  if (head) socket.unshift(Buffer.from(head, 'base64'));
  if (syncEvent) {
    // Before 'connection': the handler may emit the event at once, and the
    // server must find the socket paused so it does not start the flow itself.
    stopReading(socket);
    socket.once(syncEvent, () => resumeReading(socket));
  }
  server.emit('connection', socket);
}
