import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { AiosError } from '../core/index.ts';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem.ts';

/** What Node's HTTP parser refused, as one of our errors. */
function fromParserError(err: { code?: string; reason?: string }): AiosError {
  if (err.code === 'HPE_HEADER_OVERFLOW') return new AiosError('AIOS_HEADERS_TOO_LARGE', `the request line and headers are larger than the ${maxHeaderSize} bytes this server accepts`);
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new AiosError('AIOS_REQUEST_TIMEOUT', 'the request did not arrive in time; the connection is closed');
  const why = err.code === 'HPE_INVALID_HEADER_TOKEN' ? 'a header name or value holds a character HTTP does not allow (a NUL or another control character)' : (err.reason ?? err.code ?? 'unreadable');
  return new AiosError('AIOS_BAD_REQUEST', `the request is not valid HTTP/1.1: ${why}`);
}

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (a NUL in a header value,
 * headers over the size limit, a malformed request line, a timeout) with a problem+json, as
 * every other error, then closes the connection: the stream is no longer in step.
 *
 * @example Fastify({ clientErrorHandler: problemOnClientError(logger) })
 */
export function problemOnClientError(log: FastifyBaseLogger) {
  return (err: Error & { code?: string; reason?: string }, socket: Duplex): void => {
    // A reset connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const e = fromParserError(err);
    log.debug({ code: err.code, status: e.status }, 'client error');
    const body = JSON.stringify(toProblem(e));
    if (!socket.writable) return void socket.destroy();
    const head = [`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}`, `content-type: ${PROBLEM_CONTENT_TYPE}`, `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  };
}
