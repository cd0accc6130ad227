# authority: instantiate, negate and reject refused without an assumed
# authority, and how their arguments are read; empty session names.
run add user k v @s
k=$OUT
run reject 0 10 rejected @p
run reject 0 10 revoked @p
run reject 0 10 expired @p
run reject 0 10 126 @p
run reject 0 10 notanerror @p
run reject "$k" aa rejected @p
run reject "$k" 10 rejected @p
run negate "$k" 10 @p
run negate "$k" aa @p
run instantiate "$k" a @p
runin a pinstantiate "$k" @p
run session ''
run new_session ''
run session '' true
