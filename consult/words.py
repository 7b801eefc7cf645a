"""Words for numbers and dates, the same in every page and write-up, with no locale involved."""

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def plural(n, one, many=None):
    """The word for n of a thing: plural(1, "participant") is "participant", plural(2, ...) "participants".
    Irregular plurals are passed: plural(n, "person", "people")."""
    return one if n == 1 else (many or one + "s")


def count(n, one, many=None):
    """n and its word: "1 participant", "2 participants", "0 rounds"."""
    return f"{n} {plural(n, one, many)}"


def in_words(n):
    """A count as the paper write-ups spell it: one to twelve in words, then digits."""
    return NUMBERS[n] if 0 <= n < len(NUMBERS) else str(n)


def long_date(d):
    """23 September 2019: no leading zero, English month names, whatever the server's locale."""
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}" if d else ""
