// Starts N GET requests to URL at once with http.get (the default agent:
// no limit on sockets per host) and awaits them with Promise.all. Prints
// the number of 200 responses and the total characters of their bodies,
// then the milliseconds from the first request to the last response. The
// peer of bench/io/http_fanout.weft.
//
//   node http_fanout.js URL N
'use strict';
const http = require('http');

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

async function main() {
  const url = process.argv[2];
  const n = Number(process.argv[3]);
  const start = performance.now();
  const responses = await Promise.all(Array.from({ length: n }, () => get(url)));
  let ok = 0;
  let chars = 0;
  for (const r of responses) {
    if (r.status === 200) {
      ok++;
      chars += r.body.length;
    }
  }
  console.log(ok, chars);
  console.log('elapsed_ms', Math.round(performance.now() - start));
}

main();
