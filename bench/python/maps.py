# Dicts with string keys: 200,000 inserts, 200,000 lookups (one in three
# hits), 100,000 deletes, then a walk over the remaining entries.
# Checksum: "size hits sum-of-hit-values sum-of-remaining-values".


def main():
    n = 200_000
    m = {}
    for i in range(n):
        m[f"key{i}"] = i

    hits = 0
    hit_sum = 0
    for i in range(n):
        v = m.get(f"key{i * 3}")
        if v is not None:
            hits += 1
            hit_sum += v

    for i in range(n):
        if i % 2 == 0:
            del m[f"key{i}"]

    rest = 0
    for _, v in m.items():
        rest += v

    print(len(m), hits, hit_sum, rest)


if __name__ == "__main__":
    main()
