/** Free TCP ports on loopback for tests that start servers. */
import { once } from 'node:events';
import net from 'node:net';

/**
 * A port that was free a moment ago on `host` (default `127.0.0.1`): the OS picks it for a
 * listener on port 0, which is then closed. Another process may still grab it before the caller
 * binds, so callers that can should retry with a new port on EADDRINUSE.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  server.listen({ host, port: 0, exclusive: true });
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return port;
}

/** True when something accepts TCP connections on `host:port` (a single attempt). */
export async function isListening(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
