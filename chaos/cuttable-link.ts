import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP relay between one device and the broker that can be cut: every open connection is severed
 * and new ones are refused until the cut ends, as when a device's network goes away. TLS passes
 * through untouched (the broker certificate names 127.0.0.1).
 */
export class CuttableLink {
  private readonly sockets = new Set<Socket>();
  private cutUntil = 0;
  private readonly server = createServer((inbound) => this.relay(inbound));

  private constructor(private readonly target: { host: string; port: number }) {}

  static async open(target: { host: string; port: number }): Promise<CuttableLink> {
    const link = new CuttableLink(target);
    await new Promise<void>((resolve) => link.server.listen(0, '127.0.0.1', resolve));
    return link;
  }

  get port(): number {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('relay is not listening');
    return address.port;
  }

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  private relay(inbound: Socket): void {
    if (Date.now() < this.cutUntil) {
      inbound.destroy();
      return;
    }
    const outbound = createConnection(this.target);
    for (const socket of [inbound, outbound]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined); // a cut or a broker restart: the close handler tidies up
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  }

  /** Severs the device's connections now and refuses new ones for `ms`. */
  cut(ms: number): void {
    this.cutUntil = Date.now() + ms;
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
