// Package clib is the handful of C library functions whose quirks are part
// of keyutils' grammar, computed as glibc computes them in the C locale
// keyctl and request-key run in: strtoul and atoi read keyctl's numeric
// arguments, isspace splits request-key.conf and skips blanks in hex
// data, isprint decides how keyctl print shows a payload.
//
// It is pure text handling, with no dependency on the system, so that the
// commands and packages that read keyutils' text (keyspec, perms,
// requestkey, cmd/internal/cli) all agree with glibc and with each other.
// The tests compare every function with the C library itself where a C
// compiler is installed.
//
// # Caveats
//
// Go strings are not NUL-terminated: a NUL byte is an ordinary character
// here, where C would stop at it. Callers that take text from a C program
// must cut it at the NUL themselves.
package clib
