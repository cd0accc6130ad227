// Command keyctl-go is a drop-in for keyutils 1.6.3's keyctl that acts on a
// keyctl-go store instead of the kernel: the same commands, arguments,
// output, messages and exit codes.
//
// The store is the file named by a leading "--db PATH", else by
// $KEYCTL_GO_DB, else $XDG_DATA_HOME/keyctl-go/keys.db (XDG_DATA_HOME
// defaulting to ~/.local/share); it is created, with its key file, on first
// use. Commands act with the caller's real uid, gid and groups. @s is the
// keyring whose serial is in $KEYCTL_GO_SESSION, else the user-session
// keyring, as for a process the kernel gave no session keyring.
//
// `session` runs a program in a new (or named) session keyring handed down
// in KEYCTL_GO_SESSION, and collects an anonymous one when the program
// exits; `new_session` cannot change its parent's session from userspace,
// so it prints a session serial to adopt: export KEYCTL_GO_SESSION=$(keyctl-go new_session).
//
// Exit codes are keyctl's: 0 success, 1 a failed operation, 2 a usage error,
// and 3 where keyctl uses it (supports with an unknown capability).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv), os.Args[1:])
	stop()
	os.Exit(code)
}
