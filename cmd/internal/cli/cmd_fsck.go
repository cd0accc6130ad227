//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// fsckUsage is printed for a misused fsck. It is keyctl-go's own command,
// so it has its own usage rather than keyctl's Format listing.
const fsckUsage = `Format:
  keyctl-go fsck [--repair] [--db PATH]

Reports the store's write-ahead log (its records, and where the first bad
one is) and checks the store, changing nothing: exit 0 when it is sound,
1 when it is damaged. --repair first prints what it drops, then keeps the
intact records before the damage and starts the log afresh.`

var errFsckUsage = &exitError{code: 2, msg: fsckUsage}

// fsckLockWait is how long fsck waits for another opener of the store: a
// command holds it for milliseconds, a daemon for good.
var fsckLockWait = time.Second

// cmdFsck is `fsck [--repair] [--db PATH]`: it judges the store's files
// through keystore.Inspect, which opens nothing for writing, and salvages
// a damaged log through keystore.Repair. It never goes through a daemon:
// a store that is open is reported in use.
func cmdFsck(ctx context.Context, a *app, args []string) error {
	repair := false
	for len(args) > 0 {
		switch {
		case args[0] == "--repair":
			repair, args = true, args[1:]
		case args[0] == "--db" && len(args) >= 2:
			a.dbPath, args = args[1], args[2:]
		default:
			return errFsckUsage
		}
	}
	path, err := a.dbFile()
	if err != nil {
		return fsckFail(err)
	}
	opts, r, err := a.inspect(path)
	if err != nil {
		return fsckFail(err)
	}
	a.printReport(r)
	switch d := r.Damage; {
	case needsPassphrase(r.Check) && (!repair || d == nil || !d.Corrupt):
		return &exitError{code: 1, msg: fmt.Sprintf("keyctl-go fsck: %s is protected by a passphrase, so it was not checked: %v", path, errNoPassphrase)}
	case !repair && r.Damaged():
		if d != nil && d.Corrupt {
			return &exitError{code: 1, msg: fmt.Sprintf("keyctl-go fsck: %s is damaged; keyctl-go fsck --repair keeps the %d records before byte %d and drops the rest", path, len(r.Records), d.Offset)}
		}
		return &exitError{code: 1, msg: fmt.Sprintf("keyctl-go fsck: %s fails its check", path)}
	case !repair:
		return nil
	case d == nil || !d.Corrupt:
		if r.Check != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("keyctl-go fsck: %s fails its check, which repairing its log cannot mend", path)}
		}
		fmt.Fprintln(a.stdout, "repair: nothing to repair")
		return nil
	}
	a.printDrops(r)
	a.stdout.Flush() // what is dropped is on the screen before it is
	if err := keystore.Repair(path, opts, r); err != nil {
		return fsckFail(err)
	}
	fmt.Fprintln(a.stdout, "repair: done; the store as it is now:")
	after, err := keystore.Inspect(path, opts)
	if err != nil {
		return fsckFail(err)
	}
	a.printReport(after)
	if after.Damaged() {
		return &exitError{code: 1, msg: fmt.Sprintf("keyctl-go fsck: %s is still damaged after the repair", path)}
	}
	return nil
}

// inspect runs keystore.Inspect, with the passphrase if the store's check
// needs one: from the usual sources, else asked for once.
func (a *app) inspect(path string) (keystore.Options, *keystore.Report, error) {
	opts := keystore.Options{LockTimeout: fsckLockWait}
	if a.passphraseSourceSet() {
		pass, err := a.getPassphrase(path, false)
		if err != nil {
			return opts, nil, err
		}
		opts.Passphrase = pass
	}
	r, err := keystore.Inspect(path, opts)
	if err != nil || opts.Passphrase != nil || !needsPassphrase(r.Check) {
		return opts, r, err
	}
	pass, perr := a.getPassphrase(path, false)
	if perr != nil {
		return opts, r, nil // the report says the check could not run, and why
	}
	opts.Passphrase = pass
	r, err = keystore.Inspect(path, opts)
	return opts, r, err
}

// printReport prints what Inspect found.
func (a *app) printReport(r *keystore.Report) {
	w := a.stdout
	fmt.Fprintf(w, "store %s\n", r.Store)
	switch {
	case r.LogSize == 0 && r.LogFormat == 0:
		fmt.Fprintf(w, "log %s: none\n", r.Log)
	case r.LogFormat == 0:
		fmt.Fprintf(w, "log %s: no header, %d bytes\n", r.Log, r.LogSize)
	default:
		fmt.Fprintf(w, "log %s: format %d, generation %d, %d bytes\n", r.Log, r.LogFormat, r.Generation, r.LogSize)
	}
	switch {
	case r.Checkpoint == 0 && r.Damage == nil:
		fmt.Fprintln(w, "log: nothing to recover")
	case len(r.Records) == 0:
		fmt.Fprintf(w, "log: checkpoint of transaction %d, no intact records\n", r.Checkpoint)
	default:
		first, last := r.Records[0], r.Records[len(r.Records)-1]
		fmt.Fprintf(w, "log: checkpoint of transaction %d, %d intact records, bytes %d to %d\n",
			r.Checkpoint, len(r.Records), first.Offset, last.Offset+int64(last.Size))
	}
	if d := r.Damage; d != nil {
		if d.Corrupt {
			fmt.Fprintf(w, "log: damaged at byte %d: %s\n", d.Offset, d.Problem)
			fmt.Fprintf(w, "log: %s, so this is damage, not a torn write\n", d.Proof)
		} else {
			fmt.Fprintf(w, "log: a torn write at byte %d (%s), never acknowledged: opening the store drops it\n", d.Offset, d.Problem)
		}
		if n := len(d.Dropped); n > 0 {
			acked := 0
			for _, rec := range d.Dropped {
				if rec.Synced {
					acked++
				}
			}
			first, last := d.Dropped[0], d.Dropped[n-1]
			fmt.Fprintf(w, "log: %d intact records after it, %d of them known acknowledged, records %d to %d, bytes %d to %d\n",
				n, acked, first.Seq, last.Seq, first.Offset, last.Offset+int64(last.Size))
		}
	}
	switch {
	case r.Check == nil && r.Damage != nil && r.Damage.Corrupt:
		fmt.Fprintln(w, "check: ok, as a repair would leave the store")
	case r.Check == nil:
		fmt.Fprintln(w, "check: ok")
	case needsPassphrase(r.Check):
		fmt.Fprintf(w, "check: not run: %v\n", errNoPassphrase)
	default:
		fmt.Fprintln(w, "check: FAILED")
		for _, line := range strings.Split(r.Check.Error(), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// printDrops says exactly what a repair drops: the log from the damage on,
// the damaged record and every intact one after it.
func (a *app) printDrops(r *keystore.Report) {
	w, d := a.stdout, r.Damage
	fmt.Fprintf(w, "repair: keeps the %d records before byte %d and drops the log from there:\n", len(r.Records), d.Offset)
	fmt.Fprintf(w, "repair: drop the damaged record at byte %d\n", d.Offset)
	for _, rec := range d.Dropped {
		acked := ""
		if rec.Synced {
			acked = ", acknowledged"
		}
		fmt.Fprintf(w, "repair: drop record %d at byte %d, %d bytes%s\n", rec.Seq, rec.Offset, rec.Size, acked)
	}
}

// fsckFail ends fsck with exit 1 and a message naming it; a store in use
// says by whom it may be.
func fsckFail(err error) error {
	if errors.Is(err, keystore.ErrLocked) {
		return &exitError{code: 1, msg: "keyctl-go fsck: " + err.Error() + ": stop its daemon, or whatever has it open, and run fsck again"}
	}
	return &exitError{code: 1, msg: "keyctl-go fsck: " + err.Error()}
}
