# basic: creating keys and reading them back in every format.
run show
run add user mykey 'hello world' @s
k=$OUT
run padd user piped @s
runin 'from stdin' padd user piped @s
run add -x user hexkey 6b6579 @s
run add user dashdata -leading-dash @s
d=$OUT
run newring myring @s
r=$OUT
run add user inring data "$r"
run describe "$k"
run describe @s
run rdescribe "$k"
run rdescribe "$k" :
run rdescribe "$k" ab
run print "$k"
run print "$d"
run add user bin "$(printf 'a\001b')" @s
run print "$OUT"
run pipe "$k"
run read "$k"
run id "$k"
run id @s
run id %user:mykey
run id %:myring
run id %keyring:myring
run list "$r"
run rlist "$r"
run newring empty @s
e=$OUT
run list "$e"
run rlist "$e"
run read "$e"
run show
run show -x
run show "$r"
run update "$k" 'new value'
run print "$k"
run update -x "$k" 6e6577
run print "$k"
runin 'piped update' pupdate "$k"
run print "$k"
run add user semi 'x' @s
run add user 'a;b' v @s
run rdescribe "$OUT" /
