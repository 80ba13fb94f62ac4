/**
 * Starting and stopping the local servers tests talk to (stand-ins, proxies, hung endpoints).
 */
import type { AddressInfo, Server } from 'node:net';

/** Listens on 127.0.0.1 (`port` 0: any free port) and resolves with the port; rejects if listening fails. */
export function listenLoopback(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Stops listening and resolves once the server has closed. An HTTP(S) server's connections are
 * all destroyed (`closeAllConnections`), idle and busy alike, so that keep-alive sockets and
 * requests that never get an answer do not hold the close up; a plain `net.Server` is only told
 * to close (its owner ends its sockets). Rejects with the error `close` reports, e.g.
 * ERR_SERVER_NOT_RUNNING when the server was already closed.
 */
export function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections?.();
  });
}
