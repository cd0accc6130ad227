# --test: keyctl's built-in tests, by name; its own Format listing.
run --test
run --test lim
run --test limits extra
run --test limits2 extra
