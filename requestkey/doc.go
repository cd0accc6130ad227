//go:build linux

// Package requestkey is /sbin/request-key for keyctl-go: it reads
// request-key.conf(5), finds the line for a key that request_key must
// construct, and runs its program with the request's macros expanded, so
// that programs written for the kernel's upcall (keyctl instantiate and
// negate, dns_resolver, cifs.upcall-style "ask and cache" helpers) serve
// the store as they serve the kernel.
//
// # Basics
//
// Request is request_key(2) with callout information on a keyring.Caller:
// the store makes the key under construction and hands back a
// keyring.Construction; Build runs the helper; CompleteRequest returns
// the outcome, negating the key if the helper did not build it. The
// helper runs as the caller, in the caller's process tree, with the
// kernel's minimal environment (HOME=/, PATH=/sbin:/bin:/usr/sbin:/usr/bin)
// and three additions: a private directory first in PATH whose "keyctl"
// is keyctl-go (Options.Keyctl), which also stands in for any program
// named keyctl, such as /bin/keyctl; the way to the store (Options.Env,
// KEYCTL_GO_SOCKET for keyctl-go); and its authority (EnvAuthority),
// which keyctl-go assumes when it starts, as a process the kernel started
// for request-key inherits it.
//
// The configuration is read as request-key 1.6.3 reads it: the files of
// request-key.d ending in ".conf", then request-key.conf, in Options.ConfDir
// (/etc by default; keyctl-go takes $KEYCTL_GO_REQUEST_KEY_CONF). A line
// is "<op> <type> <description> <callout-info> <program> <args>...", each
// of the first four a pattern with at most one '*'; the best line is the
// one whose wildcards stand for the fewest bytes, column by column, the
// first read winning a tie. Arguments take %o %k %t %d %c %u %g %T %P %S,
// %% and %{type:description}. A program prefixed with '|' gets the
// callout information on stdin, and what it writes to stdout (at most
// MaxPipePayload bytes) becomes the payload if it exits 0; if it fails,
// the "negate" line runs instead.
//
// # Where this differs from request-key, on purpose
//
//   - The helper runs as the requester. The kernel runs /sbin/request-key
//     as root, and request-key runs the program as root too; here nobody
//     is asked to run anything as anyone else (see package keyring).
//   - The helper is bounded (Options.Timeout, DefaultTimeout): at the
//     timeout its whole process group is killed and the key negated.
//   - The files of request-key.d are read in name order; request-key
//     reads them in directory order.
//   - A pattern with text on both sides of its '*' matches what its
//     manual says: the text before at the start, the text after at the
//     end. request-key 1.6.3 compares the end with the pattern's start.
//   - request-key drops the last byte of a file that does not end in a
//     newline; this package does not.
//   - A program must be a full path, as the manual says; request-key
//     crashes on one without a '/'.
//
// # Caveats
//
//   - The requester's store must be reachable by the helper's keyctl-go:
//     keyctl-go serves an embedded store on a private socket while the
//     helper runs.
//   - request-key's -d, -D, -l, -n and -v debugging options have no
//     counterpart; Options.Logger receives what it would log.
package requestkey
