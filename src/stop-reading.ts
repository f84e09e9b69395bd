import type net from 'node:net';

/**
 * Stops the socket's handle from reading any further. `pause()` alone would not:
 * libuv keeps reading into the stream's buffer (or, once an http.Server has
 * consumed the handle, straight into its parser). `resume()` starts it again.
 * Mirrors what net.Socket#pause does for sockets made with the `onread` option.
 */
export function stopReading(socket: net.Socket): void {
  socket.pause();
  const handle = (socket as unknown as { _handle?: { reading?: boolean; readStop?: () => number } | null })._handle;
  if (handle?.reading && handle.readStop) {
    handle.reading = false;
    handle.readStop();
  }
}
