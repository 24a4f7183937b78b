#!/usr/bin/env python3
"""sqlite_load.py -- writes the input of the sqlite3 benchmark workload (issue 5).

Owns: a deterministic CSV of ROWS people and a script for Debian's sqlite3 CLI that loads
it into an in-memory table with `.import` (a prepared INSERT per row, the CLI's own bulk
load), builds two indexes, and queries through them. Usage:
    python3 sqlite_load.py ROWS DIR      # writes DIR/people.csv and DIR/load.sql
    sqlite3 :memory: < DIR/load.sql
With 200000 rows sqlite3 makes about 1.6M heap allocation calls (binding and stepping each
row, growing the b-trees, sorting for the indexes, the queries) in about 0.4 s here.
"""
import os
import random
import sys

CITIES = ["amsterdam", "berlin", "cairo", "delhi", "lima", "lisbon", "madrid", "nairobi",
          "oslo", "paris", "quito", "rome", "seoul", "sydney", "tokyo", "vienna"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def main() -> int:
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        print(f"usage: {sys.argv[0]} ROWS DIR   (ROWS a positive integer; got {sys.argv[1:]})",
              file=sys.stderr)
        return 2
    rows, out_dir = int(sys.argv[1]), sys.argv[2]
    if not os.path.isdir(out_dir):
        print(f"sqlite_load.py: {out_dir}: not a directory", file=sys.stderr)
        return 2
    rng = random.Random(20261124)
    csv_path = os.path.abspath(os.path.join(out_dir, "people.csv"))
    with open(csv_path, "w") as csv:
        for i in range(1, rows + 1):
            name = "".join(rng.choice(LETTERS) for _ in range(rng.randint(4, 12)))
            csv.write(f"{i},{name},{rng.choice(CITIES)},{rng.random() * 1000:.3f},"
                      f"{'x' * rng.randint(0, 60)}\n")
    with open(os.path.join(out_dir, "load.sql"), "w") as sql:
        sql.write("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                  "city TEXT NOT NULL, score REAL NOT NULL, note TEXT);\n")
        sql.write(".mode csv\n")
        sql.write(f".import {csv_path} people\n")
        sql.write(".mode list\n")
        sql.write("CREATE INDEX people_city_score ON people(city, score);\n")
        sql.write("CREATE INDEX people_name ON people(name);\n")
        sql.write("SELECT city, count(*), round(avg(score), 3) FROM people "
                  "GROUP BY city ORDER BY city;\n")
        for city in CITIES:
            sql.write(f"SELECT count(*), round(sum(score), 3) FROM people "
                      f"WHERE city = '{city}' AND score BETWEEN 250 AND 750;\n")
        sql.write("SELECT name, score FROM people WHERE name LIKE 'qu%' "
                  "ORDER BY score DESC LIMIT 5;\n")
        sql.write("SELECT count(DISTINCT name) FROM people;\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
