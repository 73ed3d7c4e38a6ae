import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ServerTimeouts {
  requestMs: number;
  headersMs: number;
  keepAliveMs: number;
}

/**
 * The HTTP server with every timeout set: a client slower than `headersMs` to send its headers or
 * `requestMs` to send its whole request gets 408 and is disconnected. Node checks these on an
 * interval (30 s by default): checked every second so the bounds hold to about a second.
 */
export function createTimedServer(timeouts: ServerTimeouts, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  return createServer(
    {
      requestTimeout: timeouts.requestMs,
      headersTimeout: timeouts.headersMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionsCheckingInterval: 1000,
    },
    handler,
  );
}

/**
 * A look at a request before Fastify's: it answers the request itself, or calls `next` (once) to
 * hand it to Fastify.
 */
export type FrontHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * Knows each open connection's latest request, so that shutdown can drop at once every connection
 * that is not being answered: idle ones, and clients still sending headers or a body (they would
 * otherwise hold the process until REQUEST_TIMEOUT_MS or SHUTDOWN_TIMEOUT_MS). A connection whose
 * request arrived whole and is not yet answered is left to finish.
 */
export class ConnectionTracker {
  private readonly latest = new Map<Socket, { req: IncomingMessage; res: ServerResponse } | undefined>();

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.latest.set(socket, undefined);
      socket.once('close', () => this.latest.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.latest.has(req.socket)) this.latest.set(req.socket, { req, res });
    });
  }

  /** Destroys every connection without a whole request awaiting its answer; returns how many. */
  dropUnanswered(): number {
    let dropped = 0;
    for (const [socket, exchange] of this.latest) {
      const beingAnswered = exchange !== undefined && exchange.req.complete && !exchange.res.writableEnded;
      if (!beingAnswered) {
        socket.destroy();
        dropped++;
      }
    }
    return dropped;
  }
}
