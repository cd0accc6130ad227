"""Drives the provider as python-secretstorage does, and listens for its
signals on a second connection. Prints one line per signal heard, in
order, after the checks; exits non-zero with a message if a check fails.

Usage: secretstorage_client.py dh|plain
"""
import sys

import secretstorage
import secretstorage.util
from jeepney import MatchRule, message_bus
from jeepney.io.blocking import open_dbus_connection

mode = sys.argv[1]
if mode == "plain":
    # secretstorage falls back to plain when the provider says the DH
    # algorithm is NotSupported: ask for one nobody supports.
    secretstorage.util.ALGORITHM_DH = "no-such-algorithm"


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)


listener = open_dbus_connection(bus="SESSION")
# No sender in the rule: jeepney's own filter compares it with the
# message's sender, which is the provider's unique name.
rule = MatchRule(type="signal", interface="org.freedesktop.Secret.Collection")
listener.send_and_get_reply(message_bus.AddMatch(rule))

with listener.filter(rule) as signals:
    conn = secretstorage.dbus_init()
    coll = secretstorage.get_default_collection(conn)
    check(not coll.is_locked(), "default collection unlocked")
    check(coll.get_label() == "Login", "default collection's label: " + coll.get_label())

    attrs = {"app": "secretstorage-test", "user": "alice"}
    one = coll.create_item("Label 1", attrs, b"pw-1")
    two = coll.create_item("Label 1", attrs, b"pw-1b")  # replace=False: a second item
    check(one.item_path != two.item_path, "replace=False makes a second item")
    found = list(coll.search_items({"app": "secretstorage-test"}))
    check(len(found) == 2, "search finds both: %d" % len(found))
    found = list(secretstorage.search_items(conn, {"user": "alice", "app": "secretstorage-test"}))
    check(len(found) == 2, "service search finds both: %d" % len(found))

    check(one.get_secret() == b"pw-1", "secret of the first")
    check(two.get_secret() == b"pw-1b", "secret of the second")
    check(one.get_label() == "Label 1", "label")
    one.set_label("Label 2")
    check(one.get_label() == "Label 2", "label after set_label")
    one.set_attributes({"app": "secretstorage-test", "user": "alice", "extra": "1"})
    check(one.get_attributes() == {"app": "secretstorage-test", "user": "alice", "extra": "1"}, "attributes after set_attributes")
    one.set_secret(b"pw-2\x00binary", content_type="application/octet-stream")
    check(one.get_secret() == b"pw-2\x00binary", "secret after set_secret")
    check(one.get_secret_content_type() == "application/octet-stream", "content type")
    check(one.get_created() > 0 and one.get_modified() >= one.get_created(), "created and modified")
    big = bytes(range(256)) * 200
    one.set_secret(big)
    check(one.get_secret() == big, "a 51,200-byte secret")

    coll.lock()
    check(coll.is_locked(), "locked after lock")
    try:
        two.get_secret()
        check(False, "a locked collection gave a secret")
    except secretstorage.exceptions.LockedException:
        pass
    check(coll.unlock() is False, "unlock needs no prompt")
    check(two.get_secret() == b"pw-1b", "secret after unlock")

    two.delete()
    try:
        two.get_label()
        check(False, "a deleted item answered")
    except secretstorage.exceptions.ItemNotFoundException:
        pass
    one.delete()
    conn.close()

    # ItemCreated x2, ItemChanged x4 (label, attributes, two secrets),
    # ItemDeleted x2.
    for _ in range(8):
        msg = listener.recv_until_filtered(signals, timeout=5)
        print(msg.header.fields[3], msg.body[0].rsplit("/", 1)[1] == one.item_path.rsplit("/", 1)[1] and "one" or "two")
print("ok")
