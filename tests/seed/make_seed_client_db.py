"""Makes a seed client's local database, for testing `jim-client import-seed`.

The seed messenger's source is not available to this project. This is our reconstruction of
what its client keeps, from the course messenger it is (seed/README.md): a contacts list, and
the message history with sender, recipient, text and the time as Python's
str(datetime.datetime.now()) in local time. Plain sqlite3, no ORM, as the seed says.

usage: make_seed_client_db.py PATH OWNER [--messy]

--messy adds rows the importer must skip: another pair's conversation, an invalid date, an
empty text and a login with a space.
"""
import datetime
import sqlite3
import sys

SCHEMA = """
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE message_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    from_user TEXT NOT NULL,
    to_user TEXT NOT NULL,
    message TEXT NOT NULL,
    date TEXT NOT NULL
);
"""


def main():
    path, owner = sys.argv[1], sys.argv[2]
    messy = "--messy" in sys.argv[3:]
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    for name in ("Client6", "client3"):
        db.execute("INSERT INTO contacts (name) VALUES (?)", (name,))
    start = datetime.datetime(2019, 6, 19, 20, 16, 26, 123456)
    talk = [
        ("Client6", owner, "Hey!"),
        (owner, "Client6", "Oh, Client6!"),
        ("Client6", owner, "Yes, that's me!"),
        (owner, "Client6", "Long time no see! What's up? Need money? ;)"),
        ("Client6", owner, "Why money? We are friends, by the way! Well, okay, money) Just a little bit this time!"),
        ("client3", owner, "Привет из прошлого"),
        (owner, "client3", "Hey!"),
    ]
    for i, (sender, recipient, text) in enumerate(talk):
        when = start + datetime.timedelta(seconds=7 * i)
        db.execute(
            "INSERT INTO message_history (from_user, to_user, message, date) VALUES (?, ?, ?, ?)",
            (sender, recipient, text, str(when)),
        )
    # The same text twice at the same second: two messages, not one.
    for _ in range(2):
        db.execute(
            "INSERT INTO message_history (from_user, to_user, message, date) VALUES (?, ?, ?, ?)",
            ("Client6", owner, "ping", "2019-06-19 21:00:00"),
        )
    if messy:
        rows = [
            ("Client6", "client3", "not the owner's conversation", "2019-06-19 21:01:00"),
            ("Client6", owner, "bad date", "yesterday"),
            ("Client6", owner, "", "2019-06-19 21:02:00"),
            ("bad login", owner, "space in the login", "2019-06-19 21:03:00"),
        ]
        db.executemany(
            "INSERT INTO message_history (from_user, to_user, message, date) VALUES (?, ?, ?, ?)",
            rows,
        )
        db.execute("INSERT INTO contacts (name) VALUES ('no such login!')")
    db.commit()
    db.close()


if __name__ == "__main__":
    main()
