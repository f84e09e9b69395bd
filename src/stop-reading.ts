import type net from 'node:net';

type ReadingHandle = { reading?: boolean; readStop?: () => number; readStart?: () => number } | null | undefined;

function handleOf(socket: net.Socket): ReadingHandle {
  return (socket as unknown as { _handle?: ReadingHandle })._handle;
}

/**
 * Stops the socket's handle from reading until `resume()`. `pause()` alone
 * would not: libuv keeps reading into the stream's buffer (or, once an
 * http.Server has consumed the handle, straight into its parser). Mirrors what
 * net.Socket#pause does for sockets made with the `onread` option.
 * Node internals: `_handle.reading`, `_handle.readStop()`, and http.Server
 * restarting on 'resume' a handle whose `reading` is false (guarded by
 * test/e2e/node-internals.test.ts).
 */
export function stopReading(socket: net.Socket): void {
  socket.pause();
  const handle = handleOf(socket);
  if (handle?.reading && handle.readStop) {
    handle.reading = false;
    handle.readStop();
  }
}

/**
 * Undoes stopReading: resumes the stream and restarts the handle. resume()
 * alone would not restart it: the stream still counts the read it started
 * when the socket was made (no bytes have answered it), so it never calls
 * _read again. An http.Server restarts the handle on 'resume' itself; a plain
 * net.Server does not, and its socket would wait forever (test/e2e/seed-api.test.ts,
 * 'net.Server'). Node internals: `_handle.reading` and `_handle.readStart()`.
 */
export function resumeReading(socket: net.Socket): void {
  socket.resume();
  const handle = handleOf(socket);
  if (handle && handle.reading === false && handle.readStart) {
    handle.reading = true;
    handle.readStart();
  }
}

/**
 * Stops the socket's handle from reading for good, in the primary, once its
 * first bytes are decided and it waits to be handed to a worker. Unlike
 * stopReading, the handle keeps its `reading` mark: Node's stream machinery
 * calls _read again on its next tick (maybeReadMore), which would start the
 * handle reading a handle marked idle, and bytes that arrive before the
 * hand-off would be read here and lost to the worker.
 * Node internal: that restart by maybeReadMore (guarded by
 * test/unit/stop-reading.test.ts, whose control shows it).
 */
export function holdForHandOff(socket: net.Socket): void {
  socket.pause();
  const handle = handleOf(socket);
  if (handle?.reading && handle.readStop) handle.readStop();
}

/**
 * Undoes holdForHandOff: the handle reads again, and what arrived meanwhile
 * comes as one chunk. Node internal: `_handle.readStart()` (guarded by
 * test/e2e/node-internals.test.ts).
 */
export function restartReading(socket: net.Socket): void {
  const handle = handleOf(socket);
  if (handle?.reading && handle.readStart) handle.readStart();
  socket.resume();
}
