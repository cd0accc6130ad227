//go:build linux

package notify_test

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/notify"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// A watcher receives the records of a watched keyring: a link, a burst of
// updates that overflows its queue (so it gets a loss record), and the
// removal record when the keyring is destroyed. Lines are printed the way
// keyutils' `keyctl watch` prints them.
func Example() {
	policy := notify.NewPolicy(notify.PolicyOptions{}) // shared by a store's watch lists
	keyring := notify.NewWatchList(1234, policy)
	owner := perms.Cred{UID: 1000, GID: 1000}

	q := watchqueue.New(watchqueue.Options{})
	defer q.Close()
	if err := q.SetSize(32); err != nil {
		panic(err)
	}
	if err := keyring.Add(q, 1, owner); err != nil {
		panic(err)
	}

	post := func(sub watchqueue.KeySubtype, aux uint32) {
		rec := watchqueue.KeyNotification{Subtype: sub, KeyID: 1234, Aux: aux}.AppendBinary(nil, false)
		keyring.Post(rec, owner, 0)
	}
	post(watchqueue.KeyLinked, 5678)
	printRecords(q)

	for range 35 { // 32 fit, 3 are lost
		post(watchqueue.KeyUpdated, 0)
	}
	printRecords(q)

	keyring.Destroy(0)
	printRecords(q)
	fmt.Println("watches held by uid 1000:", policy.Watches(owner.UID))
	// Output:
	// 1234 link 5678
	// 32 × 1234 upd
	// -- LOSS --
	// 1234 gc
	// watches held by uid 1000: 0
}

// printRecords drains q, folding runs of updates into one line.
func printRecords(q *watchqueue.Queue) {
	buf := make([]byte, watchqueue.ReadBufferSize)
	updates := 0
	flush := func() {
		if updates > 0 {
			fmt.Printf("%d × 1234 upd\n", updates)
			updates = 0
		}
	}
	for {
		n, err := q.TryRead(buf)
		if errors.Is(err, unix.EAGAIN) {
			flush()
			return
		}
		for b := buf[:n]; len(b) > 0; {
			rec, size, _ := watchqueue.Decode(b, false)
			b = b[size:]
			switch r := rec.(type) {
			case watchqueue.KeyNotification:
				switch r.Subtype {
				case watchqueue.KeyUpdated:
					updates++
				case watchqueue.KeyLinked, watchqueue.KeyUnlinked:
					fmt.Println(r.KeyID, r.Subtype, r.Aux)
				default:
					fmt.Println(r.KeyID, r.Subtype)
				}
			case watchqueue.Removal:
				flush()
				fmt.Println(r.ID, "gc")
			case watchqueue.Loss:
				flush()
				fmt.Println("-- LOSS --")
			}
		}
	}
}
