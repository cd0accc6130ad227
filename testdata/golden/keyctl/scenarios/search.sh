# search: search and request, and key lookups by name.
run newring outer @s
o=$OUT
run newring inner "$o"
i=$OUT
run add user target secret "$i"
t=$OUT
run newring dest @s
d=$OUT
run search @s user target
run search "$o" user target
run search "$i" user nothere
run search @s user target "$d"
run list "$d"
run request user target
run request user target "$d"
run request user nothere
run request nosuchtype target
run search @s nosuchtype target
run describe %user:target
run describe %user:nothere
run describe %:inner
run describe %:nothere
run describe %
run describe %user
run describe %user:
run add user other x @s
run revoke "$OUT"
run search @s user other
