export { SocketIoTransport, SOCKETIO_PATH, LISTENER_ROOM, type SocketIoOptions } from './socketio-transport.js';
