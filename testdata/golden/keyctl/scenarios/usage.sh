# usage: argument errors, exit 2 (and 3 where keyctl uses it).
run
run lis
run nosuchcommand
run add user a
run add user a b @s extra
run describe abc
run describe @x
run describe 12abc
run describe 0x
run describe 08
run describe -y
run show -y
run timeout @s abc
run timeout @s 0x10
run setperm @s xyz
run chown @s abc
run chgrp @s abc
run rdescribe @s ''
run add -x user a 6b7 @s
run add -x user a zz @s
run supports
run supports notify
run supports nosuchcap
run supports --raw
run supports a b
run purge user
