import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real service that a test can switch off and on: while off, it refuses every connection
 * and cuts the open ones, as a stopped or unreachable service does. The service itself keeps running for other tests.
 */
export class SwitchableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private on = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async listen(): Promise<this> {
    const server = createServer((client) => {
      if (!this.on) {
        client.destroy();
        return;
      }
      const upstream = connect({ host: this.targetHost, port: this.targetPort });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this;
  }

  /** Sockets still open through the proxy (two per connection: the client's and the service's); 0 once all ended. */
  get openSockets(): number {
    return this.sockets.size;
  }

  enable(): void {
    this.on = true;
  }

  /** Refuses new connections and cuts every open one. */
  disable(): void {
    this.on = false;
    for (const socket of this.sockets) socket.destroy();
  }

  /** Cuts every open connection, as a network failure does, and keeps accepting new ones. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.disable();
    await new Promise((done) => this.server?.close(done));
  }
}
