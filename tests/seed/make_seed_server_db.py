"""Makes a seed server's database, for testing `jim-server import-seed`.

The seed messenger's source is not available to this project (/work/shared/seed holds only its
README and a screenshot). This is our reconstruction of what its server keeps, from the course
messenger it is (seed/README.md: plain sqlite3 without an ORM; the Clients table shows login,
last visit and last IP; "Add new client" registers a login with a password) and from its
authentication (jim-reference.md): the stored value is
hex(PBKDF2-HMAC-SHA256(password, b"\\xca\\xfe\\xbe\\xef" * 6, 100000, 32)), the same for every
user's salt. The companion of tests/seed/make_seed_client_db.py.

usage: make_seed_server_db.py PATH [--messy]

Users: Client5 (password "secret"), Client6 ("pass6"), client3 ("пароль"); contacts
Client5 -> Client6, Client5 -> client3, Client6 -> Client5.
--messy adds rows the importer must skip: a login with a space, a hash that is not 64 hex
characters, and a contact row pointing at no user.
"""
import datetime
import hashlib
import sqlite3
import sys

SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    last_visit TEXT,
    last_ip TEXT
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    contact_id INTEGER NOT NULL REFERENCES users(id),
    UNIQUE (owner_id, contact_id)
);
CREATE TABLE login_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    date TEXT NOT NULL,
    ip TEXT NOT NULL,
    port INTEGER NOT NULL
);
"""

SALT = b"\xca\xfe\xbe\xef" * 6


def stored(password):
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), SALT, 100000, 32).hex()


def main():
    path = sys.argv[1]
    messy = "--messy" in sys.argv[2:]
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    when = str(datetime.datetime(2019, 6, 19, 20, 16, 26, 123456))
    users = [("Client5", "secret"), ("Client6", "pass6"), ("client3", "пароль")]
    ids = {}
    for login, password in users:
        cur = db.execute(
            "INSERT INTO users (login, password_hash, last_visit, last_ip) VALUES (?, ?, ?, ?)",
            (login, stored(password), when, "127.0.0.1"),
        )
        ids[login] = cur.lastrowid
        db.execute(
            "INSERT INTO login_history (user_id, date, ip, port) VALUES (?, ?, ?, ?)",
            (cur.lastrowid, when, "127.0.0.1", 50000 + cur.lastrowid),
        )
    for owner, contact in [("Client5", "Client6"), ("Client5", "client3"), ("Client6", "Client5")]:
        db.execute(
            "INSERT INTO contacts (owner_id, contact_id) VALUES (?, ?)", (ids[owner], ids[contact])
        )
    if messy:
        cur = db.execute(
            "INSERT INTO users (login, password_hash) VALUES (?, ?)", ("bad login", stored("x"))
        )
        db.execute(
            "INSERT INTO contacts (owner_id, contact_id) VALUES (?, ?)", (ids["Client5"], cur.lastrowid)
        )
        db.execute("INSERT INTO users (login, password_hash) VALUES (?, ?)", ("Client9", "not-hex"))
        db.execute("INSERT INTO contacts (owner_id, contact_id) VALUES (?, ?)", (ids["Client6"], 999))
    db.commit()
    db.close()


if __name__ == "__main__":
    main()
