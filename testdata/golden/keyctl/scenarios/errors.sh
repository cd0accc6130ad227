# errors: the errno of each documented failure, as keyctl reports it.
run add user k v @s
k=$OUT
run add nosuchtype d v @s
run add user d v "$k"
run add user '' v @s
run add keyring r x @s
run update @s data
run add logon svc:name secret @s
run read "$OUT"
run revoke "$k"
run read "$k"
run update "$k" x
run add user exp v @s
e=$OUT
run timeout "$e" 1
sleep 2
run print "$e"
run timeout "$e" 5
run add user inv v @s
i=$OUT
run invalidate "$i"
run print "$i"
run add user noperm v @s
n=$OUT
run setperm "$n" 0
run print "$n"
run describe "$n"
run newring self @s
s=$OUT
run link "$s" "$s"
run newring child "$s"
run link "$s" "$OUT"
run newring L1 @s
top=$OUT
p=$top
for n in 2 3 4 5 6 7 8; do
	run newring "L$n" "$p"
	p=$OUT
done
run newring other @s
run link "$top" "$OUT"
runin "$(printf '%30000s' x)" padd user bigkey @s
run chown "$OUT" 1000
run restrict_keyring "$s"
run restrict_keyring "$s"
run add user x y "$s"
run newring mv1 @s
m1=$OUT
run newring mv2 @s
m2=$OUT
run add user mk 1 "$m1"
mk=$OUT
run add user mk 2 "$m2"
run move "$mk" "$m1" "$m2"
run move "$mk" "$m2" "$m1"
run move -f "$mk" "$m1" "$m2"
run list "$m2"
run describe @g
run describe 0
run timeout "$k" 10
