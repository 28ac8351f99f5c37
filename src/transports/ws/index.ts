export { WsTransport, WS_PATH, type WsTransportOptions } from './ws-transport.js';
export { WS_CLOSE, CLOSE_FOR_REASON } from './close-codes.js';
