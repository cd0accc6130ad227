// Package linuxonly stops a build of keyctl-go for any system but Linux,
// with one message that says so.
//
// keyctl-go is the Linux kernel's keys and notification queue in
// userspace, and leans on Linux throughout: its errnos and system calls
// (golang.org/x/sys/unix's Linux API), SO_PEERCRED and SCM_CREDENTIALS,
// the kernel's keyrings as the oracle of its tests. Every package but the
// few that are plain text handling (ccache, internal/clib,
// internal/keyspec, internal/childtest) builds on Linux only: each of its
// files says //go:build linux, and its doc_other.go, the one file it has
// on other systems, imports this package. On Linux this package is
// empty; elsewhere it does not compile, and `go build ./...`, `go vet` or
// `go get` on macOS or Windows reports that, once, instead of an
// undefined unix.EBADSLT in whichever package the compiler met first.
//
// TestEveryPackageSaysLinuxOnly keeps the rule: a new file without the
// constraint, or a new package without its doc_other.go, fails it.
package linuxonly
