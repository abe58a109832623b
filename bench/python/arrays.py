# Arrays: fill 1,000,000 ints and sum them, sort 200,000 pseudo-random ints,
# then map and filter the big list.
# Checksum: sum + smallest + median + largest sorted + size of the filtered list.


def main():
    n = 1_000_000
    a = [i * 7919 % 1000003 for i in range(n)]

    total = sum(a)

    b = []
    seed = 42
    for _ in range(200_000):
        seed = (seed * 1103515245 + 12345) % 2147483648
        b.append(seed)
    ordered = sorted(b)

    doubled = [x * 2 for x in a]
    picked = [x for x in doubled if x % 3 == 0]

    print(total + ordered[0] + ordered[100_000] + ordered[-1] + len(picked))


if __name__ == "__main__":
    main()
