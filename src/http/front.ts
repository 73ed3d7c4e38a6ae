import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { AccountProfiles } from '../profiles/account.js';
import { traceServerRequest } from '../telemetry.js';

/** A /graphql POST whose body the front read. */
export interface FrontRead {
  account: AccountProfiles;
  /** The account, `Accept`, `Content-Type` and the body's exact bytes: the hot path's key. */
  key: string;
  body: Buffer;
  headers: IncomingHttpHeaders;
  /** When the body was whole (the gateway's clock): every answer to it was computed later. */
  arrivedAt: number;
}

/** An answer given by the front from memory: 200, with these headers besides `Cache-Control` and `Content-Length`. */
export interface FrontAnswer {
  payload: Buffer | string;
  /** Flat name, value list. */
  headers: readonly string[];
  maxAgeSeconds: number;
}

/** Answers a request from memory now, or leaves it (undefined) to the next answerer, then to Fastify. */
export type FrontAnswerer = (read: FrontRead) => FrontAnswer | undefined;

export interface FrontOptions {
  /** MAX_BODY_BYTES: a longer body is left to Fastify, which refuses it. */
  maxBodyBytes: number;
  /** The account the headers may read, as Apollo's context would decide; undefined when it would refuse. */
  authorize: (headers: IncomingHttpHeaders) => AccountProfiles | undefined;
  /** The access log line of an answer sent here (Fastify writes the others). */
  logger: Logger;
  accessLog: boolean;
  clock: Clock;
}

/** `application/json`, with parameters or not: the only type Fastify parses as JSON here. */
const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * The HTTP server's first look at each request, before Fastify's: a /graphql POST with a JSON body
 * of stated, allowed length, from a request the authoriser accepts, is read here and offered to the
 * answerers (the hot path, then the warm path's answers from memory). What none answers goes on to
 * Fastify with the bytes read here (`register`), as does every other request. An answer from here
 * gets the same SERVER span and access log line as one from Fastify.
 */
export class Front {
  private readonly answerers: FrontAnswerer[] = [];
  /** Requests read here and handed on: what was read, and the body until Fastify's parser takes it. */
  private readonly handedOn = new WeakMap<IncomingMessage, { read: FrontRead; unparsed: Buffer | undefined }>();

  constructor(private readonly options: FrontOptions) {}

  use(answerer: FrontAnswerer): void {
    this.answerers.push(answerer);
  }

  /** What the front read of a request it handed on to Fastify. */
  readOf(req: IncomingMessage): FrontRead | undefined {
    return this.handedOn.get(req)?.read;
  }

  handle(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    if (req.method !== 'POST' || req.url !== '/graphql') return next();
    const headers = req.headers;
    const type = headers['content-type'];
    const length = Number(headers['content-length']);
    if (type === undefined || !JSON_TYPE.test(type) || !(length > 0 && length <= this.options.maxBodyBytes)) return next();
    if (headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return next();
    const account = this.options.authorize(headers);
    if (!account) return next();
    const started = performance.now();
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    const onEnd = () => {
      req.removeListener('data', onData);
      req.removeListener('error', onError);
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      // latin1: one character per byte, so the key is the exact bytes.
      const key = `${account.id}\n${headers.accept ?? ''}\n${type}\n${body.toString('latin1')}`;
      const read: FrontRead = { account, key, body, headers, arrivedAt: this.options.clock.now() };
      for (const answerer of this.answerers) {
        const answer = this.ask(answerer, read);
        if (answer) return this.send(req, res, answer, started);
      }
      this.handedOn.set(req, { read, unparsed: body });
      next();
    };
    // The client went away mid-body: there is no one to answer.
    const onError = () => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  }

  /** Gives Fastify's parser (and its MAX_BODY_BYTES and length checks) the body read here. */
  register(app: FastifyInstance): void {
    app.addHook('preParsing', (request, _reply, payload, done) => {
      const handed = this.handedOn.get(request.raw);
      const body = handed?.unparsed;
      if (!handed || !body) return done(null, payload);
      handed.unparsed = undefined;
      const stream = new Readable({ read() {} });
      stream.push(body);
      stream.push(null);
      done(null, stream);
    });
  }

  /** An answerer's answer; a fault in one (a bug) is logged and the request goes on, never the process down. */
  private ask(answerer: FrontAnswerer, read: FrontRead): FrontAnswer | undefined {
    try {
      return answerer(read);
    } catch (error) {
      this.options.logger.error({ err: error }, 'answering before Fastify failed: Fastify answers instead');
      return undefined;
    }
  }

  private send(req: IncomingMessage, res: ServerResponse, answer: FrontAnswer, started: number): void {
    const traced = traceServerRequest('POST', '/graphql', '/graphql', req.headers);
    const length = typeof answer.payload === 'string' ? Buffer.byteLength(answer.payload) : answer.payload.length;
    res.writeHead(200, [...answer.headers, 'cache-control', `private, max-age=${answer.maxAgeSeconds}`, 'content-length', String(length)]);
    res.end(answer.payload);
    traced(200);
    const level = this.options.accessLog ? 'info' : 'debug';
    const { logger } = this.options;
    if (logger.isLevelEnabled(level)) logger[level]({ method: 'POST', path: '/graphql', status: 200, ms: Math.round(performance.now() - started) }, 'request served');
  }
}
