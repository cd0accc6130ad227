# --test limits: type names and descriptions of 0 to 8191 bytes, each
# added to the thread keyring; the store must refuse and accept exactly
# what the kernel does. (Slow on the store: 8192 adds. Skipped by -short.)
run --test limits
