# purge and reap: keyctl walks the session keyring's tree, keys before
# their keyring, and unlinks what matches from the keyring it was found in.
run purge
run purge -p
run purge -x user
run purge -p user
run purge -i user
run purge -s user
run purge -s -i user a
run purge user a b c
run reap -x
run reap -v extra
run newring sub @s
sub=$OUT
run add user a1 x @s
a1=$OUT
run add user A2 x @s
run add user a3 x "$sub"
run add user b1 x @s
run add user 'semi;colon' x @s
run add logon l:a1 x @s
run link "$a1" "$sub"
run purge user nothing
run purge user a1
run list "$sub"
run purge -p user a
run purge -i -p user A
run purge user colon
run purge -p user semi
run purge -s user b1
run purge -s user b1
run add user b2 x "$sub"
run add user b3 x "$sub"
run purge user
run list @s
run purge keyring sub
run list @s
run add user r1 x @s
r1=$OUT
run add user r2 x @s
r2=$OUT
run add user p1 x @s
p1=$OUT
run setperm "$p1" 0
run revoke "$r1"
run revoke "$r2"
run reap -v
run list @s
run reap
