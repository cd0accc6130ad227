//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// testCommands are keyctl's built-in tests, `keyctl --test <name>`, which
// probe add_key's limits against the store as they probe the kernel's.
var testCommands []command

func init() {
	// Assigned here because the tests print this table's usage.
	testCommands = []command{
		{"limits", "", cmdTestLimits},
		{"limits2", "", cmdTestLimits2},
	}
}

// testUsage is the Format listing of --test: its own commands, then the
// same key-spec help as keyctl's.
func (a *app) testUsage() error {
	var b strings.Builder
	b.WriteString("Format:\n")
	for _, c := range testCommands {
		fmt.Fprintf(&b, "  keyctl --test %s %s\n", c.name, c.usage)
	}
	b.WriteString(usageTail)
	a.stdout.Flush()
	fmt.Fprint(a.stderr, b.String())
	return &exitError{code: 2}
}

// cmdTest is `--test <name>`: keyctl's tests of the limits of add_key.
// As keyctl's, they print their progress and exit 1 if anything answered
// otherwise than the kernel should.
func cmdTest(ctx context.Context, a *app, args []string) error {
	if len(args) < 1 {
		return a.testUsage()
	}
	for _, c := range testCommands {
		if c.name == args[0] {
			return c.run(ctx, a, args[1:])
		}
	}
	return &exitError{code: 2, msg: "Unknown test command"}
}

// limitsFailures is how many unexpected answers a test takes before it
// gives up, as keyctl's does.
const limitsFailures = 20

// limitsRun counts a test's unexpected answers, each reported on stderr
// on a line of its own, and stops the test once there are too many.
type limitsRun struct {
	a    *app
	fail int
}

func (r *limitsRun) failed(format string, args ...any) {
	fmt.Fprintln(r.a.stdout)
	r.a.stdout.Flush()
	fmt.Fprintf(r.a.stderr, format+"\n", args...)
	r.fail++
}

// enough ends the test after a step with too many failures.
func (r *limitsRun) enough() error {
	if r.fail > limitsFailures {
		return &exitError{code: 1, msg: "Aborting with too many failures"}
	}
	return nil
}

func (r *limitsRun) end() error {
	fmt.Fprintln(r.a.stdout)
	if r.fail > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// cmdTestLimits is `--test limits`: type names of 0 to 8191 bytes (only 1
// to 31 may name a type, and none of these exists: ENODEV; else EINVAL),
// and user-key descriptions of as many bytes (1 to 4095 are accepted),
// each added to the thread keyring and unlinked again.
func cmdTestLimits(ctx context.Context, a *app, args []string) error {
	if len(args) != 0 {
		return a.testUsage()
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	r := &limitsRun{a: a}
	buf := make([]byte, 8192)
	for i := range buf {
		if i%32 == 0 {
			if i != 0 {
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "TEST SIZE %d", i)
		}
		s := strings.Repeat("a", i)
		fmt.Fprint(a.stdout, ".")
		_, err := p.Add(ctx, s, "wibble", []byte("a"), keyring.ThreadKeyring)
		want := unix.EINVAL
		if i > 0 && i < 32 {
			want = unix.ENODEV
		}
		switch {
		case err == nil:
			r.failed("%d type unexpectedly succeeded", i)
		case !errors.Is(err, want):
			r.failed("%d type failed: %s", i, strerror(err))
		}
		fmt.Fprint(a.stdout, "_")
		key, err := p.Add(ctx, "user", s, []byte("a"), keyring.ThreadKeyring)
		tooLong := i == 0 || i >= 4096
		switch {
		case err != nil && tooLong && !errors.Is(err, unix.EINVAL):
			r.failed("%d desc failed: %s", i, strerror(err))
		case err != nil && !tooLong:
			r.failed("%d desc wrong error: %s", i, strerror(err))
		case err == nil:
			if tooLong {
				r.failed("%d desc unexpectedly succeeded", i)
			}
			if err := p.Unlink(ctx, key, keyring.ThreadKeyring); err != nil {
				r.failed("Unlink failed: %s", strerror(err))
			}
		}
		if err := r.enough(); err != nil {
			return err
		}
	}
	return r.end()
}

// cmdTestLimits2 is `--test limits2`: user-key payloads of 0 to 1054719
// bytes (1 to 32767 are accepted; EDQUOT is let pass, as adding keys fast
// may meet the quota), each added to the thread keyring and unlinked
// again.
func cmdTestLimits2(ctx context.Context, a *app, args []string) error {
	if len(args) != 0 {
		return a.testUsage()
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	r := &limitsRun{a: a}
	buf := []byte(strings.Repeat("a", 1030*1024))
	for i := range buf {
		if i%2048 == 0 {
			if i != 0 {
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "TEST SIZE %7d ", i)
		}
		if i%(2048/32) == 0 {
			fmt.Fprint(a.stdout, ".")
		}
		key, err := p.Add(ctx, "user", "a", buf[:i], keyring.ThreadKeyring)
		tooBig := i == 0 || i > keyring.MaxUserPayload
		switch {
		case err != nil && tooBig && !errors.Is(err, unix.EINVAL):
			r.failed("%d desc failed: %s", i, strerror(err))
		case err != nil && tooBig, errors.Is(err, unix.EDQUOT):
		case err != nil:
			r.failed("%d desc wrong error: %s", i, strerror(err))
		default:
			if tooBig {
				r.failed("%d desc unexpectedly succeeded", i)
			}
			if err := p.Unlink(ctx, key, keyring.ThreadKeyring); err != nil {
				r.failed("Unlink failed: %s", strerror(err))
			}
		}
		if err := r.enough(); err != nil {
			return err
		}
	}
	return r.end()
}
