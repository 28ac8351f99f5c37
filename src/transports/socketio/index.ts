export { SocketIoTransport, SOCKETIO_PATH, LISTENER_ROOM, type SocketIoTransportOptions } from './socketio-transport.js';
