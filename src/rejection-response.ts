import type net from 'node:net';

/** How long a rejected client may take to read its answer before the socket is destroyed. */
const LINGER_MS = 2_000;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

/** Answers with an HTTP status and a one-line reason, then closes once the client has read it. */
export function rejectWithStatus(socket: net.Socket, status: number, message: string): void {
  const body = `${message}\n`;
  // Reading the rest of the request keeps the close graceful: closing a socket
  // with unread input sends a reset, which can destroy the answer in flight.
  socket.on('data', () => {});
  socket.resume();
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
