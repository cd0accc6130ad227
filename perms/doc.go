//go:build linux

// Package perms is the kernel's key permission model as pure logic: who is
// asking (Cred), what a key allows (Mask), and whether a request is granted.
// It does no I/O and knows nothing of storage; the key store feeds it the
// facts (owner, group, mask, possession) and acts on its answers. Current,
// the one exception, asks the kernel who this process is.
//
// # Basics
//
// A Mask holds four Perm bytes, one per class of caller: possessor, user
// (the key's owner), group and other. Check picks exactly one of the user,
// group and other bytes for the caller, adds the possessor byte if the
// caller possesses the key, and grants a request only if every needed bit
// is there; a refusal unwraps to EACCES, as from the kernel. Granted returns
// the bits themselves.
//
// The package also speaks keyutils' text: ParseMask reads a mask as keyctl
// setperm takes it, Mask.Describe and EffectiveString format the columns of
// keyctl describe, show and list, and the Default masks are those the
// kernel gives the keys it creates.
//
// # Caveats
//
// Possession is not decided here: it depends on the key graph, which this
// package does not see. The caller must work it out as the kernel does,
// including that the key itself must grant Search (possessor byte counted)
// to be possessed; a key whose mask gives nobody Search is never possessed.
//
// Check is the whole permission check only for operations whose rule is
// "these bits on this key". Several operations add their own rules on top,
// which belong to the key store: reading a possessed key needs no Read,
// setperm also needs the caller to own the key or hold CAP_SYS_ADMIN,
// chown needs CAP_SYS_ADMIN to change the owner or to pick a group the
// caller is not in, and unlink needs nothing on the key at all.
//
// EffectiveString is keyutils' estimate, not the kernel's answer: it adds
// the possessor byte whether or not the key is possessed, and does not let
// an empty group byte fall through to the other byte. Use Granted or Check
// for decisions.
//
// ParseMask accepts any 32-bit value; masks are checked by Mask.Validate
// where they enter, as the kernel's setperm does, and Check ignores bits
// outside AllMask rather than failing.
package perms
