//go:build !linux

package linuxonly

// The compiler's complaint about this line is the message a build for
// another system stops with: keyctl-go needs Linux's system calls and
// its kernel's semantics (see the package doc).
var _ int = "keyctl-go is Linux-only"
