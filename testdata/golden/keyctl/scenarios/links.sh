# links: link, unlink, clear, invalidate, revoke, timeout, setperm, chown.
run newring A @s
a=$OUT
run newring B "$a"
b=$OUT
run add user k1 v1 "$a"
k1=$OUT
run add user k2 v2 "$b"
k2=$OUT
run show
run link "$k1" "$b"
run list "$b"
run unlink "$k1" "$b"
run list "$b"
run unlink "$k1" "$b"
run link "$k1" @s
run unlink "$k1"
run unlink "$k1"
run add user k3 v3 "$a"
k3=$OUT
run revoke "$k3"
run describe "$k3"
run print "$k3"
run list "$a"
run clear "$b"
run list "$b"
run add user k4 v4 "$a"
k4=$OUT
run invalidate "$k4"
run describe "$k4"
run add user k5 v5 @s
k5=$OUT
run timeout "$k5" 1000
run describe "$k5"
run timeout "$k5" 0
run setperm "$k5" 0x3f3f0000
run describe "$k5"
run setperm "$k5" 0x3f010101
run describe "$k5"
run chown "$k5" 0
run chgrp "$k5" 0
run chown "$k5" -1
run chgrp "$k5" 10
run describe "$k5"
run chgrp "$k5" 0
run setperm "$k5" 0
run describe "$k5"
run print "$k5"
run list @s
