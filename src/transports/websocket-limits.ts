import { WebSocketServer, type ServerOptions } from 'ws';

/**
 * Frames one client message may be split into. The inbound budget counts
 * messages; ws's default of 16,384 fragments would let each budgeted message
 * cost as many frames to parse (a client once sent 11.8 million empty
 * continuation frames inside 720 acks). Our clients send small JSON in one
 * frame; a few fragments are still allowed, as RFC 6455 permits them.
 */
export const MAX_FRAGMENTS = 8;

/**
 * ws's server with our fragment limit, for engine.io, which makes its own
 * server from the class it is given (`wsEngine`) and passes only its options.
 */
export class FewFragmentsServer extends WebSocketServer {
  constructor(options: ServerOptions, callback?: () => void) {
    super({ ...options, maxFragments: MAX_FRAGMENTS }, callback);
  }
}
