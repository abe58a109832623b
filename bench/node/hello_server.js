// An HTTP server on 127.0.0.1:PORT that answers every request with the
// 14-byte text "Hello, World!\n"; a request for /stop stops it, and the
// program ends. The peer of bench/io/hello_server.weft; bench/compare runs
// it under wrk (http_rps) and uses it as the server of http_fanout.
//
// The listen backlog is raised from Node's 511 to the most the kernel
// allows (net.core.somaxconn), since http_fanout opens 10,000 connections
// at once.
//
//   node hello_server.js PORT
'use strict';
const http = require('http');

const server = http.createServer((req, res) => {
  if (req.url === '/stop') {
    server.close();
    server.closeAllConnections();
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('Hello, World!\n');
});
server.listen({ port: Number(process.argv[2]), host: '127.0.0.1', backlog: 65535 });
