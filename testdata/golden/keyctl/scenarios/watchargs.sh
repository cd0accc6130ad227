# watch*: what keyctl answers before it needs a notification pipe (this
# kernel has none): options, filters, fd range, key specs, usage.
run watch -x @s
run watch -fz @s
run watch @s -fz
run watch -f
run watch -fl @s extra
run watch_session -z a b 3 true
run watch_session -fq a b 3 true
run watch_session -n
run watch_session a b 2 true
run watch_session a b 10 true
run watch_session -n name a b 0x5 true
run watch_session a b 3
run watch_add 3 abc
run watch_add 3
run watch_rm 3 @x
run watch_sync
