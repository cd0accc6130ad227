//go:build linux

package cli

import (
	"context"
	"fmt"
	"strings"
)

// command is one row of keyctl's command table: its name, the usage line
// the Format listing prints, and the function that parses its arguments
// and runs it. A row with no run only adds a usage line to the row above.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, a *app, args []string) error
}

// commands is keyctl 1.6.3's table, in its order, which is also the order of
// the Format listing, followed by keyctl-go's own commands (after
// lastKeyctlCommand), which the listing leaves out. Names match exactly;
// keyctl does no prefix matching.
var commands []command

func init() {
	// Assigned here rather than in the declaration because the handlers
	// print the Format listing, which reads this table.
	commands = []command{
		{"--version", "", cmdVersion},
		{"add", "[-x] <type> <desc> <data> <keyring>", cmdAdd},
		{"chgrp", "<key> <gid>", cmdChgrp},
		{"chown", "<key> <uid>", cmdChown},
		{"clear", "<keyring>", cmdClear},
		{"describe", "<keyring>", cmdDescribe},
		{"dh_compute", "<private> <prime> <base>", unsupported("keyctl_dh_compute", 3, 3)},
		{"dh_compute_kdf", "<private> <prime> <base> <len> <hash_name>", unsupported("keyctl_dh_compute_kdf", 5, 5)},
		{"dh_compute_kdf_oi", "[-x] <private> <prime> <base> <len> <hash_name>", unsupportedX("keyctl_dh_compute_kdf", 5, 5)},
		{"get_persistent", "<keyring> [<uid>]", cmdGetPersistent},
		{"id", "<key>", cmdID},
		{"instantiate", "[-x] <key> <data> <keyring>", cmdInstantiate},
		{"invalidate", "<key>", cmdInvalidate},
		{"link", "<key> <keyring>", cmdLink},
		{"list", "<keyring>", cmdList},
		{"move", "[-f] <key> <from_keyring> <to_keyring>", cmdMove},
		{"negate", "<key> <timeout> <keyring>", cmdNegate},
		{"new_session", "[<name>]", cmdNewSession},
		{"newring", "<name> <keyring>", cmdNewring},
		{"padd", "[-x] <type> <desc> <keyring>", cmdPadd},
		{"pinstantiate", "[-x] <key> <keyring>", cmdPinstantiate},
		{"pipe", "<key>", cmdPipe},
		{"pkey_query", "<key> <pass> [k=v]*", unsupported("keyctl_pkey_query", 2, -1)},
		{"pkey_encrypt", "<key> <pass> <datafile> [k=v]*", unsupported("keyctl_pkey_encrypt", 3, -1)},
		{"pkey_decrypt", "<key> <pass> <datafile> [k=v]*", unsupported("keyctl_pkey_decrypt", 3, -1)},
		{"pkey_sign", "<key> <pass> <datafile> [k=v]*", unsupported("keyctl_pkey_sign", 3, -1)},
		{"pkey_verify", "<key> <pass> <datafile> <sigfile> [k=v]*", unsupported("keyctl_pkey_verify", 4, -1)},
		{"prequest2", "<type> <desc> [<dest_keyring>]", cmdPrequest2},
		{"print", "<key>", cmdPrint},
		{"pupdate", "[-x] <key>", cmdPupdate},
		{"purge", "<type>", cmdPurge},
		{"purge", "[-p] [-i] <type> <desc>", nil},
		{"purge", "-s <type> <desc>", nil},
		{"rdescribe", "<keyring> [sep]", cmdRdescribe},
		{"read", "<key>", cmdRead},
		{"reap", "[-v]", cmdReap},
		{"reject", "<key> <timeout> <error> <keyring>", cmdReject},
		{"request", "<type> <desc> [<dest_keyring>]", cmdRequest},
		{"request2", "<type> <desc> <info> [<dest_keyring>]", cmdRequest2},
		{"restrict_keyring", "<keyring> [<type> [<restriction>]]", cmdRestrict},
		{"revoke", "<key>", cmdRevoke},
		{"rlist", "<keyring>", cmdRlist},
		{"search", "<keyring> <type> <desc> [<dest_keyring>]", cmdSearch},
		{"security", "<key>", cmdSecurity},
		{"session", "", cmdSession},
		{"session", "- [<prog> <arg1> <arg2> ...]", nil},
		{"session", "<name> [<prog> <arg1> <arg2> ...]", nil},
		{"setperm", "<key> <mask>", cmdSetperm},
		{"show", "[-x] [<keyring>]", cmdShow},
		{"supports", "[<cap> | --raw]", cmdSupports},
		{"timeout", "<key> <timeout>", cmdTimeout},
		{"unlink", "<key> [<keyring>]", cmdUnlink},
		{"update", "[-x] <key> <data>", cmdUpdate},
		{"watch", "[-f<filters>] <key>", cmdWatch},
		{"watch_add", "<fd> <key>", cmdWatchAdd},
		{"watch_rm", "<fd> <key>", cmdWatchRm},
		{"watch_session", "[-f<filters>] [-n <name>] <notifylog> <gclog> <fd> <prog> [<arg1> <arg2> ...]", cmdWatchSession},
		{"watch_sync", "<fd>", cmdWatchSync},
		{"--test", "...", cmdTest},
		{"krb5", "<import|export|list|switch|destroy|watch> ...", cmdKrb5},
		{"fsck", "[--repair] [--db PATH]", cmdFsck},
		{"completion", "<bash>", cmdCompletion},
	}
}

// lastKeyctlCommand is the last row of keyctl's own table. Rows after it
// are keyctl-go's own commands: they run, but the Format listing, which
// scripts may compare with keyctl's, stops here.
const lastKeyctlCommand = "--test"

// lookupCommand finds the row that runs name, or nil.
func lookupCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name && commands[i].run != nil {
			return &commands[i]
		}
	}
	return nil
}

// usageTail is what keyctl prints after the command list.
const usageTail = `
Key/keyring ID:
  <nnn>   numeric keyring ID
  @t      thread keyring
  @p      process keyring
  @s      session keyring
  @u      user keyring
  @us     user default session keyring
  @g      group keyring
  @a      assumed request_key authorisation key

<type> can be "user" for a user-defined keyring
If you do this, prefix the description with "<subtype>:"
`

// printUsage prints keyctl's Format listing to stderr, whatever command
// was misused: keyctl 1.6.3 always prints the whole table.
func (a *app) printUsage() {
	var b strings.Builder
	b.WriteString("Format:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  keyctl %s %s\n", c.name, c.usage)
		if c.name == lastKeyctlCommand {
			break // the rows after it are keyctl-go's own
		}
	}
	b.WriteString(usageTail)
	a.stdout.Flush()
	fmt.Fprint(a.stderr, b.String())
}

// leadingFlag takes an optional leading flag (such as "-x") off args. keyctl
// compares only the first argument, once, with the exact flag: "-xx", a
// second "-x", "--" or any other word starting with '-' is an ordinary
// argument, so data and descriptions that start with '-' pass through.
func leadingFlag(args []string, f string) (bool, []string) {
	if len(args) > 0 && args[0] == f {
		return true, args[1:]
	}
	return false, args
}

// nargs checks the count of positional arguments: at least min, at most max
// (max < 0: no limit).
func nargs(args []string, min, max int) error {
	if len(args) < min || (max >= 0 && len(args) > max) {
		return errUsage
	}
	return nil
}

// unsupported is a command that needs what keyctl-go does not offer (the
// kernel's Diffie-Hellman and public-key crypto): it checks its arguments
// like keyctl, then fails as the kernel does for an unknown operation.
func unsupported(name string, min, max int) func(context.Context, *app, []string) error {
	return func(_ context.Context, _ *app, args []string) error {
		if err := nargs(args, min, max); err != nil {
			return err
		}
		return &exitError{code: 1, msg: name + ": " + "Operation not supported"}
	}
}

// unsupportedX is unsupported for a command that takes -x.
func unsupportedX(name string, min, max int) func(context.Context, *app, []string) error {
	inner := unsupported(name, min, max)
	return func(ctx context.Context, a *app, args []string) error {
		_, rest := leadingFlag(args, "-x")
		return inner(ctx, a, rest)
	}
}
