// The bare WebSocket broadcaster codecast is measured against: a `ws` server
// looping over its clients. No auth, no limits, no history. POST /publish
// takes the code object and broadcasts it as {"type":"code","data":…}.
import { createServer, type IncomingMessage } from 'node:http';
import { WebSocketServer } from 'ws';

function readBody(req: IncomingMessage, done: (body: string) => void): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => done(body));
}

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    readBody(req, (body) => {
      const message = JSON.stringify({ type: 'code', data: JSON.parse(body) as unknown });
      for (const client of wss.clients) client.send(message);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ connections: wss.clients.size }));
    });
  } else {
    res.writeHead(404).end();
  }
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('error', () => undefined);
  ws.send('{"type":"hello","data":{}}');
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address() as { address: string; port: number };
  process.stdout.write(`bare ws is listening on ${address.address}:${address.port}\n`);
});
// An explicit exit, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
