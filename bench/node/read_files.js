// Reads DIR/0.txt .. DIR/(N-1).txt all at once with fs.promises.readFile
// and Promise.all. Prints N and the total characters read, then the
// milliseconds from the first read to the last result. The peer of
// bench/io/read_files.weft.
//
//   node read_files.js DIR N
'use strict';
const { readFile } = require('fs/promises');

async function main() {
  const dir = process.argv[2];
  const n = Number(process.argv[3]);
  const start = performance.now();
  const texts = await Promise.all(Array.from({ length: n }, (_, i) => readFile(`${dir}/${i}.txt`, 'utf8')));
  let chars = 0;
  for (const text of texts) chars += text.length;
  console.log(n, chars);
  console.log('elapsed_ms', Math.round(performance.now() - start));
}

main();
