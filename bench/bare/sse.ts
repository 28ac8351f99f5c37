// The bare SSE broadcaster codecast is measured against: a Set of open
// responses and one pre-built frame written to each. No auth, no limits, no
// history. POST /publish takes the code object and broadcasts it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const streams = new Set<ServerResponse>();

function readBody(req: IncomingMessage, done: (body: string) => void): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => done(body));
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/stream')) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('event: hello\ndata: {}\n\n');
    streams.add(res);
    res.on('close', () => streams.delete(res));
  } else if (req.method === 'POST' && req.url === '/publish') {
    readBody(req, (body) => {
      const code = JSON.parse(body) as { id: number };
      const frame = Buffer.from(`id: ${code.id}\nevent: code\ndata: ${JSON.stringify(code)}\n\n`);
      for (const stream of streams) stream.write(frame);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ connections: streams.size }));
    });
  } else {
    res.writeHead(404).end();
  }
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address() as { address: string; port: number };
  process.stdout.write(`bare sse is listening on ${address.address}:${address.port}\n`);
});
// An explicit exit, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
