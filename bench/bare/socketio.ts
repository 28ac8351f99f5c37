// The bare Socket.IO broadcaster codecast is measured against: `io.emit`,
// which encodes the packet once for all clients. No auth, no limits, no
// history. POST /publish takes the code object and emits it as `new_code`.
import { createServer, type IncomingMessage } from 'node:http';
import { Server } from 'socket.io';

function readBody(req: IncomingMessage, done: (body: string) => void): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => done(body));
}

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    readBody(req, (body) => {
      io.emit('new_code', JSON.parse(body) as unknown);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ connections: io.engine.clientsCount }));
    });
  } else if (!req.url?.startsWith('/socket.io/')) {
    res.writeHead(404).end();
  }
});
const io = new Server(server, { serveClient: false });
io.on('connection', (socket) => socket.emit('hello', {}));

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address() as { address: string; port: number };
  process.stdout.write(`bare socketio is listening on ${address.address}:${address.port}\n`);
});
// An explicit exit, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
