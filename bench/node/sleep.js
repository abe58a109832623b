// N concurrent 100 ms sleeps (default 100,000): Promise.all over N
// setTimeout promises, each giving its index. Prints N and the sum of the
// indexes, then the milliseconds from the first timer to the last result.
// The peer of bench/io/sleep.weft.
//
//   node sleep.js [N]
'use strict';
const { setTimeout: sleep } = require('timers/promises');

async function main() {
  const n = process.argv.length > 2 ? Number(process.argv[2]) : 100000;
  const start = performance.now();
  const values = await Promise.all(Array.from({ length: n }, (_, i) => sleep(100, i)));
  let sum = 0;
  for (const v of values) sum += v;
  console.log(n, sum);
  console.log('elapsed_ms', Math.round(performance.now() - start));
}

main();
