# Reads DIR/0.txt .. DIR/(N-1).txt at once: asyncio.gather over N
# asyncio.to_thread calls of Path.read_text (the default thread pool does the
# reading). Prints N and the total characters read, then the milliseconds
# from the first read to the last result. The peer of
# bench/io/read_files.weft.
#
#     python3 read_files.py DIR N
import asyncio
import sys
import time
from pathlib import Path


async def main(directory, n):
    paths = [Path(directory, f"{i}.txt") for i in range(n)]
    texts = await asyncio.gather(*(asyncio.to_thread(p.read_text) for p in paths))
    return sum(len(t) for t in texts)


if __name__ == "__main__":
    n = int(sys.argv[2])
    start = time.perf_counter()
    chars = asyncio.run(main(sys.argv[1], n))
    print(n, chars)
    print("elapsed_ms", round((time.perf_counter() - start) * 1000))
