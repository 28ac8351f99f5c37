export { WsTransport, WS_PATH, type WsOptions } from './ws-transport.js';
export { WS_CLOSE, CLOSE_FOR_REASON } from './close-codes.js';
