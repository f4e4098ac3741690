/**
 * In-process MQTT broker (aedes) for the demo and for tests: one process, no Mosquitto needed.
 * It binds to loopback only; anything reachable from the network belongs in a real broker.
 */
import { once, type EventEmitter } from 'node:events';
import net from 'node:net';
import { Aedes } from 'aedes';
import { pino, type Logger } from 'pino';
import { TransportError } from '../errors.js';

export interface EmbeddedBrokerOptions {
  /** Loopback address to bind (`127.x.x.x`, `::1` or `localhost`). Default `127.0.0.1`. */
  host?: string;
  /** TCP port; `0` lets the OS pick one (read it back from `EmbeddedBroker.port`). */
  port: number;
  /** Parent logger; tagged `component: 'mqtt-broker'` unless it has a component. Default: silent. */
  logger?: Logger;
}

export interface EmbeddedBroker {
  /** `mqtt://<host>:<port>`, ready for `mqtt.connectAsync`. */
  readonly url: string;
  /** The bound port (the real one when `port: 0` was asked for). */
  readonly port: number;
  /** Disconnects every client, stops listening and closes aedes. Idempotent; never hangs. */
  close(): Promise<void>;
}

/** How long `close()` waits for aedes to close its clients before dropping the sockets anyway. */
const BROKER_CLOSE_TIMEOUT_MS = 2000;

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new TypeError(`embedded broker host must be a loopback address, got ${JSON.stringify(host)}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new TypeError(`embedded broker port must be an integer in 0..65535, got ${String(opts.port)}`);
  }
  const parent = opts.logger ?? pino({ enabled: false });
  // Keep a caller's own component tag rather than emitting the key twice.
  const log = 'component' in parent.bindings() ? parent : parent.child({ component: 'mqtt-broker' });

  const broker = await Aedes.createBroker();
  broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err }, 'client error'));
  broker.on('connectionError', (_client, err) => log.debug({ err }, 'connection error'));
  broker.on('client', (client) => log.debug({ clientId: client.id }, 'client connected'));
  broker.on('clientDisconnect', (client) => log.debug({ clientId: client.id }, 'client disconnected'));
  // aedes emits 'error' from its will sweeper (its typings omit it); unhandled it would crash us.
  const emitter: EventEmitter = broker;
  emitter.on('error', (err: unknown) => log.warn({ err }, 'broker error'));

  // aedes only knows clients that have sent CONNECT, so track raw sockets to close the rest too.
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });

  try {
    server.listen({ host, port: opts.port });
    await once(server, 'listening');
  } catch (err) {
    await closeAedes(broker);
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    const hint = code === 'EADDRINUSE' ? ' (port already in use)' : '';
    throw new TransportError(
      `embedded MQTT broker cannot listen on ${hostPort(host, opts.port)}: ${code}${hint}`,
      err,
    );
  }
  server.on('error', (err) => log.warn({ err }, 'server error'));

  const port = (server.address() as net.AddressInfo).port;
  const url = `mqtt://${hostPort(host, port)}`;
  log.info({ url }, 'embedded broker listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await closeAedes(broker);
      for (const socket of sockets) socket.destroy();
      await serverClosed;
      log.info({ url }, 'embedded broker closed');
    })();
    return closing;
  };

  return { url, port, close };
}

/** Closes aedes (clients, timers, emitter), giving up waiting after BROKER_CLOSE_TIMEOUT_MS. */
async function closeAedes(broker: Aedes): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => broker.close(() => resolve())),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, BROKER_CLOSE_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

function hostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
