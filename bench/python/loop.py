# A 10,000,000-iteration integer loop: the dispatch loop and int arithmetic.
# Checksum: the sum of (i * 7 % 13) for i in 0 .. 9,999,999.


def main():
    total = 0
    for i in range(10_000_000):
        total += i * 7 % 13
    print(total)


if __name__ == "__main__":
    main()
