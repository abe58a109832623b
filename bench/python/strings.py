# String building: 200,000 interpolations and concatenations.
# Each piece is made by an f-string and appended to the current line;
# every 100 pieces the line goes into a list, which is joined at the end.
# Checksum: the length of the final text.


def main():
    parts = []
    line = ""
    for i in range(200_000):
        piece = f"item{i}={i % 97};"
        line += piece
        if i % 100 == 99:
            parts.append(line)
            line = ""
    text = "\n".join(parts)
    print(len(text))


if __name__ == "__main__":
    main()
