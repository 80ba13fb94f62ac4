/**
 * A TCP proxy on 127.0.0.1 in front of one stand-in, for faults below HTTP: it can reset the
 * next connections (ECONNRESET once the client has sent its request) or swallow them (the
 * request goes out, no answer ever comes back). Bytes pass through untouched, so TLS to the
 * Kubernetes stand-in still verifies against its CA and SigV4 still verifies on the AWS ones.
 */
import { connect, createServer, type Socket } from 'node:net';
import { closeServer, listenLoopback } from './listen.js';

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` or `https://…`, the target's scheme on the proxy's port. */
  readonly url: string;
  /** Connections that have carried data so far, faulted ones included. */
  readonly connections: number;
  /** The next `n` connections are reset as soon as the client has sent its first bytes. */
  resetNext(n: number): void;
  /** The next `n` connections receive the client's bytes and never answer. */
  stallNext(n: number): void;
  close(): Promise<void>;
}

/** Starts a proxy forwarding to `target` (a URL such as `http://127.0.0.1:1234`). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const port = Number(upstream.port);
  const faults: Array<'reset' | 'stall'> = [];
  const open = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    client.once('data', (first: Buffer) => {
      // Hold further bytes until the upstream connection is there to take them.
      client.pause();
      connections++;
      const fault = faults.shift();
      if (fault === 'reset') return void client.resetAndDestroy();
      if (fault === 'stall') return void client.resume();
      const server = connect(port, upstream.hostname, () => {
        server.write(first);
        client.pipe(server).pipe(client);
      });
      open.add(server);
      server.on('close', () => {
        open.delete(server);
        client.destroy();
      });
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
    });
  });
  const own = await listenLoopback(server);
  return {
    url: `${upstream.protocol}//127.0.0.1:${own}`,
    get connections() {
      return connections;
    },
    resetNext: (n) => {
      for (let i = 0; i < n; i++) faults.push('reset');
    },
    stallNext: (n) => {
      for (let i = 0; i < n; i++) faults.push('stall');
    },
    close: () => {
      for (const s of open) s.destroy();
      // Closing twice is allowed: the error of the second close is ignored.
      return closeServer(server).catch(() => undefined);
    },
  };
}
