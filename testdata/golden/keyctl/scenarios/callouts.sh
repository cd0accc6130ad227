# callouts: request2 and prequest2 with the helpers Debian's
# /etc/request-key.conf names, whose keyctl builds the key: negated,
# instantiated, fed through a pipe, rejected; negative keys answer again
# without a helper; and the arguments refused before anything runs.
run request2 user debug:neg negate
run request2 user debug:neg negate
run request2 user debug:spoon spoon
run print "$OUT"
run request2 user debug:spoon fork
run request2 user debug:loop:l abcdefghijkl
run print "$OUT"
runin gizzard prequest2 user debug:lizard
run print "$OUT"
run request2 user debug:rej rejected
run request2 user debug:rej rejected
run request2 user debug:exp expired
run request2 user debug:rev revoked
run request2 user wibble stuff
run newring sandbox @s
ring=$OUT
run request2 user debug:into spoon "$ring"
run list "$ring"
run show
run request2 user '' stuff
run request2 keyring debug:ring stuff
run request2 lizardsgizzards debug:x stuff
run request2 .user debug:x stuff
long=$(head -c 4095 /dev/zero | tr '\0' a)
runin "$long" prequest2 user wibble @p
runin "a$long" prequest2 user wibble
