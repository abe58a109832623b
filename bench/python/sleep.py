# N concurrent 100 ms sleeps (default 100,000): asyncio.gather over N
# coroutines, each awaiting asyncio.sleep and giving its index. Prints N and
# the sum of the indexes, then the milliseconds from the first task to the
# last result. The peer of bench/io/sleep.weft.
#
#     python3 sleep.py [N]
import asyncio
import sys
import time


async def sleeper(i):
    await asyncio.sleep(0.1)
    return i


async def main(n):
    values = await asyncio.gather(*(sleeper(i) for i in range(n)))
    return sum(values)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    start = time.perf_counter()
    total = asyncio.run(main(n))
    print(n, total)
    print("elapsed_ms", round((time.perf_counter() - start) * 1000))
